#!/usr/bin/env bash
# Install the LiteLLM proxy, pinned, into a venv inside the clone (default target/bench/litellm-venv),
# for the router comparison of `agent-store-bench all`. Idempotent: an existing install of the pinned
# version is kept.
#
# Pinned: litellm[proxy]==1.106.12. Newer releases (1.108.14+) require `litellm-proxy`/`litellm-proxy-extras` releases that are
# not on PyPI; 1.107.0 was a compromised release and is avoided.
set -euo pipefail
venv=${1:-"$(dirname "$0")/../../target/bench/litellm-venv"}
version=1.106.12
if [ -x "$venv/bin/litellm" ] && "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('litellm') == '$version'" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "litellm[proxy]==$version"
