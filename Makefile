# Markerless Pose Tracking - the two commands of the course:
#   make lab    create the environment (first time only), install the course, open JupyterLab
#   make test   create/reuse the same environment and run the whole test suite
# Options: PYTHON=python3.11  PORT=8888  HEADLESS=1 (no browser; prints the URL with its token)
#          TEST_WORKERS=2 (parallel test processes)  PYTEST_ARGS='-m "not browser"' (extra pytest options)

PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8888
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
TEST_WORKERS ?= 2

.PHONY: lab test lint release execute data bench clean-grading

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

lab: $(VENV)/.installed
	$(BIN)/jupyter lab notebooks/00_welcome/00_welcome.ipynb --notebook-dir=notebooks --port=$(PORT) $(if $(HEADLESS),--no-browser --ServerApp.ip=127.0.0.1,) $(if $(filter 0,$(shell id -u)),--allow-root,)

test: $(VENV)/.installed
	$(BIN)/python -m pytest tests solutions --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check lecturekit tests bench

release: $(VENV)/.installed
	$(BIN)/lecturekit release

execute: $(VENV)/.installed
	$(BIN)/lecturekit execute

bench: $(VENV)/.installed
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done
