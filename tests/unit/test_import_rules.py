"""The layout's import rules (../shared/ARCHITECTURE.md), read from the source itself.

- libs/common imports no domain, not the gateway and not the bridge: it is the runtime.
- A domain imports libs/common, itself, and of another domain only its `contracts` module;
  never an edge (the gateway, the bridge).
- The gateway imports a domain's `api` package (its router) and nothing deeper.
- The bridge (the Laravel edge) imports a domain's `laravel` module (its Laravel adapters)
  and nothing deeper; the two edges never import each other.
Every import counts, also those inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = ("sms", "payments", "tournaments", "notifications")
PACKAGES = {
    "common": ROOT / "libs" / "common" / "src" / "common",
    "gateway": ROOT / "services" / "gateway" / "src" / "gateway",
    "bridge": ROOT / "services" / "bridge" / "src" / "bridge",
    **{name: ROOT / "services" / name / "src" / name for name in DOMAINS},
}
EDGES = ("gateway", "bridge")
DOMAIN_WORDS = re.compile(r"sms|payment|tournament|notification|campaign", re.IGNORECASE)


def imported_modules(source: str, module: str, is_package: bool) -> Iterator[str]:
    """Every module `source` imports, absolute, including relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            # `from pkg import name` imports the submodule `pkg.name` when there is one.
            yield from (
                f"{target}.{alias.name}"
                for alias in node.names
                if is_module(f"{target}.{alias.name}")
            )


