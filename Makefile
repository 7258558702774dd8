# Every target installs what it needs, so each works on a fresh clone.
# Settings come from environment variables (see README); TARGET=local (default) uses the emulator.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
export PIPENV_YES := 1
PIPENV_VERSION := 2026.10.3
HOST_PYTHON ?= python3
PYTHON := .venv/bin/python
LOGS := build/logs
INSTALLED := .venv/.installed-$(shell sha256sum Pipfile.lock 2>/dev/null | cut -c1-16)
NODE_INSTALLED := node_modules/.installed-$(shell sha256sum package-lock.json 2>/dev/null | cut -c1-16)
# The policy scan looks at what a real account gets: the TARGET=aws sample profiles of tools/scan_profiles.py
# (certificate, way to on-premises, ...), dev and prod.
SCAN_FILES := cdktf.out/stacks/TapStackscandev/cdk.tf.json cdktf.out/stacks/TapStackscanprod/cdk.tf.json
# Options of `make plan` and `make pr-review`: BASE=<git ref>, ALLOW_STATEFUL_CHANGE=1 (the PR label);
# in GitHub Actions the summary's path also goes to $GITHUB_OUTPUT.
PLAN_OPTIONS = $(if $(BASE),--base "$(BASE)") \
	$(if $(filter 1 true yes,$(ALLOW_STATEFUL_CHANGE)),--allow-stateful-change) \
	$(if $(GITHUB_OUTPUT),--github-output "$(GITHUB_OUTPUT)")

.PHONY: help install checkov synth validate deploy plan destroy down cdktf test-fast lint lint-workflows scan e2e pr-review \
	test versions-check bench rehearse docs clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

install: $(INSTALLED) $(NODE_INSTALLED) ## Install the pinned toolchain: Pipfile.lock into .venv, the cdktf CLI into node_modules

$(INSTALLED): Pipfile.lock
	@mkdir -p $(LOGS)
	@echo "install: Python packages from Pipfile.lock into .venv (about 2 minutes; log $(LOGS)/install-python.log)"
	@{ $(HOST_PYTHON) -m pipenv --version || $(HOST_PYTHON) -m pip install "pipenv==$(PIPENV_VERSION)"; } \
		> $(LOGS)/install-python.log 2>&1 && $(HOST_PYTHON) -m pipenv sync --dev >> $(LOGS)/install-python.log 2>&1 \
		|| { tail -n 20 $(LOGS)/install-python.log; echo "install failed; full output in $(LOGS)/install-python.log"; exit 1; }
	@rm -f .venv/.installed-*
	@touch $@
	@echo "install: .venv is ready"

$(NODE_INSTALLED): package-lock.json
	@mkdir -p $(LOGS)
	@command -v npm >/dev/null || { echo "install: npm not found: the cdktf CLI needs Node.js 18 or newer with npm"; exit 1; }
	@echo "install: cdktf CLI from package-lock.json into node_modules (npm ci, about 30 s; log $(LOGS)/install-node.log)"
	@npm ci --no-audit --no-fund > $(LOGS)/install-node.log 2>&1 \
		|| { tail -n 20 $(LOGS)/install-node.log; echo "npm ci failed; full output in $(LOGS)/install-node.log"; exit 1; }
	@touch $@
	@echo "install: node_modules is ready"

synth: install ## Synthesize cdktf.out/stacks/TapStack<suffix>/cdk.tf.json (skipped when sources and settings are unchanged)
	@$(PYTHON) -m tools.stack synth

validate: install ## terraform validate against the real provider schema (offline mirror)
	@$(PYTHON) -m tools.stack validate

deploy: install ## Deploy (local emulator by default), write cfn-outputs/flat-outputs.json, print a summary
	@$(PYTHON) -m tools.stack deploy

plan: install ## terraform plan -> plan-summary-TapStack<suffix>.md; BASE=<git ref> plans against that ref; exit 2 on DANGER
	@$(PYTHON) -m tools.stack plan $(PLAN_OPTIONS)

