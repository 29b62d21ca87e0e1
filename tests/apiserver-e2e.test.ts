/**
 * End to end against a real Kubernetes API server (docs/apiserver-e2e.md).
 *
 * etcd + kube-apiserver on loopback (tests/support/apiserver.ts, built by scripts/k8s-toolchain.sh), the CRDs from
 * ../shared/crds installed, then for each stack: `pulumi up` through the real engine (scripts/toolchain.sh) with both
 * policy packs, every object read back from the API server and compared with what the program renders under mocks,
 * then `pulumi destroy`, after which only Terminating namespaces may remain. A negative case: a ServiceMonitor with a
 * field its CRD does not declare fails `pulumi up` with the API server's own message.
 *
 * The Kubernetes provider is this project's stand-in (scripts/toolchain/k8s-render-provider, cluster mode): the
 * proxy refuses the real one. It applies with server-side apply and strict field validation, as the real one does.
 * Each stack runs in a temporary copy of the project (symlinks to the sources, its own Pulumi.<stack>.yaml with a
 * fresh signing key, `kubernetes:kubeconfig` and `bizra:skipAwait: true`), so the repo's stack files are not touched.
 *
 * Skipped (with the reason) only when the binaries are not built; `scripts/setup.sh` builds them.
 */
import { operatorKeyOverride, testStackConfig } from "./support/stack";
import { strict as assert } from "node:assert";
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { kubernetesObjects, runProgram } from "../scripts/lib/mock-runtime";
import { readStackFile, REPO_ROOT, STACKS } from "../scripts/lib/stack-config";
import { startApiServer, type ApiServer } from "./support/apiserver";
import { Kube, type KubeObject } from "./support/kube";
import { CRD_DIR } from "./support/crd-schema";
import { cleanupTempDirs, writeFixture } from "./support/policy-evidence";

const PACKS = ["quality-gates", "k8s-hardening"].map((p) => path.join(REPO_ROOT, "policies", p));
const PASSPHRASE = "bizra-apiserver-e2e"; // protects a throw-away key in a throw-away backend
import { SIGNER_TOKEN_FILE, SIGNING_KEY_FILE } from "../components/signer";
import { VALIDATOR_SET_FILE } from "../components/validator-set";

