# The README's commands. Everything else is a step they already run.
.PHONY: run test setup lint check

run:  ## set up and run the platform on embedded defaults at http://127.0.0.1:8000
	scripts/run.sh

test:  ## set up and run the whole test suite
	scripts/test.sh

setup:
	scripts/setup.sh --dev

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

check:  ## Django's own consistency checks, as CI runs them
	DEBUG=1 .venv/bin/python manage.py check
	DEBUG=1 .venv/bin/python manage.py makemigrations --check --dry-run
