#!/usr/bin/env bash
# Smoke test of the loopback API server helper (tests/support/apiserver.ts), outside mocha.
# Builds the toolchain first if needed (toolchain/kubernetes.sh is idempotent), then runs smoke.ts.
# Usage: toolchain/kubernetes-smoke.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
bash toolchain/kubernetes.sh >/dev/null
if [[ -x node_modules/.bin/ts-node ]]; then
  exec node_modules/.bin/ts-node --transpile-only toolchain/kubernetes-smoke.ts
fi
echo "smoke: ts-node not installed (run npm ci first)" >&2
exit 1
