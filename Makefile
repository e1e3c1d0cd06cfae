# Two commands do all the set-up on a fresh machine:
#   make run    the app (the sandbox when no Slack tokens are set)
#   make test   lint, type-check and every test (installs Chromium for the browser tests)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# `make run` installs only what running needs; `make test` adds the test and lint tools.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

CHROMIUM ?= /usr/bin/chromium
OIDC_PROVIDER := tools/oidc-provider

.PHONY: run test lint pytest chromium oidc-provider nginx screenshots defence-check settings-table bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setuptools warns at every editable install that folders named like the packages in the
# working directory take precedence at import: here they are those very packages (a flat
# layout), so the warning says nothing and is silenced.
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

$(STAMP): pyproject.toml | $(BIN)/python
	$(QUIET_EDITABLE) $(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

# The dev install adds the example plugin package (examples/oncall-plugin), so that its tests
# and the end-to-end test through the app find it installed with its entry point.
$(DEV_STAMP): pyproject.toml examples/oncall-plugin/pyproject.toml | $(BIN)/python
	$(QUIET_EDITABLE) $(BIN)/python -m pip install --quiet -e '.[dev]'
	$(QUIET_EDITABLE) $(BIN)/python -m pip install --quiet -e examples/oncall-plugin
	touch $(STAMP) $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/account-binding run $(ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The browser tests drive Debian's Chromium; a test tool's own browser download cannot work
# on machines without internet access. Installed with apt when missing and run as root.
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "Chromium is missing: install it (Debian: apt-get install chromium) for the browser tests"; \
	  fi; \
	fi

# The single sign-on tests run a real OpenID provider on loopback: the npm package
# oidc-provider (tools/oidc-provider, pinned by its package-lock.json) under Node.js 18 or later.
# Node.js and npm are installed with apt when missing (as root); `npm ci` runs when the lock
# file is newer than the installed tree (npm ci writes node_modules/.package-lock.json).
oidc-provider: $(OIDC_PROVIDER)/node_modules/.package-lock.json

$(OIDC_PROVIDER)/node_modules/.package-lock.json: $(OIDC_PROVIDER)/package-lock.json $(OIDC_PROVIDER)/package.json
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm; \
	  else \
	    echo "Node.js or npm is missing: install them (Debian: apt-get install nodejs npm) for the single sign-on tests"; \
	  fi; \
	fi
	@if command -v npm >/dev/null; then \
	  npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund --loglevel=error; \
	fi

# Issue 11, operations: tests/test_deploy.py checks deploy/nginx.conf with Debian's nginx and
# serves it in front of the app. When nginx is not installed, its Debian package (half a
# megabyte) is unpacked into .cache/nginx: only the binary is used, no service is installed
# or started, and root is needed only when apt's package lists must be fetched first.
NGINX_CACHE := .cache/nginx

nginx:
	@if ! command -v nginx >/dev/null && [ ! -x $(NGINX_CACHE)/usr/sbin/nginx ]; then \
	  if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then \
	    mkdir -p $(NGINX_CACHE) && cd $(NGINX_CACHE) && \
	    { apt-get download -q nginx || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get download -q nginx; }; } && \
	    dpkg -x nginx_*.deb . && rm -f nginx_*.deb; \
	  else \
	    echo "nginx is missing: install it (Debian: apt-get install nginx) for the deploy tests"; \
	  fi; \
	fi

# pytest's exit code 5 means it collected no tests: a failure, said as such.
pytest: $(DEV_STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests" >&2; fi; exit $$code

test: lint chromium oidc-provider nginx pytest

# Refresh the screenshots in docs/ that the README shows.
screenshots: $(DEV_STAMP) chromium
	SCREENSHOTS=1 $(BIN)/python -m pytest tests/test_browser_journeys.py

# Remove each defence of SECURITY.md in turn, in a copy of the tree; the tests SECURITY.md
# names for it must fail. Prints how many removals were caught (about 15 minutes).
# Issue 11, operations: the copy has no .cache/, so the deploy tests are told where nginx is.
defence-check: $(DEV_STAMP) nginx
	NGINX_BINARY="$$(command -v nginx || echo $(CURDIR)/$(NGINX_CACHE)/usr/sbin/nginx)" \
	  $(BIN)/python -m tools.defence_check $(ARGS)

# Rewrite README.md's Configuration table from the settings' declaration
# (account_binding/settings.py); tests/test_docs.py fails while the two differ.
settings-table: $(STAMP)
	$(BIN)/python -m tools.settings_table

# Issue 12: every benchmark in one run, printed as a table and written to
# bench/results/latest.json (README "Performance"). ARGS=--quick for a short check.
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache $(OIDC_PROVIDER)/node_modules .cache
