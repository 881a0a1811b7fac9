# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where `make run` serves: `make run PORT=8080` (or HOST=0.0.0.0 to listen beyond localhost).
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench bench-memory wrk clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: install, migrate the database, seed a demo clinic if empty, serve on $(HOST):$(PORT)
run: $(STAMP)
	$(BIN)/screening db upgrade
	$(BIN)/screening demo --if-empty --url http://$(HOST):$(PORT)
	$(BIN)/screening serve --host $(HOST) --port $(PORT)

## browser: Debian's chromium for the console's browser tests (installed when missing; needs root)
browser:
	@test -x /usr/bin/chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

## test: install and run the whole suite; rules/ must keep 100 % line and branch coverage
## (COVERAGE=0 runs the suite without measuring it: CI's second pass, on PostgreSQL)
COVERAGE ?= 1
test: $(STAMP) browser
	$(BIN)/ruff check .
ifeq ($(COVERAGE),0)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
else
	$(BIN)/python -m pytest --cov --cov-report= $(PYTEST_ARGS)
	$(BIN)/python -m coverage report --include='rules/*' --fail-under=100
	$(BIN)/python -m coverage report --include='screening/*' --skip-covered --sort=cover | tail -n 3
endif

lint: $(STAMP)
	$(BIN)/ruff check .

## bench: evaluate() timing, ingest against a bare Flask ceiling, queue latency at 10k/1M
## (needs wrk: installed from Debian's packages when missing; PostgreSQL at 127.0.0.1)
bench: $(STAMP) wrk
	-$(BIN)/python bench/rules.py
	-$(BIN)/python bench/ingest.py
	-$(BIN)/python bench/queue.py

## bench-memory: one gunicorn worker's resident memory before and after 100k submissions
bench-memory: $(STAMP) wrk
	$(BIN)/python bench/ingest.py --memory 100000

wrk:
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov
