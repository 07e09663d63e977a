# Shortcuts for the scripts in bin/ (which need nothing but bash, Python 3.11, Node.js and npm).
.PHONY: run test bench lint engine-start engine-stop clean

run:
	bin/run

test:
	bin/test

bench:
	bin/bench

lint:
	bin/setup dev
	.venv/bin/ruff check .
	.venv/bin/mypy dataplatform/pipeline

engine-start:
	bin/setup runtime
	.venv/bin/python -m dataplatform.pipeline.engine start

engine-stop:
	.venv/bin/python -m dataplatform.pipeline.engine stop

clean:
	rm -rf .venv node_modules var test-artifacts
