# Two commands on a fresh machine with only Python 3.11, pip and make:
#   make demo   runs the questionnaire in the terminal on the embedded default flow (no Telegram)
#   make test   runs every check: lint, types, tests
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint types pytest flows-check lock clean audit

$(STAMP): requirements-dev.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/reportbot demo $(ARGS)

test: lint types flows-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

flows-check: $(STAMP)
	$(BIN)/reportbot flows check flows/

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# Regenerate the hash-pinned lock files after editing requirements*.in (needs pip-tools).
lock:
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o requirements.lock requirements.in
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o requirements-dev.lock requirements-dev.in

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
