# Two entry points (see README): `make demo` and `make test`. Both create .venv and install
# what they need; torch is pinned to 2.13.0 and installed first so nothing pulls a CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROMPT ?= a red ball falls and bounces on a black background
DEMO_ARGS ?=

.PHONY: demo test install bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/openreel generate "$(PROMPT)" -o out/demo.mp4 --sheet --force $(DEMO_ARGS)

test: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) benchmarks/generate.py

clean:
	rm -rf $(VENV) out .pytest_cache
