# `make test` is the one command CI runs: it builds .venv, installs voicewire with its test
# extras, then runs lint, types and the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test check lint types unit bench clean

test: $(STAMP) lint types
	$(BIN)/pytest -q

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

# Quick loop: tests only, stop at the first failure.
unit: $(STAMP)
	$(BIN)/pytest -q -x

bench: $(STAMP)
	$(BIN)/python benchmarks/codec.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
