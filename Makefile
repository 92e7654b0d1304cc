# chachaml developer commands. `make demo` and `make test` are the two README commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.chachaml-installed

.PHONY: demo test check lint types unit bench bench-peers clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## Track the demo workload into ./chachaml.db, show what was tracked, then serve the web UI on
## http://127.0.0.1:8080 (Ctrl-C stops it). `make demo SERVE=0` (or CHACHAML_DEMO_SERVE=0) only
## tracks; `make demo PORT=8081` serves on another port.
SERVE ?= $(if $(CHACHAML_DEMO_SERVE),$(CHACHAML_DEMO_SERVE),1)
PORT ?= 8080
demo: $(STAMP)
	$(BIN)/chachaml demo
	@if [ "$(SERVE)" != "0" ]; then $(BIN)/chachaml ui --store chachaml.db --port $(PORT); fi

## Lint, type-check and run the whole test suite with coverage.
test: $(STAMP) lint types unit

check: test

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples scripts
	$(BIN)/ruff format --check src tests bench examples scripts
	$(BIN)/lint-imports --no-cache

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider --cov=chachaml --cov-report=term --cov-fail-under=90 $(PYTEST_ARGS)

## Benchmarks of chachaml alone; writes docs/benchmarks.md and bench/results/.
bench: $(STAMP)
	$(BIN)/python bench/run.py

## Benchmarks side by side with MLflow, trackio and raw sqlite3 (creates peer venvs).
bench-peers: $(STAMP)
	$(BIN)/python bench/run.py --peers

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage* htmlcov build dist
