# Two commands set everything up on a fresh machine (see README.md):
#   make run    serve every campaign on http://127.0.0.1:$(PORT) (SQLite, mail to instance/outbox)
#   make test   install test dependencies and run the whole suite
PORT ?= 5000
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi

.PHONY: run test lint check i18n-extract i18n-update i18n-compile browser-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# UI catalogs: extract the strings, merge them into each language's .po, compile the .mo files.
i18n-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project claimsite -o translations/messages.pot .

i18n-update: i18n-extract
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i translations/messages.pot -d translations

i18n-compile: $(STAMP)
	$(BIN)/pybabel compile -d translations

check: $(STAMP) i18n-compile
	CLAIMSITE_ENV=development $(BIN)/flask campaigns check

# A broken campaign file is reported here; the others are served all the same.
run: $(STAMP) i18n-compile
	-CLAIMSITE_ENV=development $(BIN)/flask campaigns check
	@echo "Serving every campaign: open http://127.0.0.1:$(PORT)/ for the list, e.g. http://tiktokclaim.localhost:$(PORT)/"
	CLAIMSITE_ENV=development CLAIMSITE_PORT=$(PORT) $(BIN)/flask run --host 127.0.0.1 --port $(PORT) --debug

# Debian's chromium for the browser tests (Playwright's own download cannot work offline).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) i18n-compile browser-deps
	$(BIN)/ruff check .
	CLAIMSITE_ENV=development $(BIN)/flask campaigns check
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) i18n-compile
	$(BIN)/python bench/landing.py

clean:
	rm -rf $(VENV) instance/outbox .pytest_cache test-artifacts
