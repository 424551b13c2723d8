# Two commands on a fresh machine:  `make serve`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU build of torch: from the PyTorch CPU wheel index when it answers within 5 s (plain PyPI
# gives x86-64 Linux the CUDA build, several GB), else from pip's default index and its settings
# (a mirror, find-links). TORCH_INDEX_URL, when set, is used as it is (an index or a folder).
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu

.PHONY: serve worker test lint bench setup setup-test browser bwrap redis axe clean

serve: setup
	$(PY) -m app

# A worker node of JOB_BACKEND=celery (REDIS_URL, and DATA_DIR on the filesystem all nodes share).
worker: setup
	$(PY) -m pip install --quiet -e ".[celery]"
	$(PY) -m app.worker

# Lint and types first (they take seconds), then every benchmark at tiny sizes, then the suite.
test: lint browser bwrap redis axe
	$(PY) -m bench --smoke
	$(PY) -m pytest -n 2 --dist loadfile

lint: setup-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Every benchmark, full size (bench distributed starts Redis and Celery worker nodes).
bench: setup redis
	$(PY) -m pip install --quiet -e ".[bench,celery]"
	$(PY) -m bench

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@if [ -n "$(TORCH_INDEX_URL)" ]; then idx="$(TORCH_INDEX_URL)"; echo "torch: from TORCH_INDEX_URL ($$idx)"; \
	elif curl -sf --max-time 5 -o /dev/null "$(TORCH_CPU_INDEX)/torch/"; then idx="$(TORCH_CPU_INDEX)"; \
	  echo "torch: from the PyTorch CPU wheel index ($$idx)"; \
	else idx=""; echo "torch: the PyTorch CPU wheel index is not reachable; from pip's default index"; fi; \
	$(PY) -m pip install --quiet $${idx:+--index-url "$$idx" --find-links "$$idx"} "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# Browser tests drive Debian's Chromium through Playwright (no browser download).
browser:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The exercise sandbox runs learners' code under Debian's bubblewrap.
bwrap:
	@test -x /usr/bin/bwrap || { \
	  echo "Installing Debian's bubblewrap for the exercise sandbox"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; }

# The Celery backend's tests start Debian's redis-server themselves (no service is left running).
redis:
	@test -x /usr/bin/redis-server || { \
	  echo "Installing Debian's redis-server for the Celery backend's tests"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# axe-core from the npm registry, injected by tests/axe.py into the pages under test.
AXE_JS := .cache/axe/node_modules/axe-core/axe.min.js
axe:
	@test -f $(AXE_JS) || npm install --no-save --silent --prefix .cache/axe axe-core@4

clean:
	rm -rf $(VENV) data .pytest_cache *.egg-info
