# ems: install, test, demo.
#
#   make demo         simulator + a real Home Assistant with ems configured and the optimizer
#                     add-on running (prints URL and login; Ctrl-C stops everything)
#   make test         ruff + the whole pytest suite
#   make screenshots  the dashboard in headless Chromium, into docs/screenshots/
#
# Every target sets up .venv first (Python 3.13, found as below). The install is stamped:
# it reruns only when a requirements file changes.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
RUFF := $(VENV)/bin/ruff
PYTEST := $(VENV)/bin/pytest
UV_VERSION := 0.6.10
STAMP := $(VENV)/.installed

# The core (core/, package ems_core) and the add-on (addon/, package ems_optimizer) are
# installed into .venv as editable packages, in one resolution (the add-on requires the core).
STAMP_INPUTS := requirements.txt requirements-test.txt core/pyproject.toml addon/pyproject.toml

.PHONY: bench-community vendor help setup browser broker test lint format demo soak screenshots bench-modbus bench-optimizer bench-closed-loop bench-grid clean distclean

help:
	@echo "make demo          simulator + Home Assistant with ems + optimizer add-on (Ctrl-C stops)"
	@echo "make soak          the whole stack under random faults, SOAK_MINUTES (30) long; not in make test"
	@echo "make screenshots   dashboard screenshots in headless Chromium -> docs/screenshots/"
	@echo "make test          ruff, vendored-core check, import contracts, the whole pytest suite"
	@echo "make lint          ruff check + ruff format --check"
	@echo "make format        ruff format + ruff check --fix"
	@echo "make bench-modbus  Modbus poll-cost benchmark"
	@echo "make bench-optimizer  MILP build+solve times and costs on benchmarks/scenarios"
	@echo "make bench-closed-loop  closed-loop simulation (forecast, plan, execute) on 14 days of shared data: cost, value captured, flapping"
	@echo "make bench-grid    grid support on the simulator: response times (t90) and tracking of P(f) and Q(V)"
	@echo "make bench-community  community rounds at 10/100/1000/5000 members: time, import alone vs together, gap"
	@echo "make setup         create/update .venv (Python 3.13), and make Chromium available"
	@echo "make browser       install Debian's chromium if missing (as root, with apt-get)"
	@echo "make clean         remove caches and .demo/  (distclean also removes .venv)"

# Python 3.13: a working python3.13 on PATH, else pyenv's 3.13.0, else any pyenv 3.13.x.
# (pyenv's shim answers "command not found" when 3.13 is not its global version, hence the
# check that the candidate actually runs.)
$(PY):
	@py=""; \
	if python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1; then \
	  py="$$(python3.13 -c 'import sys; print(sys.executable)')"; \
	fi; \
	if [ -z "$$py" ] && command -v pyenv >/dev/null 2>&1; then \
	  p="$$(PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null || true)"; \
	  if [ -n "$$p" ] && "$$p" -c '' >/dev/null 2>&1; then py="$$p"; fi; \
	fi; \
	if [ -z "$$py" ]; then \
	  root="$$(pyenv root 2>/dev/null || echo "$${PYENV_ROOT:-$$HOME/.pyenv}")"; \
	  for p in "$$root"/versions/3.13.*/bin/python3; do \
	    if [ -x "$$p" ] && "$$p" -c '' >/dev/null 2>&1; then py="$$p"; fi; \
	  done; \
	fi; \
	if [ -z "$$py" ]; then \
	  echo "error: Python 3.13 not found (Home Assistant 2025.4 needs it)." >&2; \
	  echo "  Install it with pyenv:  pyenv install 3.13.0   (then rerun make)" >&2; \
	  echo "  or put a python3.13 on PATH (e.g. apt-get install python3.13 python3.13-venv)." >&2; \
	  exit 1; \
	fi; \
	echo "Creating $(VENV) with $$py ($$("$$py" -V))"; \
	"$$py" -m venv $(VENV)

$(STAMP): $(STAMP_INPUTS) | $(PY)
	@if ! $(UV) --version 2>/dev/null | grep -q "^uv $(UV_VERSION)\b"; then \
	  $(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); \
	fi
	$(UV) pip install --python $(PY) -r requirements-test.txt
	$(UV) pip install --python $(PY) -e './core[modbus]' -e './addon[png]'
	@touch $@

setup: $(STAMP) browser broker

# Community planning's tests and demo run a real mosquitto (Debian's package): installed with
# apt-get when run as root, else a note says how (the community tests fail without it).
broker:
	@if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then \
	  :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: no mosquitto: the community tests need it (sudo apt-get install mosquitto)." >&2; \
	else \
	  echo "Installing Debian's mosquitto (the MQTT broker of the community tests and demo)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends mosquitto; \
	fi

# The browser test and `make screenshots` drive the system's Chromium with Playwright
# (Playwright's own browser download is never used). Missing: installed with apt-get when run
# as root, else a note says why the browser test will be skipped. $EMS_CHROMIUM names another.
CHROMIUM_FOUND = $(or $(EMS_CHROMIUM),$(shell command -v chromium || command -v chromium-browser))

browser:
	@if [ -n "$(CHROMIUM_FOUND)" ]; then \
	  :; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "note: no chromium, and not root to install it: the browser test will be skipped." >&2; \
	  echo "  Install Debian's chromium package (sudo apt-get install chromium) or set EMS_CHROMIUM." >&2; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: no chromium and no apt-get to install it: the browser test will be skipped." >&2; \
	  echo "  Install a Chromium and set EMS_CHROMIUM to its path." >&2; \
	else \
	  echo "Installing Debian's chromium (headless browser for the browser test and screenshots)"; \
	  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends chromium fonts-liberation; }; then \
	    echo "note: apt-get could not install chromium: the browser test will be skipped." >&2; \
	  fi; \
	fi

test: setup
	$(RUFF) check .
	$(PY) tools/vendor_core.py --check
	$(VENV)/bin/lint-imports
	@rc=0; $(PYTEST) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests were collected"; exit 0; fi; \
	exit $$rc

# Rewrite the core's vendored copies (integration, add-on image) from core/.
vendor: setup
	$(PY) tools/vendor_core.py

lint: setup
	$(RUFF) check .
	$(RUFF) format --check .

format: setup
	$(RUFF) format .
	$(RUFF) check --fix .

demo: setup
	$(PY) -m scripts.demo

# Not part of `make test`: simulator (fast), Home Assistant and the add-on under random faults
# for $SOAK_MINUTES minutes (default 30; $SOAK_SEED repeats a run), then a report (docs/SOAK.md).
soak: setup
	$(PY) -m scripts.soak --minutes $${SOAK_MINUTES:-30}

# Starts its own demo (temporary dir), lets a few minutes of history build up, logs in.
screenshots: setup
	$(PY) -m scripts.screenshots --out docs/screenshots

bench-modbus: setup
	$(PY) -m benchmarks.modbus_poll

bench-optimizer: setup
	$(VENV)/bin/ems-optimizer bench benchmarks/scenarios

bench-closed-loop: setup
	$(PY) -m benchmarks.closed_loop

bench-grid: setup
	$(PY) -m benchmarks.grid_response

clean:
	rm -rf .demo .pytest_cache .ruff_cache .hypothesis build
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)

bench-community: setup
	$(PY) benchmarks/community.py
