// Prints the areas (one per line) whose mutated files or specs differ from what their committed incremental result
// (mutation/<area>.incremental.json) recorded: only those need a Stryker run (the reason goes to stderr). An area
// without a recorded result is not printed: its first, full run is not incremental and is started by hand
// (`npm run mutation -- <area>`, then commit its result).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, matchesGlob } from "node:path";
import { fileURLToPath } from "node:url";
import { AREAS, DEFAULT_AREAS } from "../mutation/areas.mjs";

process.removeAllListeners("warning"); // path.matchesGlob is experimental on Node 20
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Files under the fixed prefix of each pattern that match the patterns (a leading `!` excludes). */
function expand(projectDir, patterns) {
  // Stryker's `file:1-N` line ranges select lines, not files.
  const include = patterns.filter((p) => !p.startsWith("!")).map((p) => p.replace(/:\d+-\d+$/, ""));
  const exclude = patterns.filter((p) => p.startsWith("!")).map((p) => p.slice(1));
  const out = new Set();
  for (const pattern of include) {
    const base = pattern.split("/").filter((_, i, parts) => !/[*{?[]/.test(parts.slice(0, i + 1).join("/"))).join("/");
    const walk = (dir) => {
      const abs = join(projectDir, dir);
      if (!existsSync(abs)) return;
      if (statSync(abs).isFile()) return void (matchesGlob(dir, pattern) && out.add(dir));
      for (const name of readdirSync(abs)) if (name !== "node_modules") walk(dir ? `${dir}/${name}` : name);
    };
    walk(base);
  }
  return [...out].filter((f) => !exclude.some((p) => matchesGlob(f, p))).sort();
}

function why(area) {
  const a = AREAS[area];
  const projectDir = join(root, a.project);
  const incremental = join(root, "mutation", `${area}.incremental.json`);
  if (!existsSync(incremental)) return null;
  const report = JSON.parse(readFileSync(incremental, "utf8"));
  const recorded = new Map();
  for (const [file, f] of Object.entries(report.files ?? {})) recorded.set(file, f.source);
  for (const [file, f] of Object.entries(report.testFiles ?? {})) recorded.set(file, f.source);
  const current = [...expand(projectDir, a.mutate), ...expand(projectDir, a.spec)];
  for (const file of current) {
    if (!recorded.has(file)) return `${file} is new`;
    if (readFileSync(join(projectDir, file), "utf8") !== recorded.get(file)) return `${file} changed`;
  }
  const now = new Set(current);
  for (const file of recorded.keys()) if (!now.has(file) && !existsSync(join(projectDir, file))) return `${file} was removed`;
  return undefined;
}

for (const area of process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_AREAS) {
  if (!AREAS[area]) throw new Error(`unknown area ${area}; known: ${Object.keys(AREAS).join(", ")}`);
  const reason = why(area);
  if (reason === null) console.error(`mutation: ${area} has no recorded result (mutation/${area}.incremental.json); run it by hand once`);
  else if (reason === undefined) console.error(`mutation: ${area} unchanged since its recorded run`);
  else {
    console.error(`mutation: ${area} needs a run (${reason})`);
    console.log(area);
  }
}
