"""The cluster suite (`make test-cluster`): one compose project for the session, first on
one RabbitMQ node, then moved onto the three-node `cluster` profile.

Collected only when RELAY_TEST_CLUSTER=1 (what `make test-cluster` sets). Files run in
order: the single-node figure first, then the cluster is formed and broken in turns.
Whatever happens, the project is removed with its volumes at the end; when anything
failed, every container's log is saved under tests/artifacts/ first. The figures the tests
measured are printed at the end and kept in tests/artifacts/cluster-figures.json; the
campaign throughput on one node and on three is also saved in the benchmarks' results
format (bench/results.py) as `cluster.json`, under $BENCH_RESULTS_DIR when set (what
`python -m bench.report` does), else under tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.results import Recording
from tests.cluster.flows import FIGURES
from tests.support.cluster import ClusterStack, artifacts_file

ENABLED = os.environ.get("RELAY_TEST_CLUSTER") == "1"
collect_ignore_glob = [] if ENABLED else ["test_*.py"]

_failures: list[str] = []
_stacks: list[ClusterStack] = []
# Started with the session: the throughput figures are saved with its date and command.
_recording = Recording(
    os.environ.get("BENCH_COMMAND") or "python -m pytest " + shlex.join(sys.argv[1:])
)
THROUGHPUT = ("campaign_10k_seconds", "campaign_msgs_per_s", "campaign_steady_msgs_per_s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _failures.append(item.name)
        if _stacks:
            print(f"\ncluster logs saved in {_stacks[0].save_logs(item.name[:60])}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("cluster figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")
    artifacts_file("cluster-figures.json").write_text(json.dumps(FIGURES, indent=2) + "\n")
    save_throughput()


def save_throughput() -> None:
    """One node against three, when both were measured in this session."""
    nodes = {"one_node": "1_node", "three_nodes": "3_nodes"}
    if not all(f"{name}_{suffix}" in FIGURES for name in THROUGHPUT for suffix in nodes.values()):
        return
    data = {
        label: {name: FIGURES[f"{name}_{suffix}"] for name in THROUGHPUT}
        for label, suffix in nodes.items()
    }
    parameters = {
        "campaign": 10_000,
        "warm_up": 2_000,
        "rabbitmq_image": os.environ.get("RABBITMQ_IMAGE") or "the compose file's default",
    }
    directory = os.environ.get("BENCH_RESULTS_DIR")
    folder = Path(directory) if directory else artifacts_file("cluster.json").parent
    _recording.save("cluster", parameters, data, directory=folder)


@pytest.fixture(scope="session")
def stack() -> Iterator[ClusterStack]:
    stack = ClusterStack()
    _stacks.append(stack)
    try:
        yield stack
    finally:
        if _failures:
            print(f"\ncluster logs saved in {stack.save_logs('failed')}")
        stack.down(volumes=True)


@pytest.fixture(scope="session")
def single_node(stack: ClusterStack) -> ClusterStack:
    """The project on one broker, as `docker compose up` runs it."""
    assert not stack.clustered, "the single-node tests run before the cluster ones"
    try:
        stack.up_single()
    except Exception:
        _failures.append("compose up (single node)")
        raise
    return stack


@pytest.fixture(scope="session")
def cluster(stack: ClusterStack) -> ClusterStack:
    """The project on the three-node cluster (the `cluster` profile)."""
    try:
        stack.up_cluster()
    except Exception:
        _failures.append("compose up (cluster)")
        raise
    return stack


@pytest.fixture
def whole_cluster(cluster: ClusterStack) -> Iterator[ClusterStack]:
    """The cluster, with every node it lost during the test running and connected again."""
    yield cluster
    for service in sorted(cluster.unreachable):
        if not cluster.is_connected(service):
            cluster.heal(service)
        if cluster.inspect(cluster.container(service), "{{.State.Running}}") != "true":
            cluster.start(service)
        cluster.unreachable.discard(service)
