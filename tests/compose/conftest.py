"""The compose suite: one real stack for the session (`make test-compose` runs it).

Collected only when RELAY_TEST_COMPOSE=1 (what `make test-compose` sets): `make test`
keeps to the process-based suites. The stack is built and started once, the tests run in
file order against it (some scale, crash or restart its services), and it is removed with
its volumes at the end, whatever happened; when anything failed, every container's log is
saved under tests/artifacts/ first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.compose import ComposeStack

ENABLED = os.environ.get("RELAY_TEST_COMPOSE") == "1"
collect_ignore_glob = [] if ENABLED else ["test_*.py"]

_failures: list[str] = []
_stacks: list[ComposeStack] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _failures.append(item.name)
        if _stacks:  # the logs of the moment, before later tests change the stack
            print(f"\ncompose logs saved in {_stacks[0].save_logs(item.name[:60])}")


@pytest.fixture(scope="session")
def compose() -> Iterator[ComposeStack]:
    stack = ComposeStack()
    _stacks.append(stack)
    try:
        try:
            stack.up()
        except Exception:
            _failures.append("compose up")
            raise
        yield stack
    finally:
        if _failures:
            folder = stack.save_logs("failed")
            print(f"\ncompose logs saved in {folder}")
        stack.down(volumes=True)
