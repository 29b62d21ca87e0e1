/**
 * Engine tests: the real Pulumi CLI (v3.259.0, built by toolchain/pulumi.sh) runs the program with both policy
 * packs enforced by the engine, on a temp `file://` backend, with the Kubernetes provider rendering manifests to a
 * temp folder (`kubernetes:renderYamlToDirectory`). See docs/engine.md for what is real and what is a stand-in.
 *
 * Skipped (with a message) only when the toolchain is not built; `.ci/run` builds it in scripts/setup.sh and sets
 * BIZRA_REQUIRE_ENGINE=1, which turns that skip into a failure. Part of `npm test`; alone: `npm run test:engine`.
 *   npm run test:engine
 */
import * as assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { headCommit, loadEvidenceKey, signEvidence } from "@bizra/evidence";
import {
  engineEnv,
  ensurePackDeps,
  EVIDENCE_DIR,
  evidenceProblems,
  policyPackArgs,
  pulumi,
  renderedManifestFiles,
  toolchainBuilt,
  toolchainEnv,
  writeEngineConfigFile,
} from "../scripts/lib/engine";
import { kubernetesObjects, runProgram } from "../scripts/lib/mock-runtime";
import type { KubeObject } from "../scripts/lib/kube-kinds";
import { REPO_ROOT, STACKS } from "../scripts/lib/stack-config";
import { parseQuantity } from "../components/quantity";
import { VALIDATOR_SET_DIGEST_ANNOTATION, VALIDATOR_SET_FILE } from "../components/validator-set";
import { operatorKeyOverride, testStackConfig } from "./support/stack";

const QG = ["evidence-integrity-and-critical-gates", "advisory-performance-gates"] as const;
/** One engine run with both packs takes 20-50 s on a busy 2-core machine; generous margins. */
const RUN_TIMEOUT_MS = 8 * 60_000;

/** Fields the engine/provider add that the program does not ask for. */
const PULUMI_ANNOTATION = /^pulumi\.com\//;

/** A manifest as JSON, mutable, for normalizing (fields the normalization touches are named). */
interface ManifestJson {
  kind?: string;
  apiVersion?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  data?: Record<string, unknown>;
  stringData?: Record<string, unknown>;
  [field: string]: unknown;
}

function objectKey(o: ManifestJson | KubeObject): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
}

/** An object as applied, minus what Pulumi adds; Secret values (local key vs throwaway key) become placeholders. */
function normalize(o: ManifestJson | KubeObject): ManifestJson {
  const c = JSON.parse(JSON.stringify(o)) as ManifestJson;
  const meta = c.metadata ?? {};
  if (meta.annotations) {
    for (const k of Object.keys(meta.annotations)) if (PULUMI_ANNOTATION.test(k)) delete meta.annotations[k];
    if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
  }
  const set = c.data?.[VALIDATOR_SET_FILE];
  if (c.kind === "ConfigMap" && c.data && typeof set === "string") {
    // the set's default entry carries the signing key's public key, and the two runs use different keys
    c.data[VALIDATOR_SET_FILE] = (JSON.parse(set) as Record<string, unknown>[]).map((v) => ({ ...v, publicKey: "<of the signing key>" }));
  }
  const spec = c["spec"] as { template?: { metadata?: { annotations?: Record<string, string> } } } | undefined;
  const templateAnnotations = spec?.template?.metadata?.annotations;
  if (templateAnnotations?.[VALIDATOR_SET_DIGEST_ANNOTATION] !== undefined) {
    // a digest of that set, so it differs for the same reason
    templateAnnotations[VALIDATOR_SET_DIGEST_ANNOTATION] = "<of the validator set>";
  }
  if (c.kind === "HorizontalPodAutoscaler") {
    // The provider writes quantities in Kubernetes' canonical form ("60000" -> "60k"): compare their values.
    const hpa = c["spec"] as { metrics?: { pods?: { target?: { averageValue?: string } } }[] } | undefined;
    for (const m of hpa?.metrics ?? []) {
      const target = m.pods?.target;
      if (target?.averageValue !== undefined) target.averageValue = String(parseQuantity(target.averageValue) ?? target.averageValue);
    }
  }
  if (c.kind === "Secret" && c.stringData) {
    // the provider renders stringData as (base64) data: compare the keys as data
    c.data = { ...(c.data ?? {}), ...c.stringData };
    delete c.stringData;
  }
  if (c.kind === "Secret") {
    for (const field of ["data", "stringData"] as const) {
      const values = c[field];
      if (values) c[field] = Object.fromEntries(Object.keys(values).map((k) => [k, "<secret>"]));
    }
  }
  // Cluster-scoped kinds carry no namespace in either form.
  if (meta.namespace === "" || meta.namespace === undefined) delete meta.namespace;
  return c;
}

