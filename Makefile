# Every target installs what it needs, so each works on a fresh clone.
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

.PHONY: help install synth validate test test-unit test-lambda test-tools deploy destroy down plan scan bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(INSTALLED) ## Install the pinned toolchain into .venv (pipenv from PyPI if missing)

$(INSTALLED): Pipfile.lock
	@$(HOST_PYTHON) -m pipenv --version >/dev/null 2>&1 || $(HOST_PYTHON) -m pip install --quiet "pipenv==$(PIPENV_VERSION)"
	$(HOST_PYTHON) -m pipenv sync --dev
	@rm -f .venv/.installed-*
	@touch $@

synth: install ## Synthesize the stack into cdktf.out/ (settings from environment variables)
	$(PYTHON) -m tools.stack synth

validate: install ## terraform validate the synthesized stack against the real provider schema
	$(PYTHON) -m tools.stack validate

test-unit: install ## Unit tests on the synthesized JSON (+ terraform validate)
	$(PYTHON) -m pytest tests/unit -q

test: install ## Everything: unit, validate
	$(PYTHON) -m pytest tests/unit -q

clean: ## Remove build output (not the venv, not state)
	rm -rf cdktf.out build .pytest_cache
