#!/usr/bin/env bash
# `make dev`: serves the built worker in workerd (through wrangler) on 127.0.0.1:$PORT, with
# Durable Object state persisted under .wrangler/state. ADMIN_TOKEN and CONNECTION_ID_KEY in the
# environment win over the ones in .dev.vars (which scripts/setup.sh fills).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
PORT="${PORT:-8787}"
args=(--ip 127.0.0.1 --port "$PORT" --persist-to .wrangler/state --show-interactive-dev-session=false)
# Logout tokens name this server as their issuer, whatever the port.
args+=(--var "LOGOUT_ISSUER:http://127.0.0.1:$PORT")
# Webhook and logout receivers on this machine (http://127.0.0.1:…) may be registered; a
# deployment refuses every non-public host (wrangler.toml leaves ALLOW_LOOPBACK_TARGETS unset).
args+=(--var "ALLOW_LOOPBACK_TARGETS:on")
if [ -n "${ADMIN_TOKEN:-}" ]; then
  args+=(--var "ADMIN_TOKEN:$ADMIN_TOKEN")
  token_hint='$ADMIN_TOKEN'
else
  token_hint="\$(sed -n 's/^ADMIN_TOKEN=//p' $ROOT/.dev.vars)"
fi
# Connection ids carry a MAC under CONNECTION_ID_KEY: without it no connection can be created.
if [ -n "${CONNECTION_ID_KEY:-}" ]; then
  args+=(--var "CONNECTION_ID_KEY:$CONNECTION_ID_KEY")
elif ! grep -q '^CONNECTION_ID_KEY=.' .dev.vars 2>/dev/null; then
  echo "dev: CONNECTION_ID_KEY is missing from .dev.vars: run scripts/setup.sh (or make dev)" >&2
  exit 1
fi
cat <<MSG

scim-edge: serving on http://127.0.0.1:$PORT (state in .wrangler/state)
  admin API:  http://127.0.0.1:$PORT/admin/v1   (Authorization: Bearer <ADMIN_TOKEN from .dev.vars>)
  create a connection:
    curl -s -X POST http://127.0.0.1:$PORT/admin/v1/connections \\
      -H "Authorization: Bearer $token_hint" \\
      -H 'content-type: application/json' -d '{"name": "Acme"}'

MSG
exec wrangler dev "${args[@]}"