destroy: install ## Destroy the deployed stack
	@$(PYTHON) -m tools.stack destroy

down: install ## Stop the local emulator
	@$(PYTHON) -m tools.stack down

cdktf: install ## The pinned cdktf CLI with the project's environment: make cdktf ARGS="deploy --auto-approve"
	@tools/cdktf $(ARGS)

test-fast: install checkov ## Unit (+ terraform validate), handler, tool and emulator tests: no deployment
	$(PYTHON) -m pytest tests/unit tests/lambda tests/tools tests/emulator -q -p no:cacheprovider

# Each Lambda function is type-checked as it is zipped: its own folder and lib/lambda/shared at the package root.
LAMBDA_FUNCTIONS := $(filter-out shared,$(notdir $(patsubst %/,%,$(dir $(wildcard lib/lambda/*/*.py)))))

lint: install ## ruff (lint + format check) and mypy over lib, tools, bench and tests (settings in pyproject.toml)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy
	@for function in $(sort $(LAMBDA_FUNCTIONS)); do \
		echo "mypy lib/lambda/$$function (as packaged)"; \
		MYPYPATH=lib/lambda/$$function $(PYTHON) -m mypy --no-warn-unused-configs lib/lambda/$$function/*.py || exit 1; \
	done

lint-workflows: install ## Validate .github/workflows/*.yml against the GitHub Actions schema (offline)
	$(PYTHON) -m check_jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

checkov: install ## The pinned checkov in its own virtualenv (.venv-checkov): its packaging pins clash with the Pipfile's
	@$(PYTHON) -m tools.scan --venv .venv-checkov --install-only

scan: install checkov ## checkov (built-in + CKV_TAP deploy-readiness checks) over the TARGET=aws sample profiles; 0 failed
	@rm -rf build/scan
	$(PYTHON) -m tools.scan_profiles
	$(PYTHON) -m tools.scan --venv .venv-checkov --config .checkov.yaml $(SCAN_FILES)

e2e: install ## Through the cdktf CLI on a fresh emulator: deploy, outputs, integration tests, destroy, nothing left
	$(PYTHON) -m tools.e2e

pr-review: lint test-fast lint-workflows scan ## The pull-request check: lint, fast tests, workflow lint, scan, then plan (BASE=<ref>) and its summary
	@$(PYTHON) -m tools.stack plan $(PLAN_OPTIONS)

# The checks that need no deployment run two at a time (test-fast keeps one core busy, lint and scan use the
# other); each one's output is shown whole when it ends, and one failing does not stop the others.
# e2e comes after, alone.
test: ## Everything, as CI runs it: lint, test-fast, lint-workflows and scan side by side, then e2e
	@$(MAKE) --no-print-directory install checkov
	@$(MAKE) --no-print-directory -j2 --keep-going --output-sync=target lint test-fast lint-workflows scan
	@$(MAKE) --no-print-directory e2e

versions-check: install ## Release-table warnings for the engine versions as of today (exit 0; FAIL_ON_FINDING=1: exit 1 on one)
	@$(PYTHON) -m tools.versions_check $(if $(filter 1 true yes,$(FAIL_ON_FINDING)),--fail-on-finding)

docs: install ## Regenerate the README settings table from lib/config.py
	$(PYTHON) -m tools.settings_doc

bench: install ## Benchmarks (not part of test): synth, unit suite, zips, emulator apply/plan/destroy, long rehearsal
	$(PYTHON) -m bench.run

rehearse: install ## The cutover under load on its own emulator: flip, rollback, 0 lost/doubled -> rehearsal/report.md
	$(PYTHON) -m tools.rehearsal

clean: ## Remove build output (not the venv, node_modules or state)
	rm -rf cdktf.out build .pytest_cache plan-summary*.md rehearsal
