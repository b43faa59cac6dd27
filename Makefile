# The one task entry point. A fresh machine needs only python3, pip and make.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
PYTHON := $(VENV)/bin/python
MANAGE := $(PYTHON) manage.py
PORT ?= 8000
# Exported: settings derive the dev SITE_URL (links in mails) from it.
export PORT

# uv must use this machine's python3, never download one.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

# Values for the checks that load settings outside pytest (mypy plugin, manage.py checks); they
# send no mail.
CHECK_ENV := DJANGO_SECRET_KEY=check-only-secret-key-not-for-production-0123456789 \
	DJANGO_ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:///:memory: EMAIL_URL=dummymail://

.PHONY: help install run serve worker test lint typecheck checks pytest pytest-postgres pytest-system contract browser fmt bench demo clean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "uv==$(UV_VERSION)"

# Bytecode compiled at install: where PYTHONDONTWRITEBYTECODE is set (this CI machine), every
# process would otherwise compile every module from source, and gunicorn's workers would carry
# that garbage: ~9 MB more per worker (docs/benchmarks.md).
$(VENV)/.synced: $(UV) pyproject.toml uv.lock Makefile
	$(UV) sync --frozen --python $(PYTHON) --compile-bytecode
	@touch $@

install: $(VENV)/.synced  ## Install everything into .venv (uv, from uv.lock).

run: export DJANGO_DEBUG ?= true
run: install  ## Migrate SQLite; serve on http://127.0.0.1:$(PORT) with the task worker (mail) beside it.
	$(MANAGE) migrate --noinput
	@# Two processes, one command: Ctrl-C reaches both; when the server stops, the trap stops
	@# the worker too.
	$(MANAGE) worker & trap 'kill -TERM $$! 2>/dev/null; wait' EXIT; \
	$(MANAGE) runserver 127.0.0.1:$(PORT)

worker: install  ## The task worker: delivers queued mail, runs the periodic housekeeping.
	exec $(MANAGE) worker

# DJANGO_DEBUG is left off: settings then require DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and
# EMAIL_URL, from the environment (consolemail:// would print every reset link to the output).
serve: install  ## Production: collectstatic, migrate, gunicorn on BIND or 0.0.0.0:$(PORT).
	$(MANAGE) collectstatic --noinput
	$(MANAGE) migrate --noinput
	$(VENV)/bin/python -m compileall -q blogapi
	exec $(VENV)/bin/gunicorn -c gunicorn.conf.py blogapi.wsgi:application

lint: install  ## ruff lint and format check.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install  ## mypy with django-stubs.
	$(CHECK_ENV) $(VENV)/bin/mypy .

checks: install  ## Django system checks, missing migrations, OpenAPI schema validity.
	$(CHECK_ENV) $(MANAGE) check --fail-level WARNING
	$(CHECK_ENV) $(MANAGE) makemigrations --check --dry-run
	$(CHECK_ENV) $(MANAGE) spectacular --validate --fail-on-warn --file /dev/null
	$(CHECK_ENV) AUTH_JWT=true AUTH_JWT_COOKIES=true AUTH_JWT_SIGNING_KEY=check-only-jwt-key-0123456789abcdef \
	  $(MANAGE) spectacular --validate --fail-on-warn --file /dev/null

# The second pass's services; Redis database 15 so tests never flush a developer's data.
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15

pytest: install  ## The test suite on SQLite with the in-process cache.
	$(VENV)/bin/pytest -m "not system"

pytest-postgres: install  ## The test suite on PostgreSQL + Redis (started here if installed).
	@status=0; scripts/test-services.sh || status=$$?; \
	if [ $$status -eq 0 ]; then \
	  DATABASE_URL=$(PG_TEST_URL) REDIS_URL=$(REDIS_TEST_URL) $(VENV)/bin/pytest -m "not system"; \
	elif [ $$status -eq 1 ]; then true; else exit $$status; fi

pytest-system: install  ## Gunicorn on a throwaway PostgreSQL + Redis: servers, faults, contract fuzzing, a browser.
	scripts/install-chromium.sh
	$(VENV)/bin/pytest -m system

contract: install  ## Contract fuzzing alone: schemathesis against gunicorn on a throwaway PostgreSQL (~90 s).
	$(VENV)/bin/pytest -m system blogapi/core/tests/test_contract.py

browser: install  ## Only the browser tests (headless Chromium); screenshots in test-results/browser/.
	scripts/install-chromium.sh
	$(VENV)/bin/pytest -m system blogapi/core/tests/test_browser*.py

test: lint typecheck checks pytest pytest-postgres pytest-system  ## Everything CI checks, in CI's order.

fmt: install  ## Format and auto-fix.
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Not part of `make test`: about five minutes of load. Installs wrk (Debian) when missing.
bench: install  ## wrk against gunicorn on SQLite (+ PostgreSQL/Redis); writes docs/benchmarks.md.
	@command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
	$(PYTHON) -m bench.run

DEMO_POSTS ?= 50
demo: export DJANGO_DEBUG ?= true
demo: install  ## Migrate SQLite; user `demo` (password demo-password-123) with DEMO_POSTS posts.
	$(MANAGE) migrate --noinput
	$(MANAGE) demo_data --posts $(DEMO_POSTS) --username demo --password demo-password-123

clean:  ## Remove the virtualenv and local databases.
	rm -rf $(VENV) db.sqlite3* .pytest_cache .mypy_cache .ruff_cache test-results
