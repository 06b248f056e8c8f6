"""Write bytecode for what Relay's processes import, not for every module of every dependency.

Run as root at image build time: importing a module writes its __pycache__ file, which the
non-root runtime user could not write later. Compiling the whole venv instead adds 50 MB of
bytecode for modules no process loads (most of SQLAlchemy's dialects, pygments' lexers). A
module left out here is compiled in memory when first imported, as in any venv.

    python warm_bytecode.py Procfile
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

# Loaded at run time rather than at import: the server, migrations, exporters, Sentry.
RUNTIME_MODULES = [
    "gateway.cli",
    "uvicorn.main",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.websockets_impl",
    "uvicorn.lifespan.on",
    "alembic.command",
    "alembic.runtime.migration",
    "alembic.operations.ops",
    "sqlalchemy.dialects.postgresql.psycopg",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "sentry_sdk",
    "sentry_sdk.integrations.starlette",
    "sentry_sdk.integrations.fastapi",
]


def procfile_modules(procfile: Path) -> list[str]:
    """`python -m <module>` of every Procfile line, imported as `<module>.__main__` when it
    is a package (its `if __name__ == "__main__"` guard keeps it from running)."""
    modules = re.findall(r"python -m ([\w.]+)", procfile.read_text())
    return [m if "." in m else f"{m}.__main__" for m in modules]


def main() -> None:
    for name in procfile_modules(Path(sys.argv[1])) + RUNTIME_MODULES:
        importlib.import_module(name)


if __name__ == "__main__":
    main()
