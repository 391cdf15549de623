#!/usr/bin/env bash
# Installs what building and testing need, idempotently: the wasm32 target, worker-build and a
# wasm-bindgen-cli of exactly the locked wasm-bindgen version, the npm packages (wrangler, workerd,
# binaryen, esbuild, Node 22, playwright-core), Debian's chromium for the browser test, curl and jq
# for the README's shell examples (which a test runs), and .dev.vars with fresh ADMIN_TOKEN,
# APP_API_TOKEN, CONNECTION_ID_KEY and LOGOUT_SIGNING_KEYS when they are missing. See docs/toolchain.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock 2>/dev/null | sed -n 's/^version = "\(.*\)"/\1/p')
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $NF}')" != "$WASM_BINDGEN_VERSION" ]; then
  echo "setup: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# `worker-build --version` prints the bare version, `wasm-bindgen --version` "wasm-bindgen X".
if [ "$(worker-build --version 2>/dev/null | awk '{print $NF}')" != "$WORKER_BUILD_VERSION" ]; then
  echo "setup: installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

# Debian's Chromium for the browser test of the setup page (tests/e2e/setup-page.test.mjs);
# playwright-core drives it and never downloads a browser of its own. Without apt the test skips.
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -ne 0 ]; then
    echo "setup: /usr/bin/chromium is missing; run 'sudo apt-get install chromium' for the browser test (skipped until then)"
  elif command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian chromium (once)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q chromium
  else
    echo "setup: no apt-get and no /usr/bin/chromium: the browser test will be skipped"
  fi
fi

# curl and jq: the README's shell examples use them, and tests/e2e/readme-examples.test.mjs runs
# those examples (it fails, saying which command is missing, without them).
missing=()
for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing Debian ${missing[*]} (once)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q "${missing[@]}"
  else
    echo "setup: ${missing[*]} missing: install them (e.g. 'sudo apt-get install ${missing[*]}') for the README examples"
  fi
fi

# Local secrets: each one that .dev.vars lacks gets a fresh random value.
random_secret() { head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 40; }
for name in ADMIN_TOKEN APP_API_TOKEN; do
  if ! grep -q "^$name=" .dev.vars 2>/dev/null; then
    (umask 077; echo "$name=$(random_secret)" >> .dev.vars)
    echo "setup: added a fresh random $name to .dev.vars"
  fi
done
# The key connection ids carry a MAC under (README: Configuration): 64 hex digits, 32 bytes.
if ! grep -q "^CONNECTION_ID_KEY=" .dev.vars 2>/dev/null; then
  (umask 077; echo "CONNECTION_ID_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> .dev.vars)
  echo "setup: added a fresh CONNECTION_ID_KEY to .dev.vars"
fi
# The Logout Token signing key (a one-line JSON array of private JWKs). Node 22 from
# node_modules, installed by npm ci above, is first on PATH (scripts/env.sh).
if ! grep -q "^LOGOUT_SIGNING_KEYS=" .dev.vars 2>/dev/null; then
  signing_keys=$(node scripts/gen-signing-key.mjs)
  (umask 077; echo "LOGOUT_SIGNING_KEYS=$signing_keys" >> .dev.vars)
  echo "setup: added a fresh LOGOUT_SIGNING_KEYS to .dev.vars"
fi
