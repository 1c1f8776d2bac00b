#!/usr/bin/env bash
# Used by `make demo`: migrate the SQLite database, load the demo register, create a demo
# service account, print how to use it, then run the server in the foreground, and the import
# worker in the background (its log in $REGISTRA_DATA_DIR/worker.log).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export REGISTRA_DATA_DIR="${REGISTRA_DATA_DIR:-$PWD/var}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
ORG="${DEMO_ORG:-skyline-mro}"
ASSETS="${DEMO_ASSETS:-2000}"

"$BIN/registra" migrate
# Idempotent: a second start adds nothing; a larger DEMO_ASSETS appends the missing assets.
"$BIN/registra" demo-data --org "$ORG" --assets "$ASSETS" --seed 1
creds=$("$BIN/registra" service-account create --org "$ORG" --name "Demo integration" \
  --scopes "assets:read organization:read" --json)
members=$("$BIN/registra" demo-members --org "$ORG")
client_id=$("$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["clientId"])' <<<"$creds")
client_secret=$("$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["clientSecret"])' <<<"$creds")

cat <<MSG

  Registra is starting at http://$HOST:$PORT/
  Sign in at http://$HOST:$PORT/sign-in as one of these demo members
  (new passwords on every start):
$members

  API reference:          http://$HOST:$PORT/api/v1/docs
  Import worker:          running beside the server (its log: $REGISTRA_DATA_DIR/worker.log)
  Demo service account (shown once, a new one on every start):
    client id:     $client_id
    client secret: $client_secret

  Try it:
    TOKEN=\$(curl -s -X POST http://$HOST:$PORT/api/v1/auth/token \\
      -H 'Content-Type: application/json' \\
      -d '{"grant_type":"client_credentials","client_id":"$client_id","client_secret":"$client_secret"}' \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s -H "Authorization: Bearer \$TOKEN" 'http://$HOST:$PORT/api/v1/assets?limit=2'

MSG
# The background worker beside the server: it plans the files uploaded in the web and applies
# the plans applied there (and runs the nightly imports). It stops when the server does: the
# server replaces this shell (exec), keeping its process id, which the watcher below follows.
"$BIN/registra" worker --worker-id demo-worker >"$REGISTRA_DATA_DIR/worker.log" 2>&1 &
worker=$!
( while kill -0 $$ 2>/dev/null; do sleep 1; done; kill -TERM "$worker" 2>/dev/null ) &
# Ctrl-C reaches every process of the group at once, and a Granian worker sometimes misses its
# stop then: the server kills it after REGISTRA_SERVE_STOP_SECONDS (15 by default; 3 for the demo,
# which has no request worth waiting for).
REGISTRA_SERVE_STOP_SECONDS="${REGISTRA_SERVE_STOP_SECONDS:-3}" \
  exec "$BIN/registra" serve --host "$HOST" --port "$PORT" --workers "${WORKERS:-2}"
