"""Every documented operation, fuzzed against its own OpenAPI schema (schemathesis).

The real gateway process serves /openapi.json; schemathesis generates valid and invalid
requests for every operation, once with a user key and once with an admin key, under a
fixed seed and a bounded number of examples. Nothing may answer 5xx, every answer's
status code, content type and body must be the ones the document declares, and a request
the document allows must not be refused (the signed webhooks excepted, see the config).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import ADMIN_KEY, USER_KEY, Stack

pytestmark = pytest.mark.e2e

SEED = 20261130
# `make test` runs a quick pass: 10 generated examples per operation. `make test-fuzz` (run
# by CI) adds the coverage phase (every boundary of every schema, ~2,300 cases per key) and
# 25 examples per operation.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
PHASES = os.environ.get("FUZZ_PHASES", "examples,fuzzing")
# Every error answer the gateway gives somewhere must be declared in the document.
DOCUMENTED_ERRORS = {"401", "403", "404", "408", "409", "413", "422", "429", "503"}
HERE = Path(__file__).parent
# The checks (no 5xx; status codes, content types, bodies and headers as documented; auth
# not ignored; schema-valid requests accepted), and the signed webhooks' exemption from the
# last one, with its reason.
CONFIG = HERE / "schemathesis.toml"
# Data for what the document names but JSON Schema cannot generate: `format: phone`,
# recipients as text/csv, images by their bytes.
HOOKS = HERE / "schemathesis_hooks.py"


def schemathesis_command(base_url: str, key: str, report: Path) -> list[str]:
    """The exact command CI runs (also printed in the test's output)."""
    return [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        PHASES,
        # One worker: hypothesis' lambda-source cache is not thread-safe (an "AST
        # constructor recursion depth mismatch" error with two), and CI has two cores.
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-shrink",
        # An open event stream never ends: its errors are tested elsewhere, not its answer.
        "--exclude-path",
        "/v1/notifications/stream",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]


def test_openapi_document_declares_every_error_answer(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    document = httpx.get(f"{stack.url}/openapi.json", timeout=10).json()
    declared = {
        status
        for path in document["paths"].values()
        for operation in path.values()
        for status in operation.get("responses", {})
    }
    assert declared >= DOCUMENTED_ERRORS, DOCUMENTED_ERRORS - declared
    validation = document["components"]["schemas"]["HTTPValidationError"]
    assert validation["properties"]["detail"]["type"] == "string"
    assert "errors" in validation["properties"]


@pytest.mark.timeout(900)
def test_every_operation_conforms_to_its_schema_with_a_user_and_an_admin_key(
    stack: Stack,
) -> None:
    stack.start(
        "gateway",
        # Generated bodies must not trip the per-user limits before the schema is covered.
        SMS_RATE_PER_MINUTE=100000,
        SMS_CAMPAIGNS_PER_HOUR=100000,
        API_RATE_PER_MINUTE=0,
        # ignored_auth sends unknown keys on purpose; slowing them is tested on its own.
        AUTH_FAILURES_PER_MINUTE=0,
    )
    stack.wait_ready()
    summaries = []
    for label, key in (("user", USER_KEY), ("admin", ADMIN_KEY)):
        report = stack.logs / f"schemathesis-{label}.xml"
        command = schemathesis_command(stack.url, key, report)
        started = time.monotonic()
        # Run in the test's artifacts folder: schemathesis keeps its cache in the cwd.
        run = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=800,
            cwd=stack.logs,
            env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        )
        seconds = time.monotonic() - started
        (stack.logs / f"schemathesis-{label}.txt").write_text(run.stdout + run.stderr)
        summary = "\n".join(
            line
            for line in run.stdout.splitlines()
            if re.search(r"Selected:|Tested:|generated|Seed:|^=+ .* in [0-9.]+s =+$", line)
        )
        summaries.append(
            f"{label} key ({seconds:.0f}s): SCHEMATHESIS_HOOKS={HOOKS} {' '.join(command)}\n"
            f"{summary}"
        )
        assert run.returncode == 0, f"{' '.join(command)}\n{run.stdout[-12000:]}"
    print("\n".join(summaries))
    (stack.logs / "schemathesis-summary.txt").write_text("\n\n".join(summaries))
