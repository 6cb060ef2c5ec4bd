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

.PHONY: run test lint bench index clean-index browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

index: $(STAMP)
	$(BIN)/assistant index

# the chat page on http://127.0.0.1:7860 (HOST/PORT to change); the index is built first if needed
HOST ?= 127.0.0.1
PORT ?= 7860
run: index
	$(BIN)/assistant chat --host $(HOST) --port $(PORT)

# page tests drive Debian's Chromium (a browser download is impossible here); CJK and emoji fonts for screenshots
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk" || ! fc-list 2>/dev/null | grep -qi "emoji"; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null; \
	  else echo "note: install chromium, fonts-noto-cjk and fonts-noto-color-emoji (Debian) to run the chat page tests"; fi; fi

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check assistant tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/index_build.py
	$(BIN)/python benchmarks/retrieve_latency.py

clean-index:
	rm -rf index
