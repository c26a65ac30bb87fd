# `make test` alone works on a fresh clone: it installs into .venv first when .venv is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install test smoke clean

$(BIN)/restore-train:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'

install: $(BIN)/restore-train

test: install
	$(BIN)/python -m pytest -q

smoke: install
	$(BIN)/restore-train experiment=smoke

clean:
	rm -rf runs .pytest_cache
