#!/usr/bin/env bash
# actionlint (built by toolchain/supply-chain.sh, cached by version) over .github/workflows/*.yml.
#   npm run lint:workflows
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(bash toolchain/supply-chain.sh build actionlint | sed -n 's/^ACTIONLINT_BIN=//p')"
"$bin" -version | head -n1
"$bin" -no-color .github/workflows/*.yml
echo "actionlint: $(ls .github/workflows/*.yml | wc -l) workflows, no problems"
