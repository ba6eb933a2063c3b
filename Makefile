# Stagehand: `make run` starts every service, `make test` runs lint and the whole test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint format pytest venv dev-venv system-deps bench clean-var

run: venv
	$(BIN)/python -m config.launcher

test: dev-venv system-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@for s in web enc ingest worker; do \
		echo "manage.py check ($$s)"; \
		DJANGO_SETTINGS_MODULE=config.settings.$$s $(BIN)/python manage.py check --fail-level WARNING || exit 1; \
	done
	$(BIN)/python manage.py makemigrations --check --dry-run

format: dev-venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

venv: $(VENV)/.runtime-installed
dev-venv: $(VENV)/.dev-installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

system-deps:
	deploy/dev/install-system-packages.sh

clean-var:
	rm -rf var
