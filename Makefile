# Run Monitor: `make run` (embedded default) and `make test` (whole suite). See README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev lint bench engine-start engine-stop clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

node_modules/.installed: package.json package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20+ and npm are required (Debian/Ubuntu: apt-get install nodejs npm)"; exit 2; }
	npm ci --no-audit --no-fund
	touch $@

install: $(BIN)/python node_modules/.installed
	$(BIN)/pip install -q -r requirements.txt

install-dev: $(BIN)/python node_modules/.installed
	$(BIN)/pip install -q -r requirements-dev.txt

run: install
	$(BIN)/python -m dataplatform.run_local

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy dataplatform/pipeline

test: install-dev lint
	$(BIN)/pytest -n 2 --dist loadfile

bench: install-dev
	$(BIN)/python -m bench.run_all

engine-start: install
	$(BIN)/python -m dataplatform.pipeline.engine start

engine-stop:
	$(BIN)/python -m dataplatform.pipeline.engine stop

clean:
	rm -rf $(VENV) node_modules var test-artifacts
