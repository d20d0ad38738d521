#!/usr/bin/env bash
# Browser tests of the dashboard: playwright-core (pinned in package.json, installed under
# target/interop/browser) drives Debian's chromium, headless. A server is started with `serve --demo`
# on a free port; dashboard.mjs signs in as the demo owner and goes through funding, agents and keys,
# policies, an approval and a rejection of purchases the agent makes over REST, and the refusals
# (wrong password, form without its CSRF token), failing on any console error. Screenshots of every
# page go to target/interop/browser/screenshots. Every wait is bounded; any failure exits non-zero.
# Usage: interop/browser/run.sh [AGENT_STORE_BINARY]   (default: target/debug/agent-store)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "${1:-$root/target/debug/agent-store}")
work=$root/target/interop/browser
chromium=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$chromium" ] || { echo "chromium is not installed (apt-get install -y chromium)"; exit 1; }
mkdir -p "$work"
if ! cmp -s "$here/package.json" "$work/package.json" || [ ! -d "$work/node_modules/playwright-core" ]; then
  cp "$here/package.json" "$work/"
  (cd "$work" && timeout 300 npm install --no-audit --no-fund --loglevel=error)
fi
cp "$here/dashboard.mjs" "$work/"
rm -rf "$work/screenshots"

tmp=$(mktemp -d /tmp/agent-store-browser.XXXXXX)
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

status=0
if CHROMIUM="$chromium" SCREENSHOTS="$work/screenshots" timeout 300 node "$work/dashboard.mjs" "$tmp/data/demo.json"; then :; else
  status=1
  echo "FAIL dashboard browser suite (playwright-core $(node -p 'require(process.argv[1]).version' "$work/node_modules/playwright-core/package.json"), $("$chromium" --version 2>/dev/null || echo chromium))"
  tail -n 40 "$tmp/server.log"
fi
exit "$status"
