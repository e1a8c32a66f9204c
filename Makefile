# Two entry points a newcomer needs (see README): `make demo` and `make test`.
# Both create ./.venv with the machine's python3 on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: lock demo test lint unit test-faults test-faults-full test-hostile bench bench-quick bench-peer clean

# Installs the exact versions in constraints.txt, so an upstream release cannot change
# what CI runs (warnings are errors in the tests) without a change here.
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Re-resolves the dependencies from pyproject.toml in a scratch venv and pins them.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[test]'
	{ sed -n '1,2p' constraints.txt; .lock-venv/bin/python -m pip freeze --exclude-editable \
	  | grep -v '^intmon'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .lock-venv

demo: $(BIN)/.installed
	$(BIN)/intmon demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

unit: $(BIN)/.installed
	$(BIN)/python -m pytest

test: lint unit

# The fault suite (tests/faults): kill -9 and restarts on real processes. Its quick
# mode is part of `unit`; the full mode runs more rounds.
test-faults: $(BIN)/.installed
	$(BIN)/python -m pytest tests/faults

test-faults-full: $(BIN)/.installed
	INTMON_FAULTS_FULL=1 $(BIN)/python -m pytest tests/faults

# Hostile partners, hostile input and the secret scan (tests/hostile); also part of `unit`.
test-hostile: $(BIN)/.installed
	$(BIN)/python -m pytest tests/hostile

bench: $(BIN)/.installed
	$(BIN)/python bench/checks.py
	$(BIN)/python bench/checks.py --embedded
	$(BIN)/python bench/incidents.py
	$(BIN)/python bench/notifications.py
	$(BIN)/python bench/tickets_api.py
	$(BIN)/python bench/leads.py
	$(BIN)/python bench/redaction.py
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/history.py
	$(BIN)/python bench/board.py
	$(BIN)/python bench/pings.py
	$(BIN)/python bench/postbacks.py
	# Last: it needs Debian's prometheus-blackbox-exporter, wrk and nginx-light, and
	# names whichever is missing.
	$(BIN)/python bench/peer.py

bench-quick: $(BIN)/.installed
	$(BIN)/python bench/checks.py --quick
	$(BIN)/python bench/checks.py --embedded --quick
	$(BIN)/python bench/incidents.py --quick
	$(BIN)/python bench/notifications.py --quick
	$(BIN)/python bench/tickets_api.py --quick
	$(BIN)/python bench/leads.py --quick
	$(BIN)/python bench/redaction.py --quick
	# The command line's CPU budget: fails past twice it (issue 26).
	$(BIN)/python bench/cli.py --quick --check
	$(BIN)/python bench/retention.py --quick
	$(BIN)/python bench/history.py --quick
	$(BIN)/python bench/board.py --quick
	$(BIN)/python bench/pings.py --quick
	$(BIN)/python bench/postbacks.py --quick
	$(BIN)/python bench/peer.py --quick

bench-peer: $(BIN)/.installed
	$(BIN)/python bench/peer.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache core.db* .intmon
