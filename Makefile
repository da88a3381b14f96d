# chantilly: `make run` to serve on :5000, `make test` to run the whole suite.
# Everything installs into a local virtualenv ($(VENV)); nothing touches the system Python.

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

.PHONY: install run test test-fast demo bench stress screenshot clean

install: $(VENV)/.installed

$(VENV)/.installed: Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# creme 0.6.1 has no wheel for Python 3.11 and its setup.py imports numpy and Cython,
	# so those go in first and creme is built against them without build isolation.
	# river goes in before creme so that it cannot swap numpy under creme's compiled code.
	$(PY) -m pip install --quiet cython "numpy==$(NUMPY_VERSION)" setuptools wheel \
		"river==$(RIVER_VERSION)" "dill==$(DILL_VERSION)"
	$(PY) -m pip install --quiet --no-build-isolation creme==0.6.1
	$(PY) -m pip install --quiet pytest hypothesis playwright requests
	touch $@

run: install
	$(PY) chantilly.py run --host $(HOST) --port $(PORT) --db $(DB)

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow and not browser"

demo: install
	$(PY) examples/stream.py --url http://$(HOST):$(PORT)

bench: install
	$(PY) bench/bench.py

stress: install
	$(PY) bench/stress.py --minutes 5

screenshot: install
	$(PY) -m pytest -q test_dashboard.py -k screenshot

clean:
	rm -rf $(VENV) .pytest_cache __pycache__ .hypothesis
