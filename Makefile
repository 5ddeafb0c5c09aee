# SmartBMN Desk. `make run` to try it, `make test` to check it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run migrate test lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/flask --app bot db upgrade

## Start web + worker + LINE simulator on SQLite and print the chat page URL.
run: migrate
	$(BIN)/python -m bot.devrun

## Lint, then the whole test suite (PostgreSQL too when TEST_DATABASE_URL is set).
test: install lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/webhook_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
