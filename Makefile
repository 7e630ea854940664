.PHONY: demo test setup bench lint
setup:
	bash scripts/setup.sh
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
lint: setup
	.venv/bin/ruff check .
bench: setup
	.venv/bin/python benchmarks/engine.py
