# `make test` alone works on a fresh clone: it installs into .venv first when .venv is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install test test-fast lint docs demo smoke photo-fast gpu-pack gpu-train clean

# TORCH_INDEX=https://download.pytorch.org/whl/cpu: PyTorch without the GPU libraries (README).
TORCH_INDEX ?=

# Installs again whenever pyproject.toml changes (new dependencies, new extras).
$(BIN)/restore-image: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
		-e '.[dev,demo,onnx,openvino,ray,ui,bench]'
	touch $@

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

docs: install  # HTML API reference from the docstrings into docs/api (any warning fails)
	$(BIN)/python -W error -m pdoc -d google -o docs/api restore

smoke: install
	$(BIN)/restore-train experiment=smoke

# photo-fast again from the shipped photo model (after photo changes): the distillation in three
# steps (to 32/64/96 channels, to 24/64/96, then to photo_fast.yaml's 24/56/88), the heads on its
# features, their calibration, and the float16 file in the package. About 4 hours on 2 CPU cores;
# run folders under $(FAST_RUNS) (MODEL_CARD.md, "photo-fast").
FAST_RUNS ?= runs/photo-fast
# the heads' network: conf/experiment/photo_fast.yaml's widths
FAST_WIDTHS = [24,56,88]
photo-fast: install
	$(BIN)/restore-train experiment=photo_fast 'model.net.widths=[32,64,96]' \
		hydra.run.dir=$(FAST_RUNS)/distil-32
	$(BIN)/restore-train experiment=photo_fast 'model.net.widths=[24,64,96]' \
		init_weights=$(FAST_RUNS)/distil-32 hydra.run.dir=$(FAST_RUNS)/distil-24
	$(BIN)/restore-train experiment=photo_fast init_weights=$(FAST_RUNS)/distil-24 \
		hydra.run.dir=$(FAST_RUNS)/distil
	$(BIN)/restore-train experiment=photo_heads 'model.net.widths=$(FAST_WIDTHS)' \
		init_weights=$(FAST_RUNS)/distil hydra.run.dir=$(FAST_RUNS)/heads
	$(BIN)/restore-calibrate $(FAST_RUNS)/heads $(FAST_RUNS)/calibrated.pt --config experiment=photo_heads
	$(BIN)/python scripts/ship_model.py $(FAST_RUNS)/calibrated.pt --model photo-fast

gpu-pack: install  # photos and wheels for a lent GPU into .gpu (git-ignored); see scripts/gpu_pack.py
	$(BIN)/python scripts/gpu_pack.py

gpu-train:  # run ON the lent GPU (device tool, carry .gpu): trains the packed experiment
	bash scripts/gpu_train.sh

clean:
	rm -rf runs demo docs/api .pytest_cache
