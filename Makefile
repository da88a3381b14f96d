# chantilly: `make run` to serve on :5000, `make test` to run the whole suite.
# Everything installs into a local virtualenv ($(VENV)); nothing touches the system Python.
# Two stamps: $(RUN_DEPS) is what serving needs (creme, river, dill, and requests for the
# README's client snippets); $(TEST_DEPS) adds the test tools (pytest, hypothesis, playwright,
# SSE clients, psycopg for the PostgreSQL tests; 190 MB more, mostly playwright), which
# `make run` never pulls in.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 5000
HOST   ?= 127.0.0.1
DB     ?= chantilly.db

# Versions that are known to build and run together on Python 3.11.
NUMPY_VERSION ?= 2.4.6
RIVER_VERSION ?= 0.26.1
DILL_VERSION  ?= 0.4.1

RUN_DEPS  := $(VENV)/.run-deps
TEST_DEPS := $(VENV)/.test-deps

.PHONY: install run shell test test-fast demo bench stress screenshot embed clean

install: $(TEST_DEPS)

$(RUN_DEPS): Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# creme 0.6.1 has no wheel for Python 3.11 and its setup.py imports numpy and Cython,
	# so those go in first and creme is built against them without build isolation.
	# river goes in before creme so that it cannot swap numpy under creme's compiled code.
	$(PY) -m pip install --quiet cython "numpy==$(NUMPY_VERSION)" setuptools wheel \
		"river==$(RIVER_VERSION)" "dill==$(DILL_VERSION)" requests
	$(PY) -m pip install --quiet --no-build-isolation creme==0.6.1
	touch $@

$(TEST_DEPS): $(RUN_DEPS)
	$(PY) -m pip install --quiet pytest hypothesis playwright sseclient-py httpx-sse httpx \
		openapi-spec-validator schemathesis "psycopg[binary]>=3"
	touch $@

run: $(RUN_DEPS)
	$(PY) chantilly.py run --host $(HOST) --port $(PORT) --db $(DB)

# A shell with the virtualenv first on PATH, where the README's snippets run as pasted.
shell: $(RUN_DEPS)
	@echo "$(VENV) is active in this shell; exit to leave it"
	@VIRTUAL_ENV="$(abspath $(VENV))" PATH="$(abspath $(VENV))/bin:$$PATH" $${SHELL:-/bin/sh}

test: $(TEST_DEPS)
	$(PY) -m pytest -q

test-fast: $(TEST_DEPS)
	$(PY) -m pytest -q -m "not slow and not browser"

demo: $(RUN_DEPS)
	$(PY) examples/stream.py --url http://$(HOST):$(PORT)

bench: install
	$(PY) bench/bench.py

stress: $(RUN_DEPS)
	$(PY) bench/stress.py --minutes 5

# Regenerates docs/dashboard.png; the tests alone write only to temporary folders.
screenshot: $(TEST_DEPS)
	CHANTILLY_SCREENSHOT=docs/dashboard.png $(PY) -m pytest -q test_dashboard.py -k screenshot

# chantilly.py carries a copy of static/ (so a lone copied file serves the dashboard); after
# editing static/, regenerate it. A test fails while the copy is stale.
embed:
	$(PYTHON) -c "import chantilly; chantilly.embed_dashboard('static')"

clean:
	rm -rf $(VENV) .pytest_cache __pycache__ .hypothesis
