# ngx-zk: the verbs a developer and CI use. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NGX := $(CURDIR)/$(VENV)/bin/ngx-zk
BIN := node_modules/.bin
FORGE := $(CURDIR)/$(BIN)/forge
DEMO_HOME ?= $(CURDIR)/.ngx-zk/demo
DEMO_PORT ?= 18545
DEMO_DATA_PORT ?= 18546
PYTEST_ARGS ?=
# make test runs this many pytest processes side by side, a module per process at a time (1: one process).
# Most chain tests wait on blocks and windows, not on the CPU; TEST_WORKERS=1 runs them one after another.
TEST_WORKERS ?= 3
PYTEST_WORKERS := $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)
EXPLORER_PORT ?= 8080
BLOCK_TIME ?=

.PHONY: help setup contracts demo test test-fast test-chain fuzz lint bench models clean system-deps explorer

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: $(VENV)/.installed node_modules/.installed system-deps ## Create .venv and install Python and npm dependencies (pinned)

system-deps: ## Debian packages the explorer's tests use (chromium, PostgreSQL server); a no-op when they are there
	@missing=""; [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null; then \
	    sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	  else echo "no apt-get: install$$missing yourself (the explorer's browser and PostgreSQL tests skip without them)"; fi; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,torch,fleet]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

contracts: setup ## Build the Solidity contracts and export their ABIs to ngx_zk/chain/artifacts
	@if [ -f verifier_contracts/foundry.toml ]; then \
	  cd verifier_contracts && $(FORGE) build --quiet && cd .. && $(PY) verifier_contracts/script/export_artifacts.py; \
	fi

demo: setup contracts ## Run the marketplace end to end on a local chain: devnet, deploy, publish, worker, prove-job, audit (BLOCK_TIME=2: a block every 2 s)
	@rm -rf $(DEMO_HOME) && mkdir -p $(DEMO_HOME)
	@set -euo pipefail; export NGX_ZK_HOME=$(DEMO_HOME); cd $(DEMO_HOME); \
	step() { printf '\n\033[1m== %s\033[0m\n' "$$*"; }; \
	step "start a local chain (anvil) and deploy the contracts"; \
	$(NGX) devnet up --fresh --port $(DEMO_PORT)$(if $(BLOCK_TIME), --block-time $(BLOCK_TIME)); \
	export NGX_ZK_RPC_URL=http://127.0.0.1:$(DEMO_PORT); \
	trap '$(NGX) devnet down >/dev/null; [ -n "$${WORKER:-}" ] && kill $$WORKER 2>/dev/null; true' EXIT; \
	$(NGX) deploy; \
	step "model owner: build the mlp circuit (public output), a private variant (hashed output) and a batch circuit (4 inputs per proof), publish them"; \
	$(NGX) model build $(CURDIR)/models/mlp; \
	$(NGX) model build $(CURDIR)/models/mlp --name mlp_private --visibility hashed/fixed/hashed; \
	$(NGX) model build $(CURDIR)/models/mlp --batch 4; \
	$(NGX) model publish mlp --account deployer --royalty-bps 100; \
	$(NGX) model publish mlp_private --account deployer --royalty-bps 100; \
	$(NGX) model publish mlp_b4 --account deployer --royalty-bps 100; \
	step "provider: register (with a data-plane endpoint), stake, start the worker in the background"; \
	$(NGX) provider register --account provider --endpoint http://127.0.0.1:$(DEMO_DATA_PORT); \
	$(NGX) provider stake 5000 --account provider; \
	$(NGX) worker --model mlp --model mlp_private --model mlp_b4 --account provider --max-jobs 6 --min-price 5 --listen 127.0.0.1:$(DEMO_DATA_PORT) \
	    --log-file worker.log & WORKER=$$!; \
	step "consumer: post a job with escrow, hand over the input sealed, get a verified output"; \
	$(NGX) prove-job mlp --input $(CURDIR)/models/mlp/input.json --price 10 --account consumer --timeout 180; \
	step "consumer: a private job (only commitments and proof on chain; the output comes back sealed)"; \
	$(NGX) prove-job mlp_private --private --input $(CURDIR)/models/mlp/input.json --price 10 --account consumer --timeout 180; \
	step "consumer: offer a job to a chosen provider, which proves while the job is posted and claimed"; \
	PROVIDER=$$($(NGX) provider status --account provider --json | $(abspath $(PY)) -c 'import json, sys; print(json.load(sys.stdin)["provider"])'); \
	$(NGX) prove-job mlp --input $(CURDIR)/models/mlp/input.json --price 10 --account consumer --timeout 180 --provider $$PROVIDER; \
	step "consumer: a batch job: four inputs, one proof, each input with its own salt and commitment"; \
	$(NGX) prove-job mlp --inputs $(CURDIR)/models/mlp/batch4.jsonl --price 20 --account consumer --timeout 180; \
	step "consumer: an auction: the price rises from 2 to 10 NGX over 60 s; the worker (--min-price 5) claims when it reaches 5, the rest comes back"; \
	$(NGX) prove-job mlp --input $(CURDIR)/models/mlp/input.json --min-price 2 --max-price 10 --ramp 60 --account consumer --timeout 180; \
	step "a contract as consumer: a LoanGate pays for a verified risk score; the market calls it back with the output"; \
	$(abspath $(PY)) $(CURDIR)/examples/loan_gate.py --model mlp --input $(CURDIR)/models/mlp/input.json --threshold 0; \
	wait $$WORKER; WORKER=; \
	step "auditor: re-check the jobs from chain data"; \
	$(NGX) verify --job 1 --model mlp; \
	$(NGX) verify --job 2 --model mlp_private; \
	$(NGX) verify --job 3 --model mlp; \
	$(NGX) verify --job 4 --model mlp_b4; \
	$(NGX) verify --job 5 --model mlp; \
	$(NGX) verify --job 6 --model mlp; \
	step "summary"; \
	$(NGX) provider status --account provider; \
	$(NGX) reputation; \
	echo "worker log: $(DEMO_HOME)/worker.log"; \
	step "explore this run in a browser"; \
	echo "make explorer    # then open http://127.0.0.1:$(EXPLORER_PORT)/ (or: NGX_ZK_HOME=$(DEMO_HOME) $(NGX) explorer after devnet up)"

