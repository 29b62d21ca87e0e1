#!/usr/bin/env bash
# `npm run mutation [-- [--changed] <area>...]`: StrykerJS over the rule-bearing code, one area at a time
# (mutation/areas.mjs; all but the optional ones when none is named), one test runner and one checker, at low CPU priority; then the
# score of each area. --changed (what CI runs) skips the areas whose files and specs equal those of their committed
# incremental result (scripts/mutation-plan.mjs) and still prints every named area's score from its last result.
# Incremental: mutation/<area>.incremental.json holds the last results, so only mutants in changed files (or covered
# by changed tests) run again; MUTATION_FORCE=1 runs every mutant. HTML reports: reports/mutation/<area>.html. MUTATION_MIN_SCORE (default 90) is the
# score below which the script exits non-zero.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
stryker="$root/node_modules/@stryker-mutator/core/bin/stryker.js"
area_field() { node --input-type=module -e "import { AREAS } from '$root/mutation/areas.mjs'; const a = AREAS[process.argv[1]]; if (!a) { console.error('unknown area ' + process.argv[1] + '; known: ' + Object.keys(AREAS).join(', ')); process.exit(2); } console.log(a[process.argv[2]]);" "$1" "$2"; }
changed=0
if [ "${1:-}" = "--changed" ]; then changed=1; shift; fi
if [ "$#" -eq 0 ]; then
  mapfile -t areas < <(node --input-type=module -e "import { DEFAULT_AREAS } from '$root/mutation/areas.mjs'; console.log(DEFAULT_AREAS.join('\n'));")
else
  areas=("$@")
fi
if [ "$changed" = 1 ]; then
  mapfile -t to_run < <(node "$root/scripts/mutation-plan.mjs" "${areas[@]}")
else
  to_run=("${areas[@]}")
fi
for area in "${to_run[@]}"; do
  project="$(area_field "$area" project)"
  echo "==> mutation: $area (in $project/)"
  start=$(date +%s)
  # MUTATION_FORCE=1: ignore the recorded result and run every mutant (static mutants are never rerun incrementally).
  # MUTATION_IGNORE_STATIC=1: skip static mutants (module-level code; each reloads the whole suite), counted as ignored.
  (cd "$root/$project" && BIZRA_MUTATION_AREA="$area" nice -n 10 node "$stryker" run ${MUTATION_FORCE:+--force} ${MUTATION_IGNORE_STATIC:+--ignoreStatic})
  echo "==> mutation: $area took $(( $(date +%s) - start ))s"
done
node "$root/scripts/mutation-score.mjs" --min "${MUTATION_MIN_SCORE:-90}" "${areas[@]}"
