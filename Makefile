# gitops-platform: every entry point. `make help` lists them.
# The two set-up commands (README): `make up` (the local stack: the whole GitOps loop on this
# machine, no Docker) and `make test` (the tests).
# Each installs what it needs: the Python venv (`install`) and the Go-built toolchain
# (`toolchain`, cached outside the repo; see toolchain/README.md).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
STACK ?= local
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Where Pulumi, its plugins and the cluster tools come from (README "Prerequisites"):
#   TOOLCHAIN=go      built from Go modules by toolchain/build.sh, cached outside the repo;
#   TOOLCHAIN=system  what is installed on PATH (the Pulumi CLI and its kubernetes plugin,
#                     kind, kwok...): nothing is built.
# Default: system when `pulumi` and the kubernetes provider plugin are already installed
# (on PATH or in the Pulumi plugin folder), go otherwise.
PULUMI_PLUGINS := $(or $(PULUMI_HOME),$(HOME)/.pulumi)/plugins
SYSTEM_PULUMI := $(shell command -v pulumi >/dev/null 2>&1 && \
	{ command -v pulumi-resource-kubernetes >/dev/null 2>&1 || \
	  ls -d $(PULUMI_PLUGINS)/resource-kubernetes-v* >/dev/null 2>&1; } && echo yes)
TOOLCHAIN ?= $(if $(SYSTEM_PULUMI),system,go)
export TOOLCHAIN
export PULUMI_SKIP_UPDATE_CHECK := true
ifeq ($(TOOLCHAIN),go)
TOOLCHAIN_BIN := $(shell toolchain/build.sh --bin-dir 2>/dev/null)
export PATH := $(TOOLCHAIN_BIN):$(CURDIR)/$(VENV)/bin:$(PATH)
# Offline engine: plugins come from the toolchain on PATH, never from downloads.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
else ifeq ($(TOOLCHAIN),system)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
else
$(error TOOLCHAIN must be go or system, not '$(TOOLCHAIN)')
endif
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
# A local passphrase for the local state backend, generated once and never committed; only
# when neither PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is given.
PASSPHRASE_FILE := $(CURDIR)/.pulumi-state/.passphrase
ifeq ($(origin PULUMI_CONFIG_PASSPHRASE)$(origin PULUMI_CONFIG_PASSPHRASE_FILE),undefinedundefined)
export PULUMI_CONFIG_PASSPHRASE_FILE := $(PASSPHRASE_FILE)
PASSPHRASE := $(PASSPHRASE_FILE)
endif

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

.PHONY: install
install: $(STAMP) ## Create .venv with the project and platformctl installed

.PHONY: toolchain
toolchain: ## Build Pulumi, providers, kube control plane, kwok, Argo CD... (cached; TOOLCHAIN=go)
ifeq ($(TOOLCHAIN),system)
	@echo "toolchain: TOOLCHAIN=system: using $$(command -v pulumi) and the tools on PATH; building nothing"
else
	toolchain/build.sh
endif

$(PASSPHRASE_FILE):
	mkdir -p $(dir $@)
	umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(32))' > $@

.PHONY: stack
stack: install toolchain $(PASSPHRASE)
	mkdir -p .pulumi-state
	pulumi stack select --create $(STACK) --non-interactive
	$(PY) -m infra.ops.crd_migration --stack $(STACK)

.PHONY: migrate
migrate: stack ## Mark STACK's per-CRD resources of the previous version retained (docs/upgrading.md)

.PHONY: preview
preview: stack ## pulumi preview of STACK (default local)
	pulumi preview --stack $(STACK) --diff --policy-pack policy

.PHONY: up
up: stack ## Deploy the local stack (or STACK=dev|prod): cluster, Argo CD, AppProjects, ApplicationSets
	pulumi up --stack $(STACK) --yes --skip-preview=false --policy-pack policy
	$(VENV)/bin/platformctl status --stack $(STACK) --wait 300 --if-local

.PHONY: password
password: ## Print the Argo CD admin password of STACK (a secret: mind your terminal)
	@pulumi stack output adminPassword --show-secrets --stack $(STACK)

.PHONY: destroy
destroy: stack ## Tear down STACK (default local)
	pulumi destroy --stack $(STACK) --yes

.PHONY: validate
validate: install ## Validate apps/ and every stack file
	$(VENV)/bin/platformctl validate

