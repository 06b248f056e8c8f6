# Relay: `make install`, `make run`, `make test`, `make lint`, `make bench`.
SHELL := /bin/bash
# Resolved when the recipe runs, not when make parses: `install` may have just put uv on PATH.
UV ?= $$(command -v uv 2>/dev/null || { [ -x "$(HOME)/.local/bin/uv" ] && echo "$(HOME)/.local/bin/uv"; } || echo "python3 -m uv")
PY := .venv/bin/python
# Four pytest-xdist workers, a test file each at a time: every test has its own vhost,
# database and Redis prefix, and most of a test's time is spent waiting on its processes
# (two cores stay about two-thirds busy with four; three left a third of them idle).
TEST_WORKERS ?= 4
# The release (VERSION), stamped on the images the compose targets build.
export RELAY_VERSION ?= $(shell cat VERSION)

.PHONY: install run test lint format bench definitions unit integration e2e clean \
	local-images test-compose test-containers test-cluster test-fuzz test-upgrade report deploy

install: ## a uv-managed .venv with every dependency (idempotent)
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --quiet uv || curl -LsSf https://astral.sh/uv/install.sh | sh
	@$(UV) sync --all-groups --frozen --quiet --compile-bytecode || $(UV) sync --all-groups --quiet --compile-bytecode
	@# Bytecode for our own packages too (installed editable): where PYTHONDONTWRITEBYTECODE
	@# is set, as on CI, every process would otherwise compile ~1,100 modules as it starts.
	@$(PY) -m compileall -q -j 0 libs/common/src services tests >/dev/null

run: install ## every Procfile process against RABBITMQ_URL / DATABASE_URL / REDIS_URL
	$(PY) -c "from common.migrations import migrate; from common.settings import RuntimeSettings as S; migrate(S().database_url)"
	.venv/bin/honcho start -f Procfile

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

test: install lint ## lint, then every test against the real services
	@$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "no tests ran"; exit 1; fi; exit $$status

test-fuzz: install ## schemathesis at full depth: the coverage phase and 25 examples per operation
	FUZZ_EXAMPLES=25 FUZZ_PHASES=examples,coverage,fuzzing $(PY) -m pytest -q -p no:cacheprovider tests/e2e/test_gateway_fuzz.py $(PYTEST_ARGS)

unit: install
	$(PY) -m pytest -q tests/unit

integration: install
	$(PY) -m pytest -q tests/integration

e2e: install
	$(PY) -m pytest -q tests/e2e

local-images: ## relay-local/* stand-ins for the official images, from Debian packages
	bash infra/local-images/build.sh

test-compose: install ## the real docker-compose stack: built, scaled, crashed, restarted
	bash infra/test-compose.sh $(PYTEST_ARGS)

test-cluster: install ## the stack on a three-node RabbitMQ cluster: a node killed, a node cut off
	bash infra/test-cluster.sh $(PYTEST_ARGS)

test-upgrade: install ## the previous release beside this one: jobs pass both ways on one broker and database
	RELAY_TEST_UPGRADE=1 $(PY) -m pytest -q -p no:cacheprovider tests/upgrade $(PYTEST_ARGS)

test-containers: install ## the integration suite on services started by testcontainers
	bash infra/test-containers.sh $(PYTEST_ARGS)

deploy: ## restart every compose app container one at a time, each new one ready first
	bash infra/rolling-restart.sh $(DEPLOY_ARGS)

bench: install ## throughput and latency figures (prints tables)
	$(PY) -m bench

# FROM=<dir>: draw from the results saved there, run nothing. REPORT_ARGS: e.g. --quick,
# --only contenders,soak (the other figures then come from bench/results as saved).
report: install ## docs/report.md and docs/figures/report-*.png from fresh runs (FROM=bench/results: from saved results)
	$(PY) -m bench.report $(if $(FROM),--from-saved $(FROM)) $(REPORT_ARGS)

definitions: install ## regenerate infra/rabbitmq/definitions.json and docs/queues.md from the topology data
	$(PY) -m common.topology > infra/rabbitmq/definitions.json
	$(PY) -m common.glossary > docs/queues.md

format: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache tests/artifacts