describe("engine: pulumi preview/up with both policy packs (real CLI v3.259.0)", function () {
  this.timeout(RUN_TIMEOUT_MS);
  const tmp: string[] = [];
  let env: NodeJS.ProcessEnv;
  let work: string;
  /** Evidence the packs read: evidence/ when it verifies for HEAD, else a fresh bundle measured into a temp dir. */
  let evidenceDir: string;
  const timings: string[] = [];
  const stackFileDigests = (): string[] =>
    ["Pulumi.yaml", ...STACKS.map((s) => `Pulumi.${s}.yaml`)].map((f) => createHash("sha256").update(fs.readFileSync(path.join(REPO_ROOT, f))).digest("hex"));
  let stackFilesBefore: string[];

  const tempDir = (prefix: string): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    tmp.push(d);
    return d;
  };
  const packConfig = (name: string, qualityGates: Record<string, unknown>, extra: Record<string, unknown> = {}): [string, string] => {
    const qg = path.join(work, `${name}-quality-gates.json`);
    const hardening = path.join(work, `${name}-k8s-hardening.json`);
    fs.writeFileSync(qg, JSON.stringify({ ...Object.fromEntries(QG.map((p) => [p, qualityGates])), ...extra }, null, 2));
    fs.writeFileSync(hardening, "{}\n");
    return [qg, hardening];
  };
  const configFile = (stack: string, renderDir: string): string =>
    writeEngineConfigFile(stack, renderDir, path.join(work, "config", `Pulumi.${stack}.yaml`), operatorKeyOverride(stack));
  const selectStack = (stack: string): void => {
    const r = pulumi(["stack", "select", "--create", stack, "--secrets-provider", "passphrase", "--non-interactive"], env, { capture: true });
    assert.equal(r.status, 0, r.output);
  };
  const run = (label: string, args: string[]) => {
    const r = pulumi(args, env, { capture: true, timeoutMs: RUN_TIMEOUT_MS - 30_000 });
    timings.push(`${label}: ${r.seconds.toFixed(1)} s (exit ${r.status})`);
    return r;
  };

  before(function () {
    if (!toolchainBuilt()) {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") {
        throw new Error("BIZRA_REQUIRE_ENGINE=1 (set by .ci/run) but the Pulumi toolchain is not built: scripts/setup.sh should have built it");
      }
      console.log(
        "      SKIPPED: the Pulumi toolchain is not built (.toolchain/); run `bash scripts/setup.sh` or `toolchain/pulumi.sh` (CI builds it)",
      );
      this.skip();
    }
    stackFilesBefore = stackFileDigests();
    ensurePackDeps(() => undefined);
    work = tempDir("bizra-engine-");
    env = engineEnv(toolchainEnv(), path.join(work, "state"));
    const login = pulumi(["login", env["PULUMI_BACKEND_URL"]!], env, { capture: true });
    assert.equal(login.status, 0, login.output);

    if (evidenceProblems().length === 0) {
      evidenceDir = EVIDENCE_DIR;
    } else {
      evidenceDir = tempDir("bizra-engine-evidence-");
      const t0 = Date.now();
      const r = spawnSync("npm", ["run", "evidence", "--", evidenceDir], { cwd: REPO_ROOT, encoding: "utf8" });
      assert.equal(r.status, 0, `npm run evidence failed:\n${r.stdout}${r.stderr}`);
      timings.push(`npm run evidence (temp dir; evidence/ is not for HEAD): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      assert.deepEqual(evidenceProblems(evidenceDir), []);
    }
  });

  after(() => {
    for (const d of tmp) fs.rmSync(d, { recursive: true, force: true });
    if (timings.length > 0) console.log(`      engine timings:\n${timings.map((t) => `        ${t}`).join("\n")}`);
  });

  it("pulumi preview of production without a release of its image fails on verified-release-manifest alone", () => {
    selectStack("production");
    const r = run("preview production (no release)", [
      "preview",
      "--stack",
      "production",
      "--config-file",
      configFile("production", path.join(work, "rendered", "production-norelease")),
      "--non-interactive",
      ...policyPackArgs(packConfig("norelease-production", { evidenceDir })),
    ]);
    assert.notEqual(r.status, 0, r.output);
    const mandatory = [...r.output.matchAll(/\[mandatory\]\s+(\S+)/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(mandatory)], ["verified-release-manifest"], r.output);
    assert.match(r.output, /no release manifest for this digest .*npm run release -- production/);
  });

  for (const stack of STACKS) {
    it(`pulumi preview of ${stack} passes with quality-gates and k8s-hardening`, () => {
      selectStack(stack);
      // production: the release check is demoted to advisory here (its own test is above and in release-manifest tests).
      const release = stack === "production" ? { "verified-release-manifest": { enforcementLevel: "advisory" } } : {};
      const r = run(`preview ${stack}`, [
        "preview",
        "--stack",
        stack,
        "--config-file",
        configFile(stack, path.join(work, "rendered", stack)),
        "--non-interactive",
        ...policyPackArgs(packConfig(`ok-${stack}`, { evidenceDir }, release)),
      ]);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, /bizra-quality-gates@v0\.1\.0/);
      assert.match(r.output, /bizra-k8s-hardening@v0\.1\.0/);
      assert.doesNotMatch(r.output, /mandatory/i, "no mandatory violation expected");
      // The engine decrypted the committed secure: signing key with the local passphrase (else the program fails).
      assert.match(r.output, /\+ +\d+ to create/);
    });
  }

  it("pulumi up of testnet writes the manifests, the same objects as the offline (mock) render", async () => {
    const stack = "testnet";
    const renderDir = path.join(work, "rendered", stack);
    selectStack(stack);
    const r = run(`up ${stack}`, [
      "up",
      "--yes",
      "--skip-preview", // the previews above already ran both packs; up still enforces them
      "--suppress-outputs",
      "--stack",
      stack,
      "--config-file",
      configFile(stack, renderDir),
      "--non-interactive",
      ...policyPackArgs(packConfig(`up-${stack}`, { evidenceDir })),
    ]);
    assert.equal(r.status, 0, r.output);

    const engine = renderedManifestFiles(renderDir).map((f) => parse(fs.readFileSync(f, "utf8")) as ManifestJson);
    const mock = kubernetesObjects(await runProgram(stack, testStackConfig(stack)));
    assert.ok(engine.length >= 20, `expected the stack's objects under ${renderDir}, found ${engine.length}`);
    assert.deepEqual(engine.map(objectKey).sort(), mock.map(objectKey).sort(), "same kinds and names under the engine as under mocks");
    const byKey = new Map(mock.map((o) => [objectKey(o), o]));
    for (const o of engine) {
      assert.deepEqual(normalize(o), normalize(byKey.get(objectKey(o))!), `${objectKey(o)} differs between engine and mocks`);
    }
    // The signing key reached the Secret decrypted (a 64-hex Ed25519 seed), not as ciphertext.
    const secret = engine.find((o) => o.kind === "Secret")!;
    const values = Object.values({ ...(secret.stringData ?? {}), ...(secret.data ?? {}) }) as string[];
    assert.ok(
      values.some((v) => /^[0-9a-f]{64}$/.test(v) || /^[0-9a-f]{64}$/.test(Buffer.from(v, "base64").toString())),
      "Secret holds the decrypted seed",
    );

    const d = run(`destroy ${stack}`, ["destroy", "--yes", "--stack", stack, "--config-file", configFile(stack, renderDir), "--non-interactive"]);
    assert.equal(d.status, 0, d.output);
    assert.deepEqual(renderedManifestFiles(renderDir), [], "destroy removes the rendered manifests");
  });

  it("tampered evidence (one number changed, not re-signed): preview exits non-zero naming the policy and the reason", () => {
    const stack = "testnet";
    const bad = tempDir("bizra-engine-tampered-");
    for (const f of fs.readdirSync(evidenceDir).filter((f) => f.endsWith(".json"))) fs.copyFileSync(path.join(evidenceDir, f), path.join(bad, f));
    const file = path.join(bad, "finality.json");
    const text = fs.readFileSync(file, "utf8");
    const tampered = text.replace(/("p99Seconds":\s*)([0-9.eE+-]+)/, (_m, k: string, v: string) => `${k}${Number(v) / 2}`);
    assert.notEqual(tampered, text);
    fs.writeFileSync(file, tampered);

    selectStack(stack);
    const r = run("preview testnet, tampered evidence", [
      "preview",
      "--stack",
      stack,
      "--config-file",
      configFile(stack, path.join(work, "rendered", stack)),
      "--non-interactive",
      ...policyPackArgs(packConfig("tampered", { evidenceDir: bad })),
    ]);
    assert.notEqual(r.status, 0, `preview passed with tampered evidence:\n${r.output}`);
    assert.match(r.output, /evidence-integrity-and-critical-gates/);
    assert.match(r.output, /mandatory/);
    assert.match(r.output, /\[digest-mismatch\][^\n]*finality\.json/);
  });

  it("validly signed evidence whose finality p99 breaks the SLO: preview exits non-zero naming finality-check-p99", () => {
    const stack = "production";
    const bad = tempDir("bizra-engine-slow-");
    for (const f of fs.readdirSync(evidenceDir).filter((f) => f.endsWith(".json") && f !== "manifest.json")) {
      fs.copyFileSync(path.join(evidenceDir, f), path.join(bad, f));
    }
    const file = path.join(bad, "finality.json");
    const artifact = JSON.parse(fs.readFileSync(file, "utf8"));
    artifact.results.p99Seconds = 0.25; // the SLO is < 1 ms
    fs.writeFileSync(file, JSON.stringify(artifact, null, 2));
    const keyFile = path.join(bad, "..", `${path.basename(bad)}.seed`);
    fs.writeFileSync(keyFile, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
    tmp.push(keyFile);
    const key = loadEvidenceKey({ file: keyFile });
    signEvidence(bad, { key, git: { commit: headCommit()!, dirty: false } });

    selectStack(stack);
    const r = run("preview production, finality p99 over the SLO", [
      "preview",
      "--stack",
      stack,
      "--config-file",
      configFile(stack, path.join(work, "rendered", stack)),
      "--non-interactive",
      ...policyPackArgs(packConfig("slow", { evidenceDir: bad, trustedPublicKeys: [key.publicKeyHex] })),
    ]);
    assert.notEqual(r.status, 0, `preview passed with a failing mandatory gate:\n${r.output}`);
    assert.match(r.output, /evidence-integrity-and-critical-gates/);
    assert.match(r.output, /finality-check-p99/);
    assert.doesNotMatch(r.output, /evidence rejected/, "the bundle itself verifies; the gate fails on the number");
  });

  it("leaves the committed stack files byte for byte as they were (read, never written)", () => {
    assert.deepEqual(stackFileDigests(), stackFilesBefore);
  });
});
