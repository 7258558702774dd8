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
INSTALLED := .venv/.installed-$(shell sha256sum Pipfile.lock 2>/dev/null | cut -c1-16)
# The policy scan looks at what a real account gets: TARGET=aws with a certificate, both profiles.
SCAN_CERTIFICATE := arn:aws:acm:us-east-1:123456789012:certificate/scan-profile
SCAN_ENV := TARGET=aws AWS_REGION=us-east-1 CERTIFICATE_ARN=$(SCAN_CERTIFICATE)
# A public prod ALB verifies client certificates: prod is scanned with its trust store.
SCAN_CA_BUNDLE := s3://scan-profile-trust/client-ca-bundle.pem

.PHONY: help install synth validate deploy plan destroy down test test-fast scan e2e bench docs clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(INSTALLED) ## Install the pinned toolchain into .venv (pipenv from PyPI if missing)

$(INSTALLED): Pipfile.lock
	@$(HOST_PYTHON) -m pipenv --version >/dev/null 2>&1 || $(HOST_PYTHON) -m pip install --quiet "pipenv==$(PIPENV_VERSION)"
	$(HOST_PYTHON) -m pipenv sync --dev
	@rm -f .venv/.installed-*
	@touch $@

synth: install ## Synthesize cdktf.out/stacks/TapStack<suffix>/cdk.tf.json
	$(PYTHON) -m tools.stack synth

validate: install ## terraform validate against the real provider schema (offline mirror)
	$(PYTHON) -m tools.stack validate

deploy: install ## Deploy (local emulator by default), write cfn-outputs/flat-outputs.json, print a summary
	$(PYTHON) -m tools.stack deploy

plan: install ## terraform plan rendered to plan-summary.md; exit 3 when it replaces or deletes stateful resources
	$(PYTHON) -m tools.stack plan

destroy: install ## Destroy the deployed stack
	$(PYTHON) -m tools.stack destroy

down: install ## Stop the local emulator
	$(PYTHON) -m tools.stack down

test-fast: install ## Unit (+ terraform validate), handler, tool and emulator tests: no deployment
	$(PYTHON) -m pytest tests/unit tests/lambda tests/tools tests/emulator -q -p no:cacheprovider

scan: install ## checkov over the dev and prod synth (own virtualenv, offline); 0 failed checks
	@rm -rf build/scan
	$(SCAN_ENV) ENVIRONMENT=dev ENVIRONMENT_SUFFIX=scandev $(PYTHON) -m tools.stack synth
	$(SCAN_ENV) ENVIRONMENT=prod ENVIRONMENT_SUFFIX=scanprod CLIENT_CA_BUNDLE_S3_URI=$(SCAN_CA_BUNDLE) \
		$(PYTHON) -m tools.stack synth
	$(PYTHON) -m tools.scan --venv .venv-checkov --config .checkov.yaml \
		cdktf.out/stacks/TapStackscandev/cdk.tf.json cdktf.out/stacks/TapStackscanprod/cdk.tf.json

e2e: install ## Deploy to a fresh emulator, integration tests, no-change plan, destroy, nothing left
	$(PYTHON) -m tools.e2e

test: test-fast scan e2e ## Everything: all of the above, as CI runs it

docs: install ## Regenerate the README settings table from lib/config.py
	$(PYTHON) -m tools.settings_doc

bench: install ## Benchmarks (not part of test): synth, unit suite, zips, emulator apply/plan/destroy
	$(PYTHON) -m bench.run

clean: ## Remove build output (not the venv, not state)
	rm -rf cdktf.out build .pytest_cache plan-summary.md
