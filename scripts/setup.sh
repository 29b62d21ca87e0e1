#!/usr/bin/env bash
# Installs everything the tests need, from the project's own files only. Idempotent: a second run takes seconds.
#   bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

step "npm ci (Pulumi program, tests)"
npm ci --no-audit --no-fund

step "npm ci (node-app)"
npm --prefix node-app ci --no-audit --no-fund

step "Python venv for schema validation (requirements.txt)"
if [ ! -x .toolchain/venv/bin/python ] || ! .toolchain/venv/bin/pip freeze 2>/dev/null | grep -qxF -f <(grep -v '^#' requirements.txt | grep .); then
  python3 -m venv .toolchain/venv
  .toolchain/venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
echo "venv ok: $(.toolchain/venv/bin/pip freeze | tr '\n' ' ')"
