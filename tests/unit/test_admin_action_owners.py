"""Each admin action is written once (../shared/STYLE.md, "One owner per decision"), read
from the source itself:

- every audit record in services/ names its action with a constant of its own module
  (`RETRY_ALL = "failed.retry_all"`), never a literal or an f-string;
- each constant is recorded by exactly one function, and those functions live in
  `gateway/admin/` (the ops API, the dashboard and `relay` call them), except the one
  action a domain owns (running a tournaments periodic job now);
- no other code spells an audit name as a string;
- the names are today's: `GET /v1/ops/audit`, `relay audit --action` and the tests rely
  on them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {path.parent.name: path.parent for path in ROOT.glob("services/*/src/*/__init__.py")}
ADMIN_PACKAGE = "gateway.admin."
# Recorders that pass on an action they were given (the audit trail's own writers).
FORWARDERS = {"gateway.admin.actor.record", "gateway.cli.running.AuditWhenReachable.record"}
# The one admin action a domain owns: the gateway never imports a domain's jobs.
DOMAIN_ACTIONS = {"tournaments.api.routes.run_periodic_job"}
TODAYS_NAMES = {
    "failed.retry",
    "failed.retry_all",
    "failed.forget",
    "failed.flush",
    "queue.pause",
    "queue.continue",
    "queue.clear",
    "workers.terminate",
    "key.create",
    "key.revoke",
    "key.rotate",
    "tag.monitor",
    "tag.stop_monitoring",
    "dashboard.login",
    "dashboard.login_failed",
    "schedule.run",
    "{panel}.{verb}",  # a domain panel's button: campaigns.pause, campaigns.cancel...
}


@dataclass
class Findings:
    # audit name -> the functions that record it ("module.function")
    owners: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    problems: list[str] = field(default_factory=list)


def _modules(packages: dict[str, Path]) -> dict[str, ast.Module]:
    trees = {}
    for name, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder).with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            trees[".".join((name, *parts))] = ast.parse(path.read_text())
    return trees


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` assignments."""
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.isupper()
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found[node.targets[0].id] = node.value.value
    return found


def _audit_action(call: ast.Call) -> ast.expr | None:
    """The action argument of an audit record: `record(audit, actor, ACTION, target)` of
    gateway.admin.actor, or `<…audit…>.record(actor, ACTION, target, origin)` of AuditLog."""
    func = call.func
    if isinstance(func, ast.Name) and func.id == "record":
        index = 2
    elif (
        isinstance(func, ast.Attribute)
        and func.attr == "record"
        and "audit" in ast.unparse(func.value).lower()
    ):
        index = 1
    else:
        return None
    if len(call.args) > index:
        return call.args[index]
    return next((kw.value for kw in call.keywords if kw.arg == "action"), None)


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.AST, prefix: str) -> list[tuple[str, Function]]:
    """Every function with its qualified name (methods as `Class.method`)."""
    found: list[tuple[str, Function]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((f"{prefix}.{node.name}", node))
            found += _functions(node, f"{prefix}.{node.name}")
        elif isinstance(node, ast.ClassDef):
            found += _functions(node, f"{prefix}.{node.name}")
    return found


def audit_findings(packages: dict[str, Path]) -> Findings:
    findings = Findings()
    trees = _modules(packages)
    names: dict[str, str] = {}  # "module.CONSTANT" -> its audit name
    for module, tree in trees.items():
        constants = _constants(tree)
        for qualified, function in _functions(tree, module):
            parameters = {a.arg for a in function.args.args + function.args.kwonlyargs}
            calls = [node for node in _own_nodes(function) if isinstance(node, ast.Call)]
            for call in calls:
                action = _audit_action(call)
                if action is None:
                    continue
                if isinstance(action, ast.Call) and isinstance(action.func, ast.Attribute):
                    action = action.func.value  # PANEL_ACTION.format(panel=..., verb=...)
                if isinstance(action, ast.Name) and action.id in constants:
                    name = constants[action.id]
                    names[f"{module}.{action.id}"] = name
                    findings.owners[name].add(qualified)
                    if not (qualified.startswith(ADMIN_PACKAGE) or qualified in DOMAIN_ACTIONS):
                        findings.problems.append(
                            f"{qualified} records {name!r}: admin actions live in gateway/admin"
                        )
                elif (
                    isinstance(action, ast.Name)
                    and action.id in parameters
                    and qualified in FORWARDERS
                ):
                    continue
                else:
                    findings.problems.append(
                        f"{qualified} records the action {ast.unparse(action)}: name it with a "
                        "constant of its module, beside the one function that records it"
                    )
    for name, owners in findings.owners.items():
        if len(owners) != 1:
            findings.problems.append(f"{name!r} is recorded by {sorted(owners)}: one owner only")
    spelled = set(names.values())
    for module, tree in trees.items():
        defined = {id(node.value) for node in tree.body if isinstance(node, ast.Assign)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in spelled and id(node) not in defined:
                findings.problems.append(
                    f"{module}:{node.lineno} spells the audit name {node.value!r}: use its constant"
                )
    return findings


def _own_nodes(function: ast.AST) -> list[ast.AST]:
    """The nodes of `function`'s body, not those of the functions nested in it."""
    found: list[ast.AST] = []
    pending = list(ast.iter_child_nodes(function))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        found.append(node)
        pending += ast.iter_child_nodes(node)
    return found


def test_every_admin_action_has_one_owner_and_a_named_constant() -> None:
    findings = audit_findings(SERVICES)
    assert findings.problems == []
    assert set(findings.owners) == TODAYS_NAMES


def _write(tmp_path: Path, source: str) -> dict[str, Path]:
    folder = tmp_path / "gateway" / "admin"
    folder.mkdir(parents=True)
    (tmp_path / "gateway" / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "culprit.py").write_text(source)
    return {"gateway": tmp_path / "gateway"}


def test_a_literal_audit_name_is_reported(tmp_path: Path) -> None:
    packages = _write(
        tmp_path,
        "async def pause(runtime, actor, queue):\n"
        "    await record(runtime.audit, actor, 'queue.pause', queue)\n",
    )
    [problem] = audit_findings(packages).problems
    assert "'queue.pause'" in problem and "constant" in problem


def test_an_action_recorded_by_two_functions_is_reported(tmp_path: Path) -> None:
    packages = _write(
        tmp_path,
        "PAUSE = 'queue.pause'\n"
        "async def pause(runtime, actor, queue):\n"
        "    await record(runtime.audit, actor, PAUSE, queue)\n"
        "async def pause_again(runtime, actor, queue):\n"
        "    await runtime.audit.record(actor.id, PAUSE, queue, actor.origin)\n",
    )
    [problem] = audit_findings(packages).problems
    assert "one owner only" in problem


def test_an_audit_name_spelled_outside_its_constant_is_reported(tmp_path: Path) -> None:
    packages = _write(
        tmp_path,
        "CLEAR = 'queue.clear'\n"
        "async def clear(runtime, actor, queue):\n"
        "    await record(runtime.audit, actor, CLEAR, queue)\n"
        "LOOKUP = {'queue.clear': 'elsewhere'}\n",
    )
    [problem] = audit_findings(packages).problems
    assert "spells the audit name 'queue.clear'" in problem
