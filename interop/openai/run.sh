#!/usr/bin/env bash
# Interop of the OpenAI-compatible router with the official SDKs, each pinned: Python `openai`
# (requirements.txt, in a venv) and Node `openai@6` (package.json), installed under target/interop.
# A mock OpenAI-compatible upstream (mock_upstream.py, stdlib Python) and a server (`serve --demo`,
# with a config that routes model `mock/gpt-4o-mini`, alias `claude-sonnet-4`, to the mock) are started
# on free ports; the demo agent buys 5 USD of router credits over REST and mints a router key; each
# SDK lists models, completes and streams (with and without include_usage) against the offline
# sandbox/echo model and against the mock through the alias. Afterwards the router's usage must show
# exactly the mock's reported tokens and their cost, and the mock must have been asked for usage on
# every stream. Every wait is bounded; any failure exits non-zero.
# Usage: interop/openai/run.sh [AGENT_STORE_BINARY]   (default: target/debug/agent-store)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "${1:-$root/target/debug/agent-store}")
work=$root/target/interop/openai
mkdir -p "$work"

if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
timeout 300 "$work/venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
mkdir -p "$work/node"
if ! cmp -s "$here/package.json" "$work/node/package.json" || [ ! -d "$work/node/node_modules/openai" ]; then
  cp "$here/package.json" "$work/node/"
  (cd "$work/node" && timeout 300 npm install --no-audit --no-fund --loglevel=error)
fi
cp "$here/node_client.mjs" "$work/node/"

tmp=$(mktemp -d /tmp/agent-store-openai-interop.XXXXXX)
server_pid=""
mock_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
mock_port=$(free_port)
export MOCK_UPSTREAM_KEY="mock-upstream-secret-$RANDOM$RANDOM"
python3 "$here/mock_upstream.py" "$mock_port" "$tmp/mock-requests.jsonl" >"$tmp/mock.log" 2>&1 &
mock_pid=$!
cat >"$tmp/config.toml" <<TOML
[[router.upstreams]]
name = "mock"
base_url = "http://127.0.0.1:$mock_port/v1"
api_key_env = "MOCK_UPSTREAM_KEY"
[[router.upstreams.models]]
id = "mock/gpt-4o-mini"
upstream_model = "gpt-4o-mini"
aliases = ["claude-sonnet-4"]
input_price_micro_per_million = 1000000
output_price_micro_per_million = 2000000
context_tokens = 128000
max_output_tokens = 1000
TOML
"$bin" serve --demo --config "$tmp/config.toml" --listen "127.0.0.1:$port" --data-dir "$tmp/data" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 150); do
  if [ -s "$tmp/data/demo.json" ] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$tmp/server.log"; echo "server exited"; exit 1; fi
  sleep 0.2
done
[ -s "$tmp/data/demo.json" ] || { cat "$tmp/server.log"; echo "server not ready within 30 s"; exit 1; }

# Buy router credits and mint a router key with the demo agent (bounded polling).
read -r base_url router_key < <(timeout 60 python3 - "$tmp/data/demo.json" <<'PY'
import json, sys, time, urllib.request
demo = json.load(open(sys.argv[1]))
api, key = demo["apiBaseUrl"], demo["agentApiKey"]
def call(method, path, body=None):
    req = urllib.request.Request(api + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)
quote = call("POST", "/quotes", {"catalogItemId": "cat_router_credit_001", "quantity": 1,
                                 "configuration": {"creditAmountUsd": 5}})
purchase = call("POST", "/purchases", {"quoteId": quote["quote"]["id"], "idempotencyKey": "openai-interop"})
pid = purchase["purchase"]["id"]
for _ in range(200):
    p = call("GET", f"/purchases/{pid}")["purchase"]
    if p["status"] != "provisioning":
        break
    time.sleep(0.1)
assert p["status"] == "completed", p
created = call("POST", f"/services/{p['serviceId']}/router/api-keys", {"label": "interop"})
print(created["routerApiKey"]["baseUrl"], created["routerApiKey"]["key"])
with open(sys.argv[1] + ".service", "w") as f:
    f.write(p["serviceId"])
PY
)

status=0
if timeout 120 "$work/venv/bin/python" "$here/py_client.py" "$base_url" "$router_key" claude-sonnet-4; then :; else
  echo "FAIL python openai $(grep -m1 '^openai' "$here/requirements.txt")"; status=1
fi
if timeout 120 node "$work/node/node_client.mjs" "$base_url" "$router_key" claude-sonnet-4; then :; else
  echo "FAIL node openai $(node -p 'require(process.argv[1]).version' "$work/node/node_modules/openai/package.json")"; status=1
fi

# The books of the run: 6 upstream requests (3 per SDK), each 7 prompt + 3 completion tokens at
# 1 and 2 USD per million, i.e. 13 micro-USD each; every stream asked the mock for usage; the
# upstream saw its own model name.
if [ "$status" -eq 0 ]; then
  if timeout 60 python3 - "$tmp/data/demo.json" "$tmp/mock-requests.jsonl" <<'PY'
import json, sys, time, urllib.request
demo = json.load(open(sys.argv[1]))
service = open(sys.argv[1] + ".service").read().strip()
req = urllib.request.Request(f"{demo['apiBaseUrl']}/services/{service}/router/usage",
                             headers={"Authorization": f"Bearer {demo['agentApiKey']}"})
for _ in range(50):  # settlement of the last stream may trail its [DONE] by a moment
    usage = json.load(urllib.request.urlopen(req, timeout=10))["usage"]
    mock = [m for m in usage["byModel"] if m["model"] == "mock/gpt-4o-mini"]
    if mock and mock[0]["requests"] == 6:
        break
    time.sleep(0.1)
assert mock, usage
assert mock[0] == {"model": "mock/gpt-4o-mini", "requests": 6, "promptTokens": 42, "completionTokens": 18,
                   "costMicroUsd": 78}, mock
upstream = [json.loads(line) for line in open(sys.argv[2])]
assert len(upstream) == 6, upstream
assert all(r["model"] == "gpt-4o-mini" for r in upstream), upstream
streams = [r for r in upstream if r.get("stream")]
assert len(streams) == 4 and all(r["stream_options"]["include_usage"] is True for r in streams), streams
print("router books ok: 6 upstream requests, 42 + 18 tokens, 78 micro-USD charged; usage requested on every stream")
PY
  then :; else echo "FAIL router usage after the SDK runs"; status=1; fi
fi
[ "$status" -eq 0 ] || { tail -n 40 "$tmp/server.log"; }
exit "$status"
