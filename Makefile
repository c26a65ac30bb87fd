# `make test` alone works on a fresh clone: it installs into .venv first when .venv is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install test test-fast lint demo smoke clean

$(BIN)/restore-image:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev,demo,onnx,ray]'

install: $(BIN)/restore-image

demo: install
	$(BIN)/python scripts/demo.py --out demo

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

smoke: install
	$(BIN)/restore-train experiment=smoke

clean:
	rm -rf runs demo .pytest_cache
