# Two entry points a newcomer needs (see README): `make demo` and `make test`.
# Both create ./.venv with the machine's python3 on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint unit bench bench-quick bench-peer clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/intmon demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/python -m pytest

test: lint unit

bench: $(BIN)/.installed
	$(BIN)/python bench/checks.py
	$(BIN)/python bench/incidents.py
	$(BIN)/python bench/notifications.py

bench-quick: $(BIN)/.installed
	$(BIN)/python bench/checks.py --quick
	$(BIN)/python bench/incidents.py --quick
	$(BIN)/python bench/notifications.py --quick

bench-peer: $(BIN)/.installed
	$(BIN)/python bench/peer.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache intmon.db* .intmon
