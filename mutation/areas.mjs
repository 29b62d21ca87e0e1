// The code that carries rules, split into areas that StrykerJS mutates one at a time. Each area names the npm project
// that owns it (the folder Stryker runs in), the files it mutates and the specs that must catch a wrong rule there:
// an area's own tests, so a rerun after a small change stays within minutes. Paths are relative to `project`.
// A module that moves only changes its line here.
export const AREAS = {
  poi: {
    project: "node-app",
    mutate: ["src/poi/*.ts", "!src/poi/index.ts"],
    spec: ["test/poi/{attestation,replay,rules,signature,vectors,verify}.test.ts"],
  },
  // The throughput machinery (batcher, worker pool, native binding): its rule is "the same verdicts as the reference",
  // checked on every path by equivalence.test.ts. Kept apart because its tests start worker pools (slow per mutant).
  "poi-fast": {
    project: "node-app",
    mutate: ["src/poi/fast/*.ts"],
    spec: ["test/poi/{digest,equivalence,fast}.test.ts"],
  },
  consensus: {
    project: "node-app",
    mutate: ["src/consensus/**/*.ts", "!src/consensus/index.ts"],
    spec: ["test/consensus/**/*.test.ts"],
  },
  evidence: {
    project: "node-app",
    mutate: ["src/evidence/**/*.ts", "!src/evidence/index.ts"],
    spec: ["test/evidence/**/*.test.ts"],
  },
  policies: {
    project: ".",
    mutate: ["policies/*/*.ts", "policies/shared/*.ts", "!policies/*/index.ts"],
    spec: ["tests/policies-k8s-hardening.test.ts", "tests/policies-quality-gates.test.ts"],
  },
  components: {
    project: ".",
    mutate: ["components/slo.ts", "components/alerts.ts", "components/canary.ts", "components/network-policy.ts", "components/node.ts"],
    spec: ["tests/builders.test.ts", "tests/canary.test.ts", "tests/observability.test.ts"],
  },
};

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