explorer: setup ## Explore the demo chain (after make demo): indexer, JSON API, pages on http://127.0.0.1:8080/ (EXPLORER_PORT=...)
	@test -d $(DEMO_HOME)/deployments || { echo "no demo chain in $(DEMO_HOME): run make demo first"; exit 1; }
	@set -euo pipefail; export NGX_ZK_HOME=$(DEMO_HOME); cd $(DEMO_HOME); \
	$(NGX) devnet up --port $(DEMO_PORT) >/dev/null; trap '$(NGX) devnet down >/dev/null' EXIT; \
	$(NGX) explorer --rpc-url http://127.0.0.1:$(DEMO_PORT) --port $(EXPLORER_PORT)

test: setup contracts ## Run every test: Python (pytest, incl. the slow tier) and Solidity (forge)
	$(PY) -m pytest -q $(PYTEST_WORKERS) $(PYTEST_ARGS)
	@if [ -f verifier_contracts/foundry.toml ]; then cd verifier_contracts && $(FORGE) test; fi

fuzz: setup contracts ## Longer fuzz and invariant campaigns on the contracts (CI runs 256 fuzz runs, 32x32 invariants)
	cd verifier_contracts && FOUNDRY_FUZZ_RUNS=$${FUZZ_RUNS:-5000} FOUNDRY_INVARIANT_RUNS=$${INVARIANT_RUNS:-256} \
	    FOUNDRY_INVARIANT_DEPTH=$${INVARIANT_DEPTH:-64} $(FORGE) test

test-fast: setup ## Python tests without the slow and chain tiers (no anvil needed)
	$(PY) -m pytest -q -m "not slow and not chain" $(PYTEST_ARGS)

test-chain: setup contracts ## The middle tier: Python tests against anvil that build or prove nothing slow
	$(PY) -m pytest -q -m "chain and not slow" $(PYTEST_ARGS)

lint: setup ## ruff (lint and format check) and mypy (strict) on the package
	$(VENV)/bin/ruff check ngx_zk tests models benchmarks examples
	$(VENV)/bin/ruff format --check ngx_zk tests models benchmarks examples
	$(VENV)/bin/mypy

bench: setup ## Benchmarks: raw EZKL vs tuned build, job latency, gas, throughput, coverage of external models (ARGS="--quick" or "--repeats 5")
	$(PY) benchmarks/run.py $(ARGS)

models: setup ## Re-export the example models (deterministic)
	$(PY) models/build.py

clean: ## Remove build output and local state (keeps .venv and node_modules)
	rm -rf .ngx-zk verifier_contracts/out verifier_contracts/cache .pytest_cache
