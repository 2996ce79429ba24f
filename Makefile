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
	$(VENV)/bin/ruff check src engine schemas server tests bench stress
	$(VENV)/bin/mypy

# Validate, plan and apply the APScheduler part of the examples to its embedded SQLite
# job store, run a real APScheduler process (the user's side, with the integration)
# until the 5-second heartbeat has fired, then show the recorded fires.
demo: setup
	$(PY) -m schedsync --repo $(DEMO) validate
	$(PY) -m schedsync --repo $(DEMO) plan --project acme --scheduler apscheduler
	$(PY) -m schedsync --repo $(DEMO) apply --project acme --scheduler apscheduler --auto-approve
	$(PY) examples/apscheduler_app.py --repo $(DEMO) --project acme --seconds 12
	$(PY) -m schedsync --repo $(DEMO) fires acme billing.heartbeat --limit 5

bench: setup
	@for script in bench/[a-z]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Reliability and security figures of issue 8 (fuzzing, kill -9, concurrency, outages,
# role matrix); exits non-zero when a figure misses its target.
stress: setup
	$(PY) -m stress

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(DEMO)/.schedsync
