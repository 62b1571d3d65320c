# Two commands for a newcomer: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench install install-dev migrate seed worker clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_issuing_demo --json > /dev/null  # live demo card (README: Card issuing)

## run: install, migrate, seed demo data, then start web + Celery worker + beat (Procfile)
run: seed
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho start -f Procfile

## chromium: Debian's Chromium for the browser tests (Playwright drives it; no browser download)
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	    echo "installing chromium (apt) for the browser tests"; \
	    apt-get update -q > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium > /dev/null \
	      || echo "could not install chromium: the browser tests will be skipped"; \
	  else \
	    echo "$(CHROMIUM) is missing and this user cannot install it (sudo apt-get install chromium):" \
	         "the browser tests will be skipped"; \
	  fi; \
	fi

## test: install dev requirements (and Chromium if it can), lint, run the whole suite
test: install-dev chromium
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run > /dev/null
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .

## bench: every benchmark in bench/, one after the other (each prints its figures and ratio)
# api: gunicorn on PostgreSQL, POST /v1/payments against a bare one-INSERT DRF view
# webhooks: events delivered per second to a local receiver, one and two Celery workers
# risk: added latency of one risk assessment at 0 / 10,000 / 1,000,000 past assessments, and a backtest
BENCHES := bench/run.py bench/settlement.py bench/webhooks.py bench/risk.py
bench: install-dev
	@set -e; for b in $(BENCHES); do echo "== $$b"; $(BIN)/python $$b $(BENCH_ARGS); done

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
