# Two commands on a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test install install-test lint catalog bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## Install and run the gateway with its embedded defaults (SQLite under ./data).
run: install
	$(BIN)/omnigate serve

## Install everything and run the whole test suite (lint included).
test: install-test
	$(BIN)/ruff check src tests scripts
	$(BIN)/pytest

lint: install-test
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

## Regenerate the committed catalogue from ../shared/reference.
catalog: install
	$(BIN)/python scripts/build_catalog.py

clean:
	rm -rf $(VENV) build *.egg-info
