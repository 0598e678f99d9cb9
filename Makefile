# Markerless Pose Tracking - the two commands of the course:
#   make lab    create the environment (first time only), install the course, open JupyterLab
#               (student view: no news popup, no nbgrader instructor menus; Validate stays)
#   make instructor  the same JupyterLab with nbgrader's Formgrader / Create Assignment / Course List
#   make test   create/reuse the same environment and run the whole test suite
# Options: PYTHON=python3.11  PORT=8888  HEADLESS=1 (no browser; prints the URL with its token)
#          TEST_WORKERS=2 (parallel test processes)  PYTEST_ARGS='-m "not browser"' (extra pytest options)

PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8888
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
TEST_WORKERS ?= 2

.PHONY: lab instructor jupyter-settings test lint release execute data bench clean-grading

# The course's Jupyter settings (jupyter/, see jupyter/README.md) go into the environment, never
# into the home folder. Paths are relative to this Makefile: the browser suite runs it with -C.
ROOT     := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
SETTINGS := $(ROOT)jupyter
LAB_ARGS  = --port=$(PORT) $(if $(HEADLESS),--no-browser --ServerApp.ip=127.0.0.1,) $(if $(filter 0,$(shell id -u)),--allow-root,)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

jupyter-settings: $(VENV)/.installed
	mkdir -p $(VENV)/share/jupyter/lab/settings $(VENV)/etc/jupyter/labconfig $(VENV)/etc/jupyter/jupyter_server_config.d $(VENV)/etc/ipython
	cp $(SETTINGS)/lab-settings/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	cp $(SETTINGS)/student/labconfig/page_config.json $(VENV)/etc/jupyter/labconfig/page_config.json
	cp $(SETTINGS)/student/jupyter_server_config.d/zz-lecturekit-student.json $(VENV)/etc/jupyter/jupyter_server_config.d/
	cp $(SETTINGS)/ipython/ipython_kernel_config.py $(VENV)/etc/ipython/ipython_kernel_config.py

lab: $(VENV)/.installed jupyter-settings
	$(BIN)/jupyter lab notebooks/00_welcome/00_welcome.ipynb --notebook-dir=notebooks $(LAB_ARGS)

instructor: $(VENV)/.installed jupyter-settings
	JUPYTER_CONFIG_PATH="$(SETTINGS)/instructor$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH),)" $(BIN)/jupyter lab $(LAB_ARGS)

test: $(VENV)/.installed jupyter-settings
	$(BIN)/python -m pytest tests solutions --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check lecturekit tests bench

release: $(VENV)/.installed
	$(BIN)/lecturekit release

execute: $(VENV)/.installed
	$(BIN)/lecturekit execute

bench: $(VENV)/.installed
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done
