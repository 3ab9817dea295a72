# retailsync: `make demo` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The test suite and benchmarks run on the real services; the demo needs none.
TEST_ENV := DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/retailsync} \
	CELERY_BROKER_URL=$${TEST_BROKER_URL:-redis://127.0.0.1:6379/15} REQUIRE_POSTGRES=1
DEMO_ENV := env -u DATABASE_URL -u CELERY_BROKER_URL DEBUG=1

.PHONY: setup demo serve test lint worker bench lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

setup: $(STAMP)
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(DEMO_ENV) $(PY) manage.py migrate --noinput -v0

demo: PORT ?= 8000
demo: setup
	@$(DEMO_ENV) $(PY) manage.py seed_demo --url http://127.0.0.1:$(PORT)/
	@echo "Serving on port $(PORT) (make demo PORT=8001 for another); stop with Ctrl-C."
	@echo
	@$(DEMO_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Production on this machine (README.md, "Running it for real"): migrate, collectstatic, then
# gunicorn (gunicorn.conf.py), a Celery worker and beat with retailsync.settings_production.
# Needs SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL and ALLOWED_HOSTS; Ctrl-C stops them all.
serve: $(STAMP)
	$(PY) deploy/serve.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

test: setup lint
	$(TEST_ENV) $(VENV)/bin/pytest --create-db

worker: setup
	$(VENV)/bin/celery -A retailsync worker --beat -l info

bench: setup
	$(TEST_ENV) $(PY) bench/ingest.py
	$(TEST_ENV) $(PY) bench/inventory.py
	$(TEST_ENV) $(PY) bench/reconciliation.py
	$(TEST_ENV) $(PY) bench/journals.py
	$(TEST_ENV) $(PY) bench/settlements.py

lock:
	$(VENV)/bin/pip-compile --quiet --extra dev --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) staticfiles media retailsync.sqlite3
