# SmartBMN Desk. `make run` to try it, `make test` to check it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run totp migrate test lint format flask faq bench bench-escalation bench-broadcast bench-faq bench-order bench-e2e bench-console clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/flask --app bot db upgrade

## Start web + worker + LINE simulator on SQLite and print the chat page and console URLs
## (and, on the first run, demo console accounts, kept in var/demo-accounts.txt).
run: migrate
	$(BIN)/python -m bot.devrun

## The demo admin's current sign-in code (from var/demo-accounts.txt, as an authenticator app).
totp: install
	@$(BIN)/python -m bot.devrun totp

## Lint, then the whole test suite (PostgreSQL too when TEST_DATABASE_URL is set).
test: install lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Staff commands without activating the venv: make flask ARGS='ticket list --state new'
## (the same as .venv/bin/flask --app bot ticket list --state new).
flask: install
	$(BIN)/flask --app bot $(ARGS)

## The FAQ tool: make faq ARGS='eval faq/data/tuning.jsonl'; echo ลืมรหัสผ่าน | make -s faq ARGS=match
faq: install
	$(BIN)/python -m faq $(ARGS)

## Benchmarks (short runs; each takes ARGS, e.g. ARGS='--database-url postgresql://…').
bench: install
	$(BIN)/python bench/webhook_bench.py $(ARGS)

bench-escalation: install
	$(BIN)/python bench/escalation_bench.py $(ARGS)

bench-broadcast: install
	$(BIN)/python bench/broadcast_bench.py $(ARGS)

bench-faq: install
	$(BIN)/python bench/faq_bench.py $(ARGS)

bench-order: install
	$(BIN)/python bench/order_bench.py $(ARGS)

## Questions at 100/s through simulator, web and worker: make bench-e2e ARGS='--database-url …'
bench-e2e: install
	$(BIN)/python bench/e2e_bench.py $(ARGS)

## Console queue and ticket pages over 100,000 tickets: make bench-console ARGS='--database-url …'
bench-console: install
	$(BIN)/python bench/console_bench.py $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
