# Two commands on a fresh machine:  `make serve`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU build of torch. Point TORCH_INDEX_URL at a wheel index or folder to install from elsewhere.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
TORCH_PIP_ARGS := $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL),)

.PHONY: serve test bench setup setup-test browser bwrap axe clean

serve: setup
	$(PY) -m app

test: setup-test browser bwrap axe
	$(PY) -m pytest

bench: setup
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m bench

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
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

# axe-core from the npm registry, injected by tests/axe.py into the pages under test.
AXE_JS := .cache/axe/node_modules/axe-core/axe.min.js
axe:
	@test -f $(AXE_JS) || npm install --no-save --silent --prefix .cache/axe axe-core@4

clean:
	rm -rf $(VENV) data .pytest_cache
