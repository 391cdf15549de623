# The two commands: `make dev` serves the worker locally, `make test` runs every test.
# Both install what they need first (scripts/setup.sh) and are idempotent.
SHELL := /bin/bash
PORT ?= 8787
ENV := source scripts/env.sh &&
RUST_SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock

.PHONY: setup dev test test-host test-e2e deploy-check deploy conformance bench lint build-worker

setup:
	@scripts/setup.sh

# The worker bundle; wrangler's [build] command calls this too, so it is a no-op when up to date.
# worker-build keeps the wasm name section (wasm-opt --debuginfo); names are ~18% of the module and
# only serve stack traces, so they are stripped afterwards (same feature set worker-build enables).
WASM_FEATURES := $(addprefix --enable-,mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)
build/index.js: $(RUST_SOURCES)
	@$(ENV) worker-build --release
	@$(ENV) wasm-opt build/index_bg.wasm -o build/index_bg.wasm --strip-debug --strip-producers $(WASM_FEATURES)
	@touch build/index.js

# Static assets (wrangler.toml [assets]): served before the Worker runs, kept out of the wasm.
ASSETS := build/assets/admin/v1/openapi.json
build/assets/admin/v1/openapi.json: docs/openapi.json
	@mkdir -p $(dir $@) && cp $< $@

build-worker: build/index.js $(ASSETS)

dev: setup build-worker
	@scripts/dev.sh

test: setup test-host test-e2e deploy-check conformance

test-host:
	@$(ENV) cargo test --locked

test-e2e: build-worker
	@$(ENV) node --test --test-concurrency=1 "tests/e2e/*.test.mjs"

deploy-check: build-worker
	@$(ENV) wrangler deploy --dry-run --outdir build/dry-run > build/dry-run.log 2>&1 || { cat build/dry-run.log; exit 1; }
	@echo "deploy-check: wrangler deploy --dry-run OK"

# Deploys to the Cloudflare account wrangler is logged in to (see README: Deploy).
deploy: setup build-worker
	@$(ENV) wrangler deploy

lint: setup
	@$(ENV) cargo fmt --all -- --check
	@$(ENV) cargo clippy --all-targets -- -D warnings
	@$(ENV) cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings

conformance: setup build-worker
	@scripts/conformance.sh

bench: setup build-worker
	@$(ENV) node benches/bench.mjs
	@$(ENV) node benches/pipeline.mjs
