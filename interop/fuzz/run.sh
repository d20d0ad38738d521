#!/usr/bin/env bash
# Schema-based fuzzing of the Agent and Account APIs with schemathesis (pinned in requirements.txt,
# installed in a venv under target/interop/fuzz). A server is started with `serve --demo` on a free
# port (rate limits raised so the fuzzer reaches the handlers); the Agent API is fuzzed with the demo
# agent key and the Account API with the demo account token, every phase (examples, coverage, fuzzing,
# stateful), with every check except `positive_data_acceptance` (see docs/reliability.md: business
# rules such as "the catalog item exists" or "the cursor came from this list" cannot be stated in a
# schema, so a schema-valid request may rightly be refused with 400/404). Afterwards the server log
# must show no 5xx. Bounded by --max-examples and --max-time; any failure exits non-zero.
# Usage: interop/fuzz/run.sh [AGENT_STORE_BINARY] [MAX_EXAMPLES]   (defaults: target/debug/agent-store, 40)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "${1:-$root/target/debug/agent-store}")
examples=${2:-40}
work=$root/target/interop/fuzz
mkdir -p "$work"
if [ ! -x "$work/venv/bin/schemathesis" ] || ! cmp -s "$here/requirements.txt" "$work/requirements.txt"; then
  python3 -m venv "$work/venv"
  timeout 600 "$work/venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$work/requirements.txt"
fi

tmp=$(mktemp -d /tmp/agent-store-fuzz.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AGENT_STORE_LIMITS__RATE_LIMIT_PER_SECOND=1000000 AGENT_STORE_LIMITS__RATE_LIMIT_BURST=1000000 \
  "$bin" serve --demo --listen "127.0.0.1:$port" --data-dir "$tmp/data" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 150); do
  if [ -s "$tmp/data/demo.json" ] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$tmp/server.log"; echo "server exited"; exit 1; fi
  sleep 0.2
done
[ -s "$tmp/data/demo.json" ] || { cat "$tmp/server.log"; echo "server not ready within 30 s"; exit 1; }
agent_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agentApiKey"])' "$tmp/data/demo.json")
account_token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accountToken"])' "$tmp/data/demo.json")

status=0
fuzz() { # name path-regex credential
  echo "== schemathesis: $1"
  if timeout 900 "$work/venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
      --checks all --exclude-checks positive_data_acceptance \
      --include-path-regex "$2" -H "Authorization: Bearer $3" \
      --phases examples,coverage,fuzzing,stateful --max-examples "$examples" --max-time 150 \
      --workers 2 --seed 20261128 --no-color --suppress-health-check all >"$tmp/$1.txt" 2>&1; then
    grep -E "Test cases:|passed|generated" "$tmp/$1.txt" | tail -3
  else
    cat "$tmp/$1.txt" | tail -150; echo "FAIL schemathesis $1"; status=1
  fi
}
fuzz agent-api '^/v1/agent/' "$agent_key"
fuzz account-api '^/v1/account' "$account_token"
if grep -E 'status=5[0-9][0-9]' "$tmp/server.log" | head -5 | grep -q .; then
  grep -E 'status=5[0-9][0-9]' "$tmp/server.log" | head -20; echo "FAIL: the server answered 5xx"; status=1
fi
requests=$(grep -c 'status=' "$tmp/server.log" || true)
echo "fuzz: $requests requests served, none 5xx" 
[ "$status" -eq 0 ] || tail -n 40 "$tmp/server.log"
exit "$status"
