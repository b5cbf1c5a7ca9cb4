# Two commands set everything up on a fresh machine (see README.md):
#   make run    serve every campaign on http://127.0.0.1:$(PORT) (SQLite, mail to instance/outbox)
#   make test   install test dependencies and run the whole suite
PORT ?= 5000
# The interpreter of .venv: the system's CPython 3.11+ where there is one (Debian's is built with PGO and LTO: the
# sign-up post costs a fifth less CPU than under a plain source build such as pyenv's default; bench/README.md),
# else python3 on PATH. `make PYTHON=...` chooses another.
SYSTEM_PYTHON := $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && /usr/bin/python3 -m ensurepip --version >/dev/null 2>&1 && echo /usr/bin/python3)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi

.PHONY: run test lint check i18n-extract i18n-update i18n-compile system-deps prod-check bench clean

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

# Two domains: messages (every UI string) and formal (the "u" form of those that address the visitor; core/i18n.py).
i18n-compile: $(STAMP)
	$(BIN)/pybabel compile -d translations -D "messages formal"

check: $(STAMP) i18n-compile
	$(BIN)/flask campaigns check

# A broken campaign file is reported here; the others are served all the same. The mail worker runs beside the
# web server and stops with it; mail goes to instance/outbox/ and verification codes are printed here.
run: $(STAMP) i18n-compile system-deps
	-$(BIN)/flask campaigns check --no-sentences
	CLAIMSITE_ENV=development $(BIN)/flask db upgrade
	CLAIMSITE_ENV=development $(BIN)/flask keys show
	@echo "Serving every campaign: open http://127.0.0.1:$(PORT)/ for the list, e.g. http://tiktokclaim.localhost:$(PORT)/"
	@echo "Staff console: http://staff.localhost:$(PORT)/ (make an account first: FLASK_APP=wsgi CLAIMSITE_ENV=development $(BIN)/flask staff add EMAIL --name NAME --role admin)"
	trap 'kill 0' INT TERM EXIT; \
	CLAIMSITE_ENV=development CLAIMSITE_PORT=$(PORT) $(BIN)/flask worker & \
	CLAIMSITE_ENV=development CLAIMSITE_PORT=$(PORT) $(BIN)/flask run --host 127.0.0.1 --port $(PORT) --debug

# Debian packages: pango and fonts for the mandate PDF (WeasyPrint), poppler-utils to read PDFs back in tests,
# chromium for the browser tests (Playwright's own browser download cannot work offline), softhsm2, the
# hardware token of the mandate seal's tests, and nginx, which tests/test_deploy_nginx.py runs in front of gunicorn
# with the configuration `flask deploy nginx` makes, on ports of their own (under systemd, Debian's package also
# starts its default site on port 80: `systemctl disable --now nginx` where that is not wanted), and wrk, the load
# of bench/spike.py (and bench/landing.py).
DEBIAN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils chromium softhsm2 nginx wrk
system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if ! command -v apt-get >/dev/null 2>&1; then echo "please install: $$missing"; exit 1; fi; \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# PostgreSQL: the database tests also run there when a server answers on 127.0.0.1:5432 (each test makes and
# drops its own database); CI fails if it cannot.
POSTGRES_ADMIN_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
# Two pytest-xdist processes, each taking whole test files (module-scoped servers and clusters start once); each
# process has its own PostgreSQL template and temporary folders. `make test PYTEST_PARALLEL=` runs in one process.
PYTEST_PARALLEL ?= -n 2 --dist loadfile
test: $(STAMP) i18n-compile system-deps
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/flask campaigns check --no-sentences
	if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then \
		export CLAIMSITE_TEST_POSTGRES_URL="$(POSTGRES_ADMIN_URL)"; fi; \
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

# The production shape on loopback (README, "Production": "Checking the production shape locally"): nginx from
# Debian's package (installed here if missing) with the file `flask deploy nginx` makes, in front of two gunicorn
# instances and two mail workers on this machine's PostgreSQL (a database of its own, dropped afterwards) and Redis
# (database 11); a smoke test through nginx, a report, and everything it started stopped again.
PROD_CHECK_REDIS_URL ?= redis://127.0.0.1:6379/11
prod-check: $(STAMP) i18n-compile
	$(MAKE) --no-print-directory system-deps DEBIAN_PACKAGES=nginx
	$(BIN)/python -m tests.production_check --postgres "$(POSTGRES_ADMIN_URL)" --redis "$(PROD_CHECK_REDIS_URL)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The landing-page benchmark drives the server with wrk (Debian's package); the others need nothing more.
bench: $(STAMP) i18n-compile
	@command -v wrk >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python bench/landing.py

clean:
	rm -rf $(VENV) instance/outbox .pytest_cache test-artifacts
