# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint format bench venv clean crds chart

# (Re)create the virtualenv and install the project whenever its declared dependencies change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ml,serve,k8s]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)  ## the local platform: a paper-trading worker on replayed BTC/USDT, live view (Ctrl-C stops)
	$(BIN)/axis up

demo: $(STAMP)  ## backtest the built-in futures strategy on bundled BTC/USDT data
	$(BIN)/axis run

test: $(STAMP)  ## lint, type-check and run the whole test suite
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check services operator ml tests bench
	$(BIN)/ruff format --check services operator ml tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format services operator ml tests bench
	$(BIN)/ruff check --fix services operator ml tests bench

bench: $(STAMP)  ## backtest vs vectorbt/backtesting.py; ML env and serving; API load; gateway overhead; worker latency
	$(BIN)/python bench/backtest_bench.py
	$(BIN)/python bench/ml_bench.py
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/gateway_bench.py
	$(BIN)/python bench/runtime_bench.py

crds: $(STAMP)  ## regenerate the CRDs from the spec models (crds/ and the chart's copy)
	$(BIN)/axis crds --out crds
	$(BIN)/axis crds --out charts/axis/crds

chart: $(STAMP)  ## lint and render the Helm chart for every profile, validating every object
	$(BIN)/python -m pytest tests/chart -q

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
	find services operator ml -name __pycache__ -type d -prune -exec rm -rf {} +  # numba caches too
