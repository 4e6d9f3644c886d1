# Two entry points for a fresh machine with Python 3.11 and Java 17: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON ?= $(abspath $(BIN)/python)

.PHONY: demo test test-fast lint install clean dev-up dev-down

$(STAMP): pyproject.toml rules/sigma-plugin/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]' ./rules/sigma-plugin
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/socpipe demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m 'not slow'

lint: $(STAMP)
	$(BIN)/ruff check .

dev-up: $(STAMP)
	$(BIN)/socpipe dev up

dev-down: $(STAMP)
	$(BIN)/socpipe dev down

clean:
	rm -rf $(VENV) demo-out .socpipe .pytest_cache
