# `make run` and `make test` are all a fresh machine needs: each creates (or reuses) .venv,
# installs what is missing, then does its job.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# torch first, pinned: this CPU build is on the machine's disk; an unpinned request pulls CUDA.
TORCH_SPEC ?= torch==2.13.0
# llama.cpp must not be built for the build machine's exact CPU ("Illegal instruction" elsewhere).
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
EXAMPLE_QUESTION ?= 联合国人工智能高级别咨询机构提出了哪些建议？

.PHONY: run test lint bench index clean-index

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

index: $(STAMP)
	$(BIN)/assistant index

run: index
	$(BIN)/assistant retrieve "$(EXAMPLE_QUESTION)" -k 5

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check assistant tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/index_build.py
	$(BIN)/python benchmarks/retrieve_latency.py

clean-index:
	rm -rf index
