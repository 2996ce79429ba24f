# The two commands of README.md: `make demo` and `make test`. Everything else is a
# step of those or a developer convenience.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO := examples/schedules

.PHONY: setup test check demo bench stress clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("schedsync needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) -m pytest -q

check: setup
	$(VENV)/bin/ruff check src engine schemas server tests bench
	$(VENV)/bin/mypy

demo: setup
	$(PY) -m schedsync --repo $(DEMO) validate

bench: setup
	@for script in bench/[a-z]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(DEMO)/.schedsync
