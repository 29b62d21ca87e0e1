// StrykerJS over the node's rule-bearing code (PoI, consensus, evidence). Run from the repository root with
// `npm run mutation` (scripts/mutation.sh), which also runs ../stryker.config.mjs and prints the score per path.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: ["src/poi/**/*.ts", "src/consensus/**/*.ts", "src/evidence/**/*.ts", "!src/**/index.ts"],
  testRunner: "mocha",
  mochaOptions: {
    spec: ["test/poi/**/*.test.ts", "test/consensus/**/*.test.ts", "test/evidence/**/*.test.ts"],
    require: ["ts-node/register/transpile-only"],
    extension: ["ts"],
  },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  coverageAnalysis: "perTest",
  concurrency: 1,
  timeoutMS: 10000,
  incremental: true,
  incrementalFile: "../mutation/node-app.incremental.json",
  reporters: ["clear-text", "html", "json", "progress-append-only"],
  htmlReporter: { fileName: "../reports/mutation/node-app.html" },
  jsonReporter: { fileName: "../reports/mutation/node-app.json" },
  thresholds: { high: 90, low: 80, break: null },
  ignorePatterns: ["native/target", "dist"],
  cleanTempDir: "always",
};
