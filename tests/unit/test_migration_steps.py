"""Every migration says which deploy step it is (docs/upgrading.md): expand, or contract."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEP = re.compile(r"^Deploy step: (expand|contract)\b", re.M)


def migrations() -> list[Path]:
    return sorted(
        path
        for folder in (ROOT / "libs", ROOT / "services")
        for path in folder.rglob("*.py")
        if path.parent.name == "versions" and "migrations" in path.parts
    )


def test_every_migration_names_its_deploy_step() -> None:
    found = migrations()
    assert len(found) >= 15
    unnamed = [
        str(path.relative_to(ROOT))
        for path in found
        if not STEP.search(ast.get_docstring(ast.parse(path.read_text())) or "")
    ]
    assert unnamed == [], "add `Deploy step: expand` (or `contract`) to the docstring"
