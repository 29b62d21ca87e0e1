// The code that carries rules, split into areas that StrykerJS mutates one at a time. Each area names the npm project
// that owns it (the folder Stryker runs in), the files it mutates and the specs that must catch a wrong rule there:
// an area's own tests, so a rerun after a small change stays within minutes. Paths are relative to `project`.
// A module that moves only changes its line here.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * `file:1-N` (Stryker's line-range syntax): the lines of a component file above its first `export class`, i.e. the
 * pure builders the tests call directly. The ComponentResource class below them only registers what they return,
 * and only a whole program run (slow, and outside this area's specs) exercises it.
 */
function buildersOnly(file) {
  const abs = join(ROOT, file);
  if (!existsSync(abs)) return file;
  const lines = readFileSync(abs, "utf8").split("\n");
  const cls = lines.findIndex((l) => /^export class /.test(l));
  return cls < 0 ? file : `${file}:1-${cls}`;
}

export const AREAS = {
  // `path` groups areas for the score per listed path; an area is small enough that a rerun stays within minutes.
  // Specs are plain paths or `**`/`*` globs (Stryker's mocha runner does not expand `{a,b}`).
  "poi-encoding": {
    path: "node-app/src/poi/",
    project: "node-app",
    mutate: ["src/poi/attestation.ts", "src/poi/bytes.ts"],
    spec: ["test/poi/attestation.test.ts", "test/poi/rules.test.ts"],
  },
  "poi-verify": {
    path: "node-app/src/poi/",
    project: "node-app",
    mutate: ["src/poi/replay.ts", "src/poi/signature.ts", "src/poi/verify.ts"],
    spec: ["test/poi/replay.test.ts", "test/poi/replay-model.test.ts", "test/poi/rules.test.ts", "test/poi/signature.test.ts", "test/poi/vectors.test.ts", "test/poi/verify.test.ts", "test/poi/verify-paths.test.ts"],
  },
  // The throughput machinery (batcher, worker pool, native binding): its rule is "the same verdicts as the reference",
  // checked on every path by equivalence.test.ts. Its tests start worker pools (slow per mutant); not in the default run.
  "poi-fast": {
    path: "node-app/src/poi/fast/",
    project: "node-app",
    mutate: ["src/poi/fast/*.ts"],
    spec: ["test/poi/digest.test.ts", "test/poi/equivalence.test.ts", "test/poi/fast.test.ts"],
    optional: true,
  },
  consensus: {
    path: "node-app/src/consensus/",
    project: "node-app",
    mutate: ["src/consensus/**/*.ts", "!src/consensus/index.ts"],
    spec: ["test/consensus/**/*.test.ts"],
  },
  // Local packages (`file:` dependencies): node_modules/@bizra/* links to the original folder, not to Stryker's
  // sandbox copy, so these areas mutate the working tree in place (Stryker restores every file when it ends; after a
  // hard kill, `git checkout node-app/evidence node-app/contract`). The TypeScript checker only sees a change to a
  // file its tsconfig includes (imports reached through node_modules are not watched), so `tsconfig` names one that
  // adds the package's folder to the project's own list.
  evidence: {
    path: "node-app/evidence/",
    project: "node-app",
    // The rule-bearing modules: not cli.ts (argument plumbing) nor environment.ts (machine and git facts recorded as
    // found); with them a full run took 50 min here.
    mutate: ["evidence/*.ts", "!evidence/index.ts", "!evidence/cli.ts", "!evidence/environment.ts"],
    spec: ["test/evidence/**/*.test.ts"],
    inPlace: true,
    tsconfig: "../mutation/tsconfig.node-app.json",
  },
  contract: {
    path: "node-app/contract/",
    project: ".",
    mutate: ["node-app/contract/slo.ts"],
    spec: ["tests/slo-rules.test.ts", "tests/policies-rules.test.ts", "tests/builders.test.ts"],
    inPlace: true,
    tsconfig: "mutation/tsconfig.root.json",
  },
  policies: {
    path: "policies/",
    project: ".",
    mutate: ["policies/*/*.ts", "policies/shared/*.ts", "!policies/*/index.ts"],
    spec: ["tests/policies-rules.test.ts", "tests/policies-stack-rules.test.ts", "tests/policies-k8s-hardening.test.ts", "tests/policies-quality-gates.test.ts"],
    // The packs are reached from the tests' imports only; the checker needs them listed (see `evidence`).
    tsconfig: "mutation/tsconfig.root.json",
  },
  components: {
    path: "components/ (pure builders)",
    project: ".",
    mutate: ["components/slo.ts", "components/alerts.ts", "components/canary.ts", "components/network-policy.ts", "components/node.ts"].map(buildersOnly),
    spec: ["tests/builders.test.ts", "tests/slo-rules.test.ts", "tests/alert-builder.test.ts", "tests/canary-builder.test.ts"],
  },
};

/** The areas `npm run mutation` runs when none is named. */
export const DEFAULT_AREAS = Object.keys(AREAS).filter((a) => !AREAS[a].optional);

/** Stryker options for one area (the caller passes the area name; scripts/mutation.sh sets BIZRA_MUTATION_AREA). */
export function strykerOptions(areaName, projectDirFromRoot) {
  const area = AREAS[areaName];
  if (area === undefined) {
    throw new Error(`BIZRA_MUTATION_AREA must be one of ${Object.keys(AREAS).join(", ")}; got ${JSON.stringify(areaName)}`);
  }
  if (area.project !== projectDirFromRoot) {
    throw new Error(`area ${areaName} belongs to the project "${area.project}", not "${projectDirFromRoot}"; run it through scripts/mutation.sh`);
  }
  const toRoot = projectDirFromRoot === "." ? "." : projectDirFromRoot.split("/").map(() => "..").join("/");
  return {
    mutate: area.mutate,
    inPlace: area.inPlace === true,
    tsconfigFile: area.tsconfig ?? "tsconfig.json",
    testRunner: "mocha",
    mochaOptions: { spec: area.spec, require: ["ts-node/register/transpile-only"], extension: ["ts"] },
    checkers: ["typescript"],
    coverageAnalysis: "perTest",
    // The machine is shared: one test runner, one checker.
    concurrency: 1,
    timeoutMS: 10000,
    incremental: true,
    incrementalFile: `${toRoot}/mutation/${areaName}.incremental.json`,
    reporters: ["clear-text", "html", "progress-append-only"],
    htmlReporter: { fileName: `${toRoot}/reports/mutation/${areaName}.html` },
    clearTextReporter: { allowColor: false, logTests: false },
    thresholds: { high: 90, low: 80, break: null },
    cleanTempDir: "always",
  };
}
