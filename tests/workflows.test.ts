/**
 * The GitHub Actions workflows: every `run:` step is an npm script of this package (no logic only in YAML), the
 * triggers and the production approval are where docs/release.md says, actionlint finds nothing, and the pull-request
 * preview job runs here, step by step in order (scripts/ci-local.ts). The main job (release + up of testnet) runs in
 * tests/release-e2e.test.ts.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { condition, planJob, readWorkflow, runPlan, substitute, type Workflow } from "../scripts/ci-local";
import { toolchainBuilt } from "../scripts/lib/engine";
import { REPO_ROOT } from "../scripts/lib/stack-config";
import { supplyChainTools } from "../scripts/release/tools";

const DIR = path.join(REPO_ROOT, ".github", "workflows");
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith(".yml")).sort();
const SCRIPTS = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
const workflows: Record<string, Workflow> = Object.fromEntries(FILES.map((f) => [f, readWorkflow(path.join(DIR, f))]));

describe("GitHub Actions workflows", () => {
  it("three workflows: pull request, main, tag", () => {
    assert.deepEqual(FILES, ["main.yml", "pull-request.yml", "release.yml"]);
    assert.ok("pull_request" in workflows["pull-request.yml"]!.on);
    assert.deepEqual((workflows["main.yml"]!.on.push as { branches: string[] }).branches, ["main"]);
    assert.deepEqual((workflows["release.yml"]!.on.push as { tags: string[] }).tags, ["v*"]);
  });

  it("every run step calls an npm script that exists (or npm test), with matrix values only", () => {
    for (const [file, wf] of Object.entries(workflows)) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        for (const step of job.steps) {
          if (step.uses) continue;
          const run = (step.run ?? "").trim();
          assert.doesNotMatch(run, /\n/, `${file} ${name}: one command per step: ${run}`);
          const m = /^npm (?:run ([a-z:-]+)(?: -- (.*))?|test)$/.exec(substitute(run, { stack: "testnet" }));
          assert.ok(m, `${file} ${name}: not an npm script call: ${run}`);
          if (m[1]) assert.ok(m[1] in SCRIPTS, `${file} ${name}: npm script ${m[1]} does not exist`);
          for (const expr of run.match(/\$\{\{[^}]*\}\}/g) ?? []) assert.match(expr, /^\$\{\{ matrix\.[a-z]+ \}\}$/, `${file} ${name}: ${expr}`);
        }
      }
    }
  });

  it("production is deployed only behind the `production` environment, after the release job", () => {
    const up = workflows["release.yml"]!.jobs["up-production"]!;
    assert.equal(up.environment, "production");
    assert.equal(up.needs, "release");
    const commands = up.steps.map((s) => s.run).filter(Boolean);
    assert.deepEqual(commands.slice(-3), ["npm run release:use -- production", "npm run up:local -- production", "npm run gates:summary -- production"]);
    for (const [file, wf] of Object.entries(workflows)) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        if (job.steps.some((s) => /up:local -- production/.test(s.run ?? ""))) assert.equal(job.environment, "production", `${file} ${name}`);
      }
    }
  });

  it("the preview job covers both stacks and posts the gate table even when the preview fails", () => {
    const preview = workflows["pull-request.yml"]!.jobs["preview"]!;
    assert.deepEqual(preview.strategy?.matrix?.["stack"], ["testnet", "production"]);
    const summary = preview.steps.find((s) => /gates:summary/.test(s.run ?? ""));
    assert.equal(summary?.if, "always()");
  });

  it("ci-local evaluates the conditions the workflows use and refuses others", () => {
    assert.equal(condition("matrix.stack == 'production'", { stack: "production" }), true);
    assert.equal(condition("matrix.stack == 'production'", { stack: "testnet" }), false);
    assert.equal(condition("matrix.stack != 'production'", { stack: "testnet" }), true);
    assert.equal(condition("always()", {}), true);
    assert.throws(() => condition("github.ref == 'refs/heads/main'", {}), /cannot evaluate the condition "github\.ref == 'refs\/heads\/main'"/);
    const plan = planJob(workflows["pull-request.yml"]!.jobs["preview"]!, { stack: "testnet" });
    assert.deepEqual(plan.filter((p) => !p.skipped).map((p) => p.command), ["npm run setup", "npm run preview:local -- testnet", "npm run gates:summary -- testnet"]);
  });

  it("actionlint v1.7.12 finds no problem (npm run lint:workflows)", function () {
    this.timeout(3_600_000);
    const built = (() => {
      try {
        supplyChainTools({ build: false, tools: ["actionlint"] });
        return true;
      } catch {
        return false;
      }
    })();
    if (!built && process.env["CI"] !== "true") {
      console.log("      SKIPPED: actionlint is not built (bash toolchain/supply-chain.sh actionlint; scripts/setup.sh builds it)");
      this.skip();
    }
    const r = spawnSync("npm", ["run", "--silent", "lint:workflows"], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /actionlint: 3 workflows, no problems/);
  });

  it("actionlint refuses a broken workflow (the lint can fail)", function () {
    this.timeout(600_000);
    let bin: string;
    try {
      bin = supplyChainTools({ build: false, tools: ["actionlint"] }).actionlint;
    } catch {
      if (process.env["CI"] === "true") throw new Error("actionlint is not built: scripts/setup.sh should have built it");
      this.skip();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-actionlint-"));
    try {
      const file = path.join(dir, "bad.yml");
      fs.writeFileSync(file, "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n        shell: bashh\n");
      const r = spawnSync(bin!, ["-no-color", file], { encoding: "utf8" });
      assert.notEqual(r.status, 0);
      assert.match(r.stdout, /matrix/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs the pull-request preview job for testnet here, step by step in order (setup already ran)", function () {
    this.timeout(3_600_000);
    if (!toolchainBuilt()) {
      // as tests/engine.test.ts: .ci/run sets BIZRA_REQUIRE_ENGINE=1 after scripts/setup.sh built the Pulumi toolchain
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") throw new Error("the Pulumi toolchain is not built: scripts/setup.sh should have built it");
      this.skip();
    }
    const log: string[] = [];
    const plan = planJob(workflows["pull-request.yml"]!.jobs["preview"]!, { stack: "testnet" }, ["npm run setup"]);
    const r = runPlan(plan, { cwd: REPO_ROOT, log: (s) => log.push(s) });
    assert.equal(r.status, 0, log.join("\n"));
    assert.deepEqual(r.ran, ["npm run preview:local -- testnet", "npm run gates:summary -- testnet"]);
  });
});
