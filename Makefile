# ThyroWeb: `make start` installs and starts the application on the embedded default
# (SQLite, shipped model; gunicorn, a Celery worker and beat on a broker kept in files under
# THYROWEB_HOME/broker, so jobs run in the background); `make test` runs the full test suite,
# `make test-fast` every test but the slow ones (no browser, no real worker), `make lint` ruff and mypy.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ADDRESS ?= 127.0.0.1:8000

.PHONY: start test test-fast lint setup chromium pdf-libs pdftotext

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# The PDF report (WeasyPrint) lays text out with Debian's Pango and HarfBuzz and needs a font.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
pdf-libs:
	@dpkg -s $(PDF_PACKAGES) >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_PACKAGES))

setup: $(VENV)/.runtime pdf-libs
	$(BIN)/python manage.py migrate --no-input --verbosity 0
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/python manage.py setup_thyroweb

start: setup
	@echo "ThyroWeb on http://$(ADDRESS)/ (log in with a demo user printed above)"
	$(BIN)/python -m thyroweb.launch --bind $(ADDRESS) --web-workers 2

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work offline).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

pdftotext:
	@command -v pdftotext >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils)

test: $(VENV)/.dev chromium pdf-libs pdftotext
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest

# Tests that need no browser, no Celery worker process, no server process and no training: under 3 minutes.
test-fast: $(VENV)/.dev
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -m "not slow and not browser and not worker"

# ruff (lint and format) over the code, mypy over mlcore/ (mypy.ini).
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
