# Herald — `make run` starts the local stack, `make test` runs every test. Both set up what is
# missing first: a .venv with the pinned emulator and tools, and a debug build.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
VENV_OK   := $(VENV)/.installed
PYTHON    ?= python3
CARGO     ?= cargo
export SAM_CLI_TELEMETRY := 0
# CI builds once from a clean clone: incremental caches would only take disk (gigabytes) and time.
ifeq ($(CI),true)
export CARGO_INCREMENTAL := 0
endif
LINT_ENV  := AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

.PHONY: help venv build run test test-emulator test-rust lint quickstart fuzz browser browser-tools screenshots fmt clippy clean

help:
	@echo "make run    start Herald locally (emulated AWS, the API and the console on 127.0.0.1:$${HERALD_PORT:-3000})"
	@echo "make test   unit, integration (against moto), template lint, the README quickstart, the API fuzz, and the guest pages and the console in a browser"
	@echo "make screenshots  the README's console screenshots (docs/console)"
	@echo "make bench  every benchmark; rewrites BENCHMARKS.md"
	@echo "make deploy-build  arm64 release artefacts of every function for sam deploy"

$(VENV_OK): infra/local/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
	touch $@

venv: $(VENV_OK)

build: venv
	$(CARGO) build --workspace --bins

run: build
	exec ./target/debug/herald-local

test: build lint test-emulator test-rust quickstart fuzz browser

# The local emulator refuses what AWS refuses (infra/local/strict_aws.py): one test per rule.
test-emulator: venv
	$(VENV)/bin/python -m unittest infra/local/test_strict_aws.py -v

# The 1,000-guest campaign runs against an emulator of its own: moto answers its outbox
# (/moto-api/data.json) by dumping everything it holds, which the other tests read too.
test-rust: venv
	infra/local/with-moto.sh $(CARGO) test --workspace --all-targets
	infra/local/with-moto.sh $(CARGO) test -p herald-api --test campaigns -- --ignored thousand_guest

lint: venv
	$(LINT_ENV) $(VENV)/bin/cfn-lint template.yaml
	$(LINT_ENV) $(VENV)/bin/sam validate --lint --template template.yaml --region us-east-1

quickstart: build
	tests/quickstart.sh

# The guest pages in a real browser: Debian's chromium (installed when missing; nothing is
# downloaded at run time) driven by playwright-core, axe-core on every page (tests/browser).
SUDO       := $(if $(filter 0,$(shell id -u)),,sudo)
BROWSER_OK := tests/browser/node_modules/.installed
$(BROWSER_OK): tests/browser/package-lock.json
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium" && $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	cd tests/browser && npm ci --no-audit --no-fund --silent
	touch $@

browser-tools: $(BROWSER_OK)

browser: build browser-tools
	tests/browser.sh

# The README's console screenshots (docs/console/*.png), taken by the browser test.
screenshots: build browser-tools
	SCREENSHOTS=docs/console tests/browser.sh

# schemathesis against the local stack, from the API's own OpenAPI document.
fuzz: build
	tests/schemathesis.sh

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf $(VENV) target

.PHONY: bench deploy-build
bench: venv
	infra/bench/run.sh

# The arm64 release build of every function, laid out for `sam deploy` (.aws-sam/build).
deploy-build: venv
	infra/deploy/build.sh