def is_module(name: str) -> bool:
    top, *rest = name.split(".")
    if top not in PACKAGES:
        return False
    path = PACKAGES[top].joinpath(*rest)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def rule_broken(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None when it may."""
    owner, target = importer.split(".")[0], imported.split(".")[0]
    if target not in PACKAGES or target == owner or (owner != "common" and target == "common"):
        return None
    parts = imported.split(".")
    if owner == "common":
        return "libs/common is the runtime: it imports no domain, not the gateway, not the bridge"
    if owner in DOMAINS:
        if target in EDGES:
            return f"a domain never imports the {target} (the edges import the domains)"
        if parts[1:] != ["contracts"]:
            return f"a domain imports only `{target}.contracts` of another domain"
        return None
    if owner in EDGES and target in EDGES:
        return "the gateway and the bridge are two edges: neither imports the other"
    if owner == "gateway" and target in DOMAINS and parts[1:] != ["api"]:
        return f"the gateway imports `{target}.api` (the router) and nothing deeper"
    if owner == "bridge" and target in DOMAINS and parts[1:] != ["laravel"]:
        return f"the bridge imports `{target}.laravel` (its Laravel adapters) and nothing deeper"
    return None


def violations(packages: dict[str, Path]) -> list[str]:
    found = []
    for name, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder).with_suffix("")
            is_package = relative.name == "__init__"
            parts = relative.parts[:-1] if is_package else relative.parts
            module = ".".join((name, *parts))
            for imported in set(imported_modules(path.read_text(), module, is_package)):
                reason = rule_broken(module, imported)
                if reason:
                    found.append(f"{module} imports {imported}: {reason}")
    return found


def test_every_package_keeps_the_import_rules() -> None:
    assert violations(PACKAGES) == []


@pytest.mark.parametrize(
    ("importer", "line", "expected"),
    [
        ("common", "from sms.contracts import SendSms", "runtime"),
        ("tournaments", "from notifications.store import save", "only `notifications.contracts`"),
        ("tournaments", "from gateway.app import create_app", "never imports the gateway"),
        ("gateway", "from sms.api.store import get_sms", "nothing deeper"),
        ("gateway", "import payments.jobs", "nothing deeper"),
        ("common", "from bridge.wire import parse_message", "runtime"),
        ("sms", "from bridge.wire import parse_message", "never imports the bridge"),
        ("bridge", "from sms.api.service import queue_sms", "nothing deeper"),
        ("bridge", "from gateway.app import create_app", "two edges"),
        ("gateway", "from bridge.settings import BridgeSettings", "two edges"),
    ],
)
def test_a_broken_rule_is_reported(tmp_path: Path, importer: str, line: str, expected: str) -> None:
    folder = tmp_path / importer
    folder.mkdir()
    (folder / "culprit.py").write_text(line + "\n")
    found = violations({importer: folder})
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("importer", "line"),
    [
        ("tournaments", "from notifications.contracts import CreateNotification"),
        ("gateway", "from sms.api import api"),
        ("sms", "from .contracts import SendSms"),
        ("sms", "from common.web import CurrentUser"),
        ("bridge", "from sms.laravel import ADAPTERS"),
        ("bridge", "from common.laravel import LaravelCall"),
        ("sms", "from .api.service import queue_sms"),
    ],
)
def test_allowed_imports_pass(tmp_path: Path, importer: str, line: str) -> None:
    folder = tmp_path / importer
    folder.mkdir()
    (folder / "fine.py").write_text(line + "\n")
    assert violations({importer: folder}) == []


def test_libs_common_names_no_domain() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "libs/common/src"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    files = tracked or [str(p.relative_to(ROOT)) for p in PACKAGES["common"].rglob("*")]
    named = [
        name
        for name in files
        if (ROOT / name).is_file()
        and DOMAIN_WORDS.search((ROOT / name).read_text(errors="replace") + name)
    ]
    assert named == [], "libs/common must not name a domain (comments included)"


def test_libs_common_has_no_import_cycle() -> None:
    folder = PACKAGES["common"]
    graph: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        relative = path.relative_to(folder).with_suffix("")
        is_package = relative.name == "__init__"
        parts = relative.parts[:-1] if is_package else relative.parts
        module = ".".join(("common", *parts))
        graph[module] = {
            m for m in imported_modules(path.read_text(), module, is_package) if is_module(m)
        } - {module, "common"}
    done: set[str] = set()

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            found = cycle_from(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    cycles = [c for m in sorted(graph) if (c := cycle_from(m, []))]
    assert cycles == [], f"import cycle in libs/common: {' -> '.join(cycles[0])}"


def long_modules(folders: Iterator[Path], limit: int = 300) -> dict[str, int]:
    """Source modules over `limit` lines (migration scripts excepted)."""
    return {
        path.as_posix(): n
        for folder in folders
        for path in folder.rglob("*.py")
        if "versions" not in path.parts and (n := len(path.read_text().splitlines())) > limit
    }


def test_no_source_module_is_long() -> None:
    """libs/ and services/ (bench and tests excepted): a module of one job fits in 300 lines."""
    folders = iter([ROOT / "libs", ROOT / "services"])
    assert long_modules(folders) == {}, "split these into modules of one job each"


def test_a_long_module_is_reported(tmp_path: Path) -> None:
    (tmp_path / "long.py").write_text("x = 1\n" * 301)
    (tmp_path / "fine.py").write_text("x = 1\n" * 300)
    assert list(long_modules(iter([tmp_path]))) == [(tmp_path / "long.py").as_posix()]


RUNTIME_DECIDES = PACKAGES["common"] / "consumer"
DEAD_LETTERS = PACKAGES["common"] / "dead_letters"


def _sources() -> Iterator[Path]:
    for folder in (ROOT / "libs", ROOT / "services"):
        yield from (p for p in folder.rglob("*.py") if "versions" not in p.parts)


def decisions_outside_the_runtime(paths: Iterator[Path]) -> list[str]:
    """Where code that is not the runtime's consumer compares attempts with a maximum,
    computes a retry delay, or writes the failed-job store."""
    found = []
    for path in paths:
        source = path.read_text()
        in_consumer = path.is_relative_to(RUNTIME_DECIDES)
        in_dead_letters = path.is_relative_to(DEAD_LETTERS)
        for node in ast.walk(ast.parse(source)):
            names = {
                n.attr if isinstance(n, ast.Attribute) else n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Attribute | ast.Name)
            }
            if isinstance(node, ast.Compare) and not in_consumer and "max_attempts" in names:
                found.append(f"{path}:{node.lineno}: compares with max_attempts")
            if isinstance(node, ast.Call) and not in_consumer:
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in ("retry_delay", "delay_after", "retry_tier", "wait_tier"):
                    found.append(f"{path}:{node.lineno}: computes a retry delay ({called})")
                if (
                    called == "add"
                    and isinstance(func, ast.Attribute)
                    and "failed_jobs" in ast.unparse(func.value)
                    and not in_dead_letters
                ):
                    found.append(f"{path}:{node.lineno}: writes the failed-job store")
        if "INSERT INTO runtime.failed_jobs" in source and not in_dead_letters:
            found.append(f"{path}: writes the failed-job store in SQL")
    return found


def test_only_the_runtime_decides_retry_delay_and_burial() -> None:
    assert decisions_outside_the_runtime(_sources()) == []


@pytest.mark.parametrize(
    "line",
    [
        "if ctx.attempt >= ctx.max_attempts: pass",
        "delay = policy.delay_after(ctx.attempt)",
        "await ctx.runtime.failed_jobs.add(queue='q')",
    ],
)
def test_a_decision_taken_in_a_handler_is_reported(tmp_path: Path, line: str) -> None:
    handler = tmp_path / "jobs.py"
    handler.write_text(line + "\n")
    assert len(decisions_outside_the_runtime(iter([handler]))) == 1