.PHONY: render
render: install ## Print the Argo CD objects of STACK
	$(VENV)/bin/platformctl render --stack $(STACK)

.PHONY: lint
lint: install ## ruff check + format check
	$(VENV)/bin/ruff check infra tests benchmarks policy
	$(VENV)/bin/ruff format --check infra tests benchmarks policy

.PHONY: typecheck
typecheck: install ## mypy: --strict on infra/ and policy/, non-strict on tests/ (pyproject.toml)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict policy

.PHONY: test-unit
test-unit: install ## The fast, offline tier: pure functions, Pulumi mocks, properties, goldens
	$(VENV)/bin/pytest -m 'not e2e' -q

# Test workers: the end-to-end modules (each its own cluster, state and ports) run side by
# side, a whole module per worker at a time (its tests share its stack and run in order).
TEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadscope

.PHONY: e2e
e2e: install toolchain browser ## The real engine against a local kwok cluster, dev and prod configs
	$(VENV)/bin/pytest -m e2e -q $(PYTEST_PARALLEL)

.PHONY: actionlint
actionlint: toolchain ## Lint the GitHub workflows (actionlint from the toolchain)
	actionlint .github/workflows/*.yml examples/hello-api/.github/workflows/*.yml

# The browser tests' Chromium and its WebDriver: Debian's packages (nothing is downloaded at
# test time). Installed once, with apt-get (as root, or through sudo).
BROWSER_PACKAGES := chromium chromium-driver
APT := $(if $(filter 0,$(shell id -u)),,sudo) apt-get
.PHONY: browser
browser: ## Install Debian's chromium and chromium-driver for the browser tests (once)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "browser: installing $(BROWSER_PACKAGES) with apt-get"; \
	  $(APT) install -y -q --no-install-recommends $(BROWSER_PACKAGES) >/dev/null || \
	  { $(APT) update -q >/dev/null && $(APT) install -y -q --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; }; \
	fi

.PHONY: test
test: install toolchain browser lint typecheck actionlint ## Everything this machine can run (what CI runs)
	$(VENV)/bin/pytest -q $(PYTEST_PARALLEL) --durations=25

.PHONY: screenshots
screenshots: install toolchain browser ## Retake docs/images/*.png (docs/web-ui.md) with the browser tests
	DOC_SCREENSHOTS=$(CURDIR)/docs/images $(VENV)/bin/pytest -q -m e2e $(PYTEST_PARALLEL) \
	  tests/e2e/test_local_stack.py \
	  tests/e2e/test_controllers.py::test_up_runs_every_controller_and_every_app_goes_synced_and_healthy \
	  tests/e2e/test_controllers.py::test_a_canary_walks_its_steps_with_its_checks_then_waits_for_promotion \
	  tests/e2e/test_platform_prod.py::test_fresh_stack_previews_then_creates_cluster_and_argocd \
	  tests/e2e/test_platform_prod.py::test_argocd_syncs_as_the_environment_says \
	  tests/e2e/test_platform_prod.py::test_a_bump_commit_reaches_the_cluster \
	  tests/e2e/test_platform_prod.py::test_a_deny_window_blocks_syncs_unless_manual_sync_is_allowed

.PHONY: goldens
goldens: install ## Regenerate tests/golden/* (renders, the plan) after an intended change
	UPDATE_GOLDENS=1 $(VENV)/bin/pytest -q tests/unit/test_golden.py tests/unit/test_plan.py -k "golden"

.PHONY: bench
bench: install toolchain ## Benchmarks; writes docs/benchmarks.md
	$(PY) benchmarks/run.py
	$(PY) benchmarks/crds.py
	$(PY) benchmarks/plan.py
	$(PY) benchmarks/webhook.py
	$(PY) benchmarks/appdiff.py
	$(PY) benchmarks/fleet.py

.PHONY: clean
clean: ## Remove the venv and caches (not the toolchain cache, not the state)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info

.PHONY: bench-crds
bench-crds: install toolchain ## Issue 16's benchmark: no-op preview/up against the CRD-free floor
	$(PY) benchmarks/crds.py

.PHONY: bench-webhook
bench-webhook: install toolchain ## Issue 19's benchmark: a pushed bump to the live image, webhook vs polling
	$(PY) benchmarks/webhook.py
