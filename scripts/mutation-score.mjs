// Prints the mutation score of each area from its last Stryker result (mutation/<area>.incremental.json, a
// mutation-testing-report-schema document, committed) and lists the surviving mutants; exits 1 when an area scores below --min. Score as Stryker defines it:
// (killed + timeout) / (killed + timeout + survived + no coverage); compile errors and ignored mutants do not count.
import { existsSync, readFileSync } from "node:fs";
import { join, dirname, matchesGlob } from "node:path";
import { fileURLToPath } from "node:url";
import { AREAS, DEFAULT_AREAS } from "../mutation/areas.mjs";

process.removeAllListeners("warning"); // path.matchesGlob is experimental on Node 20

/**
 * Whether a mutant at `line` of `file` belongs to the area as configured now: incremental mode keeps the results of
 * files (or line ranges) an area no longer mutates, and those must not count. Patterns as in `mutate`
 * (`file:first-last` selects lines, a leading `!` excludes).
 */
function inArea(patterns, file, line) {
  const included = patterns.filter((p) => !p.startsWith("!")).some((p) => {
    const range = /^(.*):(\d+)-(\d+)$/.exec(p);
    return range ? matchesGlob(file, range[1]) && line >= Number(range[2]) && line <= Number(range[3]) : matchesGlob(file, p);
  });
  return included && !patterns.filter((p) => p.startsWith("!")).some((p) => matchesGlob(file, p.slice(1)));
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let min = 0;
const areas = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--min") min = Number(args[++i]);
  else areas.push(args[i]);
}
if (!Number.isFinite(min)) throw new Error("--min must be a number (percent)");
let failed = false;
const byPath = new Map();
for (const area of areas.length ? areas : DEFAULT_AREAS) {
  const project = AREAS[area]?.project;
  if (project === undefined) throw new Error(`unknown area ${area}; known: ${Object.keys(AREAS).join(", ")}`);
  const file = join(root, "mutation", `${area}.incremental.json`);
  if (!existsSync(file)) {
    console.log(`mutation score ${area}: no recorded result (mutation/${area}.incremental.json)`);
    continue;
  }
  const report = JSON.parse(readFileSync(file, "utf8"));
  const count = {};
  const survivors = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      if (!inArea(AREAS[area].mutate, file, m.location.start.line)) continue;
      count[m.status] = (count[m.status] ?? 0) + 1;
      if (m.status === "Survived" || m.status === "NoCoverage") {
        survivors.push(`    ${m.status === "NoCoverage" ? "no coverage" : "survived"}  ${join(project, file)}:${m.location.start.line}  ${m.mutatorName}: ${JSON.stringify(m.replacement ?? "")}`);
      }
    }
  }
  const detected = (count.Killed ?? 0) + (count.Timeout ?? 0);
  const valid = detected + (count.Survived ?? 0) + (count.NoCoverage ?? 0);
  const group = byPath.get(AREAS[area].path) ?? { detected: 0, valid: 0, areas: [] };
  byPath.set(AREAS[area].path, { detected: group.detected + detected, valid: group.valid + valid, areas: [...group.areas, area] });
  const score = valid === 0 ? 100 : (100 * detected) / valid;
  const ok = score >= min;
  failed ||= !ok;
  console.log(
    `mutation score ${area}: ${score.toFixed(2)} % (killed ${count.Killed ?? 0}, timeout ${count.Timeout ?? 0}, survived ${count.Survived ?? 0}, ` +
      `no coverage ${count.NoCoverage ?? 0}, compile errors ${count.CompileError ?? 0}, ignored ${count.Ignored ?? 0})${ok ? "" : `  BELOW ${min} %`}`,
  );
  for (const s of survivors) console.log(s);
}
for (const [path, g] of byPath) {
  const score = g.valid === 0 ? 100 : (100 * g.detected) / g.valid;
  failed ||= score < min;
  console.log(`mutation score per path ${path}: ${score.toFixed(2)} % (${g.detected} of ${g.valid} mutants detected; areas ${g.areas.join(", ")})${score >= min ? "" : `  BELOW ${min} %`}`);
}
process.exit(failed ? 1 : 0);