interface Run {
  code: number;
  /** stdout alone (e.g. JSON of `pulumi stack export`) */
  stdout: string;
  /** stdout then stderr */
  out: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env, maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 15 * 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, out: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** The lines of an engine run that say what went wrong (errors, policy violations), else its tail. */
function failureLines(out: string): string {
  const lines = out.split("\n");
  const hits = lines.flatMap((l, i) => (/error|violat|mandatory|rejected|failed/i.test(l) ? lines.slice(i, i + 6) : []));
  return (hits.length ? hits.join("\n") : lines.slice(-60).join("\n")).slice(-8000);
}

/** Why the test cannot run here, or undefined when the binaries are built. */
function missingBinaries(): string | undefined {
  const k8s = spawnSync("bash", [path.join(REPO_ROOT, "scripts", "k8s-toolchain.sh"), "paths"], { encoding: "utf8" });
  if (k8s.status !== 0) return `kube-apiserver/etcd not built (run bash scripts/k8s-toolchain.sh): ${k8s.stdout.trim().replace(/\n/g, ", ")}`;
  const tc = spawnSync("bash", [path.join(REPO_ROOT, "scripts", "toolchain.sh"), "--check"], { encoding: "utf8" });
  if (tc.status !== 0) return "Pulumi engine toolchain not built (run bash scripts/toolchain.sh)";
  return undefined;
}

/** The environment `scripts/toolchain.sh --env` prints (PATH, PULUMI_HOME, ...), on top of this process's. */
function engineEnv(backendDir: string, kubeconfig: string): NodeJS.ProcessEnv {
  const out = spawnSync("bash", [path.join(REPO_ROOT, "scripts", "toolchain.sh"), "--env"], { encoding: "utf8" });
  if (out.status !== 0) throw new Error(`scripts/toolchain.sh --env failed:\n${out.stderr}`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [, name, value] of out.stdout.matchAll(/^export ([A-Z_]+)="(.*)"$/gm)) {
    if (name !== undefined && value !== undefined) env[name] = value.replace("$PATH", process.env.PATH ?? "");
  }
  return {
    ...env,
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    PULUMI_CONFIG_PASSPHRASE_FILE: "",
    // The provider falls back to KUBECONFIG only without `kubernetes:kubeconfig`; point it at the test server too.
    KUBECONFIG: kubeconfig,
    CI: "true",
    NO_COLOR: "1",
  };
}

/** Runs `npm run evidence` when evidence/manifest.json is missing or from another commit (see docs/release.md). */
async function ensureEvidence(env: NodeJS.ProcessEnv): Promise<void> {
  const head = spawnSync("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).stdout.trim();
  const manifest = path.join(REPO_ROOT, "evidence", "manifest.json");
  const commit = fs.existsSync(manifest) ? (JSON.parse(fs.readFileSync(manifest, "utf8")) as { commit?: string }).commit : undefined;
  if (commit && commit === head) return;
  const r = await run("npm", ["run", "evidence"], { cwd: REPO_ROOT, env, timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new Error(`npm run evidence failed:\n${r.out.slice(-4000)}`);
}

async function ensurePackDeps(env: NodeJS.ProcessEnv): Promise<void> {
  for (const pack of PACKS) {
    if (fs.existsSync(path.join(pack, "node_modules", "@pulumi", "policy"))) continue;
    const r = await run("npm", ["ci", "--no-audit", "--no-fund", "--prefix", pack], { cwd: REPO_ROOT, env });
    if (r.code !== 0) throw new Error(`npm ci --prefix ${pack} failed:\n${r.out.slice(-4000)}`);
  }
}

/** A temporary project that runs the repo's program with its own Pulumi.<stack>.yaml. */
function projectCopy(root: string, stack: string, kubeconfig: string): string {
  const dir = path.join(root, `project-${stack}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of ["index.ts", "components", "node-app", "evidence", "node_modules", "package.json", "tsconfig.json", "Pulumi.yaml"]) {
    fs.symlinkSync(path.join(REPO_ROOT, entry), path.join(dir, entry));
  }
  const config: Record<string, unknown> = { ...readStackFile(stack), ...operatorKeyOverride(stack) };
  delete config["bizra:signingKey"]; // the repo's is encrypted for another passphrase; a fresh one is set below
  config["bizra:skipAwait"] = true;
  config["kubernetes:kubeconfig"] = kubeconfig;
  fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringify({ config }));
  return dir;
}

const QUANTITY = /^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
const SUFFIX: Record<string, number> = {
  "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
/** Kubernetes quantities the server writes in canonical form ("60000" is stored as "60k"). */
function sameQuantity(a: string, b: string): boolean {
  const [ma, mb] = [QUANTITY.exec(a), QUANTITY.exec(b)];
  if (!ma || !mb) return false;
  const value = (m: RegExpExecArray) => Number(m[1]) * (SUFFIX[m[2] ?? ""] ?? NaN); // NaN never compares equal
  return Math.abs(value(ma) - value(mb)) <= 1e-9 * Math.max(1, Math.abs(value(ma)));
}

/**
 * Does `live` carry every field `want` sets (objects: subset; arrays: same length, element-wise)? Lists the
 * differences. Server normalizations are not differences: an empty map or list is not stored, quantities are canonical.
 */
function differences(want: unknown, live: unknown, at = ""): string[] {
  if (want === undefined) return [];
  if (live === undefined && want !== null && typeof want === "object" && Object.keys(want).length === 0) return [];
  if (typeof want === "string" && typeof live === "string" && want !== live && sameQuantity(want, live)) return [];
  if (Array.isArray(want)) {
    if (!Array.isArray(live) || live.length !== want.length) return [`${at}: want ${JSON.stringify(want)}, live ${JSON.stringify(live)}`];
    return want.flatMap((w, i) => differences(w, live[i], `${at}[${i}]`));
  }
  if (want !== null && typeof want === "object") {
    if (live === null || typeof live !== "object" || Array.isArray(live)) return [`${at}: want an object, live ${JSON.stringify(live)}`];
    return Object.entries(want).flatMap(([k, w]) => differences(w, (live as Record<string, unknown>)[k], `${at}.${k}`));
  }
  return want === live ? [] : [`${at}: want ${JSON.stringify(want)}, live ${JSON.stringify(live)}`];
}

/** What the program sets, in the form the API server stores it: a Secret's stringData becomes base64 data. */
function expectedLive(obj: KubeObject): KubeObject {
  if (obj.apiVersion === "v1" && obj.kind === "ConfigMap" && typeof (obj.data as Record<string, unknown> | undefined)?.[VALIDATOR_SET_FILE] === "string") {
    const { data: _derived, ...rest } = obj; // the set's default entry carries the public key of the random signing key
    return rest as KubeObject;
  }
  if (obj.apiVersion !== "v1" || obj.kind !== "Secret" || !obj.stringData) return obj;
  const { stringData, ...rest } = obj as KubeObject & { stringData: Record<string, string> };
  const data: Record<string, string> = { ...((rest.data as Record<string, string>) ?? {}) };
  for (const [k, v] of Object.entries(stringData)) {
    // the signing key is random per run, and the signer token derives from it
    if (k !== SIGNING_KEY_FILE && k !== SIGNER_TOKEN_FILE) data[k] = Buffer.from(v).toString("base64");
  }
  return { ...rest, data };
}

const id = (o: KubeObject) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;

describe("API server e2e: pulumi up / destroy of each stack against a real kube-apiserver", function () {
  this.timeout(40 * 60_000);
  let api: ApiServer | undefined;
  let kube: Kube;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  const timings: string[] = [];

  before(async function () {
    const missing = missingBinaries();
    if (missing) {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") throw new Error(`BIZRA_REQUIRE_ENGINE=1 (set by .ci/run) but ${missing}`);
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
    const t0 = Date.now();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-apiserver-e2e-"));
    fs.mkdirSync(path.join(tmp, "backend"));
    api = await startApiServer();
    kube = new Kube(api);
    env = engineEnv(path.join(tmp, "backend"), api.kubeconfigPath);
    await ensurePackDeps(env);
    await ensureEvidence(env);

    const crdFiles = fs.readdirSync(CRD_DIR).filter((f) => /\.ya?ml$/.test(f));
    assert.ok(crdFiles.length > 0, `no CRD files in ${CRD_DIR}`);
    const crds: string[] = [];
    for (const file of crdFiles) {
      // One document at a time, as text: the API server parses the YAML itself (like kubectl apply --server-side).
      for (const text of fs.readFileSync(path.join(CRD_DIR, file), "utf8").split(/^---[ \t]*$/m)) {
        const head = parseAllDocuments(text)[0]?.toJS() as KubeObject | null | undefined; // apiVersion, kind, name
        if (head?.kind !== "CustomResourceDefinition") continue;
        await kube.applyYaml(head, text);
        crds.push(head.metadata.name);
      }
    }
    for (const name of crds) await kube.waitEstablished(name);
    // Namespaces the program expects to exist (it creates only its own): the monitoring namespace (dashboard ConfigMap).
    for (const stack of STACKS) {
      const monitoring = String((readStackFile(stack)["bizra:monitoringNamespace"] as string | undefined) ?? "monitoring");
      await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: monitoring } });
    }
    timings.push(`setup (apiserver ${api.version}, ${crds.length} CRDs, evidence, packs): ${Date.now() - t0} ms`);
  });

  after(async function () {
    kube?.close();
    await api?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    if (timings.length) console.log(`    timings:\n${timings.map((t) => `      ${t}`).join("\n")}`);
  });

  for (const stack of STACKS) {
    it(`${stack}: up with both policy packs, objects read back match the rendering, destroy leaves only Terminating namespaces`, async function () {
      assert.ok(api);
      const t0 = Date.now();
      const dir = projectCopy(tmp, stack, api.kubeconfigPath);
      const pulumi = (args: string[]) => run("pulumi", [...args, "--non-interactive"], { cwd: dir, env });
      const step = async (args: string[]) => {
        const r = await pulumi(args);
        assert.equal(r.code, 0, `pulumi ${args.join(" ")} failed (exit ${r.code}):\n${failureLines(r.out)}`);
        return r;
      };
      await step(["stack", "init", stack]);
      await step(["config", "set", "--secret", "bizra:signingKey", randomBytes(32).toString("hex")]);

      // production: no release bundle exists for the placeholder digest, so its mandatory release check is demoted to
      // advisory here (tests/engine.test.ts shows the committed stack refused on that check alone).
      const packConfigs: string[] = [];
      if (stack === "production") {
        const qg = path.join(tmp, "production-quality-gates.json");
        const hardening = path.join(tmp, "production-k8s-hardening.json");
        fs.writeFileSync(qg, JSON.stringify({ "verified-release-manifest": { enforcementLevel: "advisory" } }));
        fs.writeFileSync(hardening, "{}\n");
        packConfigs.push("--policy-pack-config", qg, "--policy-pack-config", hardening);
      }
      const up = await step(["up", "--yes", "--skip-preview", ...PACKS.flatMap((p) => ["--policy-pack", p]), ...packConfigs]);
      for (const pack of ["bizra-quality-gates", "bizra-k8s-hardening"]) assert.ok(up.out.includes(pack), `policy pack ${pack} not in the output of pulumi up:\n${up.out.slice(-4000)}`);
      const tUp = Date.now();

      // What the program renders for this stack (mocks), in test mode as applied above.
      const rendered = kubernetesObjects(await runProgram(stack, testStackConfig(stack, { "bizra:skipAwait": true }))) as KubeObject[];
      assert.ok(rendered.length >= 15, `rendered ${rendered.length} objects`);
      const problems: string[] = [];
      for (const obj of rendered) {
        const live = await kube.get(obj);
        if (!live) {
          problems.push(`${id(obj)}: not on the API server`);
          continue;
        }
        problems.push(...differences(expectedLive(obj), live).map((d) => `${id(obj)}: ${d}`));
        if (obj.kind === "Secret") {
          const file = obj.metadata.name.endsWith("-token") ? SIGNER_TOKEN_FILE : SIGNING_KEY_FILE;
          const value = Buffer.from(String(live.data?.[file] ?? ""), "base64").toString("utf8");
          if (!/^[0-9a-f]{64}$/.test(value)) problems.push(`${id(obj)}: data.${file} is not 64 hex digits`);
        }
        const managers = ((live.metadata?.managedFields ?? []) as { manager: string; operation: string }[]).map((m) => `${m.manager}/${m.operation}`);
        if (!managers.includes("pulumi-kubernetes/Apply")) problems.push(`${id(obj)}: not server-side applied by pulumi-kubernetes (${managers.join(", ")})`);
      }
      assert.deepEqual(problems, [], `live objects differ from the rendering:\n${problems.join("\n")}`);

      const state = JSON.parse((await step(["stack", "export"])).stdout) as { deployment: { resources: { type: string }[] } };
      const managed = state.deployment.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:"));
      assert.equal(managed.length, rendered.length, "the engine manages as many Kubernetes objects as the program renders");

      if (stack === "testnet") {
        // Update path: a config change re-applies only what changed (server-side apply of the new inputs).
        const deployment = rendered.find((o) => o.kind === "Deployment");
        assert.ok(deployment);
        const before = await kube.get(deployment);
        await step(["config", "set", "--path", "bizra:replicas", "3"]);
        const update = await step(["up", "--yes", "--skip-preview"]);
        assert.match(update.out, /~ +kubernetes:apps\/v1:Deployment/, "the Deployment is updated in place");
        const after = await kube.get(deployment);
        assert.equal(after.spec.replicas, 3);
        assert.equal(after.metadata.uid, before.metadata.uid, "updated in place, not replaced");
        assert.ok(after.metadata.generation > before.metadata.generation);
        await step(["preview", "--expect-no-changes"]);
      }

      await step(["destroy", "--yes", "--skip-preview"]);
      const left: string[] = [];
      for (const obj of rendered) {
        const live = await kube.get(obj);
        if (!live) continue;
        if (obj.kind === "Namespace" && live.status?.phase === "Terminating") continue; // no namespace controller here
        left.push(`${id(obj)} (${live.status?.phase ?? "present"})`);
      }
      assert.deepEqual(left, [], `destroy left objects behind:\n${left.join("\n")}`);
      await step(["stack", "rm", "--yes", stack]);
      timings.push(`${stack}: ${rendered.length} objects; up ${tUp - t0} ms (incl. stack init), compare + destroy ${Date.now() - tUp} ms`);
    });
  }

  it("negative: a ServiceMonitor field the CRD does not declare fails pulumi up with the API server's message", async function () {
    assert.ok(api);
    const t0 = Date.now();
    const bad: KubeObject = {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name: "bizra-e2e-bad", namespace: "default" },
      spec: { selector: { matchLabels: { app: "x" } }, endpoints: [{ port: "metrics", intervall: "5s" }] },
    };
    // The message the API server gives for this object, asked directly (strict field validation).
    const direct = await kube.apply(bad).then(
      () => undefined,
      (e: Error) => e.message.replace(/^PATCH \S+: \d+ /, ""),
    );
    assert.ok(direct, "the API server accepted an unknown field");
    assert.match(direct, /intervall/);

    const dir = path.join(tmp, "project-negative");
    fs.mkdirSync(dir);
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "negative", version: "0.0.0", private: true, main: "index.js" }));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify({ name: "negative", runtime: { name: "nodejs", options: { typescript: false } }, main: "index.js" }));
    fs.writeFileSync(path.join(dir, "Pulumi.e2e.yaml"), stringify({ config: { "kubernetes:kubeconfig": api.kubeconfigPath } }));
    fs.writeFileSync(
      path.join(dir, "index.js"),
      `"use strict";\nconst k8s = require("@pulumi/kubernetes");\nnew k8s.apiextensions.CustomResource("bad", ${JSON.stringify(bad)});\n`,
    );
    const pulumi = (args: string[]) => run("pulumi", [...args, "--non-interactive"], { cwd: dir, env });
    assert.equal((await pulumi(["stack", "init", "e2e"])).code, 0);
    const up = await pulumi(["up", "--yes", "--skip-preview"]);
    assert.notEqual(up.code, 0, `pulumi up succeeded:\n${up.out.slice(-4000)}`);
    assert.ok(up.out.includes(direct), `pulumi up output lacks the API server's message ${JSON.stringify(direct)}:\n${up.out.slice(-4000)}`);
    assert.equal(await kube.get(bad), undefined, "nothing was created");
    const state = await pulumi(["stack", "export"]);
    assert.doesNotMatch(state.stdout, /ServiceMonitor/, "the failed object is not in the state");
    timings.push(`negative: ${Date.now() - t0} ms; server message: ${direct}`);
  });
});

describe("bizra:skipAwait (test mode only)", function () {
  this.timeout(120_000);
  const AWAITED = ["Namespace", "Deployment", "Service", "Job"];
  const annotated = (objects: KubeObject[]) =>
    objects
      .filter((o) => (o.metadata.annotations as Record<string, string> | undefined)?.["pulumi.com/skipAwait"] === "true")
      .map((o) => o.kind)
      .sort();
  /** A signed bundle of its own and a key that trusts it, so the program renders the validator Job (an awaited kind). */
  let withJob: Record<string, unknown>;
  before(() => {
    const fixture = writeFixture();
    withJob = { "bizra:evidenceDir": fixture.dir, "bizra:evidenceTrustedKeys": [fixture.key.publicKeyHex] };
  });
  after(cleanupTempDirs);

  it("is off by default: no object carries pulumi.com/skipAwait", async function () {
    for (const stack of STACKS) {
      const objects = kubernetesObjects(await runProgram(stack, testStackConfig(stack, withJob))) as KubeObject[];
      assert.ok(objects.some((o) => o.kind === "Job"), `${stack}: the validator Job is rendered`);
      assert.deepEqual(annotated(objects), [], stack);
    }
  });

  it("annotates exactly the kinds the provider awaits: Namespace, Deployment, Service, Job", async function () {
    const objects = kubernetesObjects(await runProgram("testnet", testStackConfig("testnet", { ...withJob, "bizra:skipAwait": true }))) as KubeObject[];
    // every object of an awaited kind (the node's, the signer's and the hold gate's Deployment and Service, the
    // validator Job) and nothing else
    assert.deepEqual([...new Set(annotated(objects))], [...AWAITED].sort());
    assert.equal(annotated(objects).length, objects.filter((o) => AWAITED.includes(o.kind)).length);
  });
});
