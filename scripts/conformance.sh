#!/usr/bin/env bash
# `make conformance`: runs the public SCIM conformance tools against a fresh local worker.
#
#   1. a venv in .venv (git-ignored) with pinned scim2-cli (scim2-tester behind `scim test`) and
#      scim-sanity, installed only when missing or at another version;
#   2. the built worker (build/index.js, `make build-worker`) in workerd through `wrangler dev` on a
#      free loopback port, with a throw-away state directory, a random ADMIN_TOKEN and a random
#      CONNECTION_ID_KEY;
#   3. one connection + token per tool, so neither sees the other's users;
#   4. both tools against their connection's SCIM base URL; everything they print, their results
#      as JSON and every HTTP exchange they made go to build/conformance/; then a summary.
#
# Exit status: 0 when every in-scope check passed, 1 otherwise. Scope: what scim-edge does not
# serve (CONFORMANCE_OUT_OF_SCOPE, default "Agent,AgenticApplication": the draft agent extension)
# is reported but does not fail the run; see scripts/conformance.py for how results are judged.
#
# Environment: CONFORMANCE_SKIP_BUILD=1 serves build/ as it is (no `make build-worker`);
# PYTHON=python3.x picks the interpreter for the venv (default python3.11, else python3).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

# Pinned tools (checked with `pip index versions NAME`). scim2-cli only bounds scim2-tester,
# scim2-client and scim2-models from below, and they hold the checks and the SCIM parsing, so they
# are pinned too: a new upstream release never changes the verdict silently.
PINS=(
  scim2-cli==0.6.0
  scim2-tester==0.5.2
  scim2-client==0.13.2
  scim2-models==0.12.3
  scim-sanity==0.7.4
)

VENV="$ROOT/.venv"
OUT="$ROOT/build/conformance"
HELPER="$ROOT/scripts/conformance.py"

say() { echo "conformance: $*"; }

# --- 1. the tools ------------------------------------------------------------------------------
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  say "creating the venv $VENV with $PYTHON"
  "$PYTHON" -m venv --clear "$VENV"
fi
missing=$("$VENV/bin/python" - "${PINS[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        ok = version(name) == wanted
    except PackageNotFoundError:
        ok = False
    if not ok:
        print(spec)
PY
)
if [ -n "$missing" ]; then
  say "installing $(echo $missing)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
fi

# --- 2. the worker -----------------------------------------------------------------------------
if [ -z "${CONFORMANCE_SKIP_BUILD:-}" ]; then
  make -s --no-print-directory build-worker
fi
[ -f build/index.js ] || { say "build/index.js is missing (make build-worker)"; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/scim-edge-conformance.XXXXXX")"
WPID=""

stop_worker() {
  if [ -n "$WPID" ] && kill -0 "$WPID" 2>/dev/null; then
    # wrangler runs in its own process group (setsid): stop it with workerd, by that group id.
    kill -TERM -- "-$WPID" 2>/dev/null || kill -TERM "$WPID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 -- "-$WPID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$WPID" 2>/dev/null || true
  fi
  WPID=""
}
cleanup() {
  stop_worker
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A private copy of the bundle, with the project's wrangler config minus its [build] table, so that
# wrangler neither rebuilds nor reloads the worker mid-run when someone edits src/ meanwhile.
mkdir -p "$TMP/bundle/build"
for f in build/*; do
  case "$f" in build/conformance|build/dry-run|build/*.log) continue ;; esac
  cp -r "$f" "$TMP/bundle/build/"
done
awk '/^[[:space:]]*\[/ { in_build = ($0 ~ /^[[:space:]]*\[[[:space:]]*build[[:space:]]*\]/) } !in_build' \
  wrangler.toml | sed 's|^main[[:space:]]*=.*|main = "build/index.js"|' > "$TMP/bundle/wrangler.toml"

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
PORT=$(free_port)
INSPECTOR_PORT=$(free_port)
ADMIN_TOKEN="adm_$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(24))')"
export ADMIN_TOKEN
# Connection ids carry a MAC under this key (README: Configuration).
CONNECTION_ID_KEY="$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))')"
ORIGIN="http://127.0.0.1:$PORT"

say "starting the worker on $ORIGIN (log: build/conformance/wrangler.log)"
CI=1 setsid wrangler dev --config "$TMP/bundle/wrangler.toml" \
  --ip 127.0.0.1 --port "$PORT" --persist-to "$TMP/state" \
  --var "ADMIN_TOKEN:$ADMIN_TOKEN" --var "CONNECTION_ID_KEY:$CONNECTION_ID_KEY" \
  --show-interactive-dev-session=false \
  --inspector-port "$INSPECTOR_PORT" \
  </dev/null >"$OUT/wrangler.log" 2>&1 &
WPID=$!
if ! "$VENV/bin/python" "$HELPER" wait-health --url "$ORIGIN" --pid "$WPID" --timeout 120; then
  tail -n 40 "$OUT/wrangler.log" >&2
  exit 1
fi

# --- 3 and 4. a connection per tool, then the tool ---------------------------------------------
for tool in scim2-tester scim-sanity; do
  conn=$("$VENV/bin/python" "$HELPER" connection --url "$ORIGIN" --name "conformance-$tool") \
    || { say "could not create a connection for $tool"; exit 1; }
  read -r base token <<<"$conn"
  say "running $tool against $base"
  CONFORMANCE_TOKEN="$token" "$VENV/bin/python" "$HELPER" "$tool" --url "$base" --out "$OUT" \
    || say "$tool: the runner failed (exit $?); the summary reports it"
done

stop_worker
echo
"$VENV/bin/python" "$HELPER" summary --out "$OUT"
