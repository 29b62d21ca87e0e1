/**
 * The main job with the real Pulumi engine, self-contained on this machine (docs/engine.md):
 *
 *   npm run up:local -- <stack>        preview + up with both policy packs; manifests in rendered/<stack>/1-manifest/
 *   npm run preview:local -- <stack>   preview only, both policy packs
 *   npm run destroy:local -- <stack>   destroy the local stack (removes its rendered manifests)
 *
 * Steps: build/reuse the toolchain (toolchain/pulumi.sh --env), `npm ci` the policy packs and node-app when their
 * node_modules are missing or stale, `npm run evidence` when evidence/ is missing or does not verify for HEAD (up and
 * preview), `pulumi login file://.pulumi-local/state`, `pulumi stack select --create <stack>` with the LOCAL passphrase,
 * then the engine with `--config-file .pulumi-local/config/Pulumi.<stack>.yaml` (a generated copy of the committed
 * stack file plus `kubernetes:renderYamlToDirectory: rendered/<stack>`), so no committed file is written.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  engineEnv,
  ensurePackDeps,
  evidenceProblems,
  LOCAL_BACKEND_DIR,
  LOCAL_DIR,
  policyPackArgs,
  pulumi,
  renderedManifestFiles,
  toolchainEnv,
  writeEngineConfigFile,
} from "./lib/engine";
import { REPO_ROOT, STACKS } from "./lib/stack-config";

type Mode = "up" | "preview" | "destroy";

const say = (s: string): void => console.error(`[${path.basename(__filename, ".ts")}] ${s}`);

function fail(msg: string, code = 1): never {
  say(`ERROR: ${msg}`);
  process.exit(code);
}

function run(mode: Mode, stack: string): void {
  const t0 = Date.now();
  say(`toolchain (toolchain/pulumi.sh --env; builds on first use, tens of minutes cold)`);
  const env = engineEnv(toolchainEnv(), LOCAL_BACKEND_DIR);

  if (mode !== "destroy") {
    ensurePackDeps(say);
    if (!fs.existsSync(path.join(REPO_ROOT, "node-app", "native", "bizra_native.node"))) {
      // Without the addon the perf bench inside `npm run evidence` runs the pure-TypeScript path for minutes.
      say("building the native verifier: bash node-app/native/build.sh (cargo; about a minute cold)");
      const b = spawnSync("bash", [path.join("node-app", "native", "build.sh")], { cwd: REPO_ROOT, stdio: ["ignore", process.stderr, "inherit"] });
      if (b.status !== 0) fail("building node-app/native failed; see above");
    }
    const problems = evidenceProblems();
    if (problems.length > 0) {
      say(`evidence/ is not usable for this commit:\n  - ${problems.join("\n  - ")}`);
      say(`measuring and signing fresh evidence: npm run evidence (about 30-60 s)`);
      const r = spawnSync("npm", ["run", "evidence"], { cwd: REPO_ROOT, stdio: ["ignore", process.stderr, "inherit"] });
      if (r.status !== 0) fail("npm run evidence failed; see above");
      const still = evidenceProblems();
      if (still.length > 0) fail(`evidence/ still does not verify:\n  - ${still.join("\n  - ")}`);
    } else {
      say("evidence/ verifies for HEAD (local key, age < 24 h)");
    }
  }

  const renderDir = path.join("rendered", stack); // relative to the project folder, where the engine runs
  const configFile = writeEngineConfigFile(stack, renderDir, path.join(LOCAL_DIR, "config", `Pulumi.${stack}.yaml`));
  const login = pulumi(["login", env["PULUMI_BACKEND_URL"]!], env, { capture: true });
  if (login.status !== 0) fail(`pulumi login failed:\n${login.output}`);
  const select = pulumi(["stack", "select", "--create", stack, "--secrets-provider", "passphrase", "--non-interactive"], env, { capture: true });
  if (select.status !== 0) fail(`pulumi stack select --create ${stack} failed:\n${select.output}`);
  say(`backend ${env["PULUMI_BACKEND_URL"]}, stack ${stack}, config ${path.relative(REPO_ROOT, configFile)} (+ kubernetes:renderYamlToDirectory: ${renderDir})`);

  const common = ["--stack", stack, "--config-file", configFile, "--non-interactive"];
  if (mode === "destroy") {
    say("pulumi destroy --yes");
    const d = pulumi(["destroy", "--yes", ...common], env);
    if (d.status !== 0) fail(`pulumi destroy exited ${d.status}`, d.status ?? 1);
    say(`destroyed stack ${stack} in ${((Date.now() - t0) / 1000).toFixed(0)} s (state kept in ${path.relative(REPO_ROOT, LOCAL_BACKEND_DIR)})`);
    return;
  }
  const packs = policyPackArgs();
  say("pulumi preview --policy-pack policies/quality-gates --policy-pack policies/k8s-hardening");
  const p = pulumi(["preview", ...common, ...packs], env);
  if (p.status !== 0) fail(`pulumi preview exited ${p.status} (a mandatory policy violation or an engine error; see above)`, p.status ?? 1);
  if (mode === "preview") {
    say(`preview of ${stack} passed with both policy packs in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return;
  }
  say("pulumi up --yes (same packs)");
  const u = pulumi(["up", "--yes", "--suppress-outputs", ...common, ...packs], env);
  if (u.status !== 0) fail(`pulumi up exited ${u.status}`, u.status ?? 1);
  const files = renderedManifestFiles(path.join(REPO_ROOT, renderDir));
  say(`up of ${stack} done in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${files.length} manifests under ${renderDir}/`);
  for (const f of files) console.log(`  ${path.relative(REPO_ROOT, f)}`);
}

const [mode, stack] = process.argv.slice(2);
if (!mode || !["up", "preview", "destroy"].includes(mode) || !stack || !(STACKS as readonly string[]).includes(stack)) {
  fail(`usage: npm run up:local|preview:local|destroy:local -- <stack>   (stack: ${STACKS.join(" | ")})`, 2);
}
run(mode as Mode, stack);
