import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { EvidenceValidator, evidenceConfigMapData, readEvidenceBundle, validatorJobName, validatorJobSpec, type EvidenceBundle } from "../components/validator-job";
import { EVIDENCE_VERIFY_COMMAND } from "@bizra/contract";
import { kubernetesObjects, objectsOfKind, runProgram, unwrapSecrets } from "../scripts/lib/mock-runtime";
import type { KubeObject } from "../scripts/lib/kube-kinds";
import { plain } from "./support/plain";
import { cleanupTempDirs, tempDir, writeFixture } from "./support/policy-evidence";
import { configOf, find, nth, single, testStackConfig } from "./support/stack";

function bundleDir(manifest: string): string {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, "bench"));
  fs.writeFileSync(path.join(dir, "manifest.json"), manifest);
  fs.writeFileSync(path.join(dir, "bench", "verify.json"), '{"opsPerSecond":1}');
  return dir;
}

interface Registered {
  readonly type: string;
  readonly inputs: KubeObject;
}

/** Builds one EvidenceValidator under mocks and returns its status and the Kubernetes objects it registered. */
async function buildValidator(bundle: EvidenceBundle | undefined, trustedKeys: readonly string[]): Promise<{ status: string; objects: Registered[] }> {
  const objects: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        objects.push({ type: args.type, inputs: unwrapSecrets(args.inputs) as KubeObject });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "bizra-node0-infra",
    "testnet",
    false,
  );
  const v = new EvidenceValidator("evidence-verify", {
    config: configOf("testnet"),
    bundle,
    trustedKeys,
    namespace: "bizra-testnet",
    image: "img@sha256:x",
    serviceAccountName: "bizra-apex",
    labels: { app: "bizra-apex" },
  });
  // Registration of children is asynchronous; give the mock monitor a few turns.
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
  return { status: v.status, objects: objects.filter((o) => o.type.startsWith("kubernetes:")) };
}

describe("validator Job", () => {
  after(cleanupTempDirs);

  it("is not created without manifest.json in bizra:evidenceDir, and the output says so", async () => {
    const empty = tempDir("bizra-no-evidence-");
    const run = await runProgram("testnet", testStackConfig("testnet", { "bizra:evidenceDir": empty, "bizra:evidenceTrustedKeys": ["ab".repeat(32)] }));
    assert.match(String(run.outputs.validatorJob), /^not created: no manifest\.json in the evidence folder/);
    const appName = configOf("testnet").appName;
    assert.ok(!kubernetesObjects(run).some((o) => o.kind === "Job" || o.metadata.name === `${appName}-evidence`));
  });

  it("is created from the bundle in bizra:evidenceDir, trusting bizra:evidenceTrustedKeys", async () => {
    const fixture = writeFixture();
    const run = await runProgram("testnet", testStackConfig("testnet", { "bizra:evidenceDir": fixture.dir, "bizra:evidenceTrustedKeys": [fixture.key.publicKeyHex] }));
    const job = single(objectsOfKind(run, "Job"), "Job");
    assert.equal(run.outputs.validatorJob, job.metadata.name);
    assert.equal(job.metadata.name, validatorJobName(configOf("testnet").appName, readEvidenceBundle(fixture.dir)!));
    const env = nth(job.spec.template.spec.containers, 0, "verify container").env;
    assert.deepEqual(env.find((e) => e.name === "BIZRA_EVIDENCE_TRUSTED_KEYS"), { name: "BIZRA_EVIDENCE_TRUSTED_KEYS", value: fixture.key.publicKeyHex });
  });

  it("rejects an empty bizra:evidenceDir, naming the key", () => {
    assert.throws(() => configOf("testnet", { "bizra:evidenceDir": "" }), /bizra:evidenceDir: found ""; allowed: a folder path/);
  });

  it("is not created without a manifest, and the status says so (own empty folder)", async () => {
    const empty = tempDir("bizra-none-");
    const { status, objects } = await buildValidator(readEvidenceBundle(empty), ["ab".repeat(32)]);
    assert.match(status, /^not created: no manifest\.json in the evidence folder/);
    assert.deepEqual(objects, []);
  });

  it("is not created without a trusted key, even with a bundle (own bundle folder)", async () => {
    const { status, objects } = await buildValidator(readEvidenceBundle(bundleDir('{"commit":"a"}')), []);
    assert.match(status, /^not created: no trusted evidence key/);
    assert.deepEqual(objects, []);
  });

  it("with a bundle and a trusted key: one ConfigMap holding the bundle and one Job named after the manifest", async () => {
    const bundle = readEvidenceBundle(bundleDir('{"commit":"a"}'))!;
    const { status, objects } = await buildValidator(bundle, ["ab".repeat(32)]);
    assert.equal(status, validatorJobName("bizra-apex", bundle));
    assert.deepEqual(objects.map((o) => o.type).sort(), ["kubernetes:batch/v1:Job", "kubernetes:core/v1:ConfigMap"]);
    const cm = objects.find((o) => o.type === "kubernetes:core/v1:ConfigMap")!.inputs;
    assert.equal(cm.metadata.name, "bizra-apex-evidence");
    assert.deepEqual(cm.data, { "bench__verify.json": '{"opsPerSecond":1}', "manifest.json": '{"commit":"a"}' });
    const job = objects.find((o) => o.type === "kubernetes:batch/v1:Job")!.inputs;
    assert.equal(job.metadata.name, status);
    assert.equal(job.metadata.namespace, "bizra-testnet");
  });

  it("the program's validatorJob output names the Job it registered, or says why there is none", async () => {
    const run = await runProgram("testnet", testStackConfig("testnet"));
    const jobs = objectsOfKind(run, "Job");
    const status = String(run.outputs.validatorJob);
    if (jobs.length === 0) {
      assert.match(status, /^not created: /);
    } else {
      assert.deepEqual(jobs.map((j) => j.metadata.name), [status]);
      assert.match(status, /^bizra-apex-evidence-verify-[0-9a-f]{10}$/);
    }
  });

  it("same manifest -> same Job name; new manifest -> new name", () => {
    const a = readEvidenceBundle(bundleDir('{"commit":"a"}'))!;
    const b = readEvidenceBundle(bundleDir('{"commit":"a"}'))!;
    const c = readEvidenceBundle(bundleDir('{"commit":"b"}'))!;
    assert.equal(validatorJobName("node0", a), validatorJobName("node0", b));
    assert.notEqual(validatorJobName("node0", a), validatorJobName("node0", c));
    assert.match(validatorJobName("node0", a), /^node0-evidence-verify-[0-9a-f]{10}$/);
    assert.equal(readEvidenceBundle(tempDir("bizra-none-")), undefined);
  });

  it("runs the verify command once, hardened, with the bundle mounted at its paths", () => {
    const cfg = configOf("production");
    const bundle = readEvidenceBundle(bundleDir("{}"))!;
    const spec = plain(validatorJobSpec(cfg, bundle, { image: "img@sha256:x", serviceAccountName: "node0", configMapName: "node0-evidence" }, ["ab".repeat(32)]));
    assert.equal(spec.backoffLimit, 0);
    assert.equal(spec.ttlSecondsAfterFinished, undefined);
    const pod = spec.template.spec;
    assert.ok(pod, "the Job has a pod spec");
    assert.equal(pod.restartPolicy, "Never");
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault");
    const c = single(pod.containers, "verify container");
    assert.deepEqual(c.command, [...EVIDENCE_VERIFY_COMMAND]);
    assert.deepEqual(c.env?.find((e) => e.name === "BIZRA_EVIDENCE_TRUSTED_KEYS"), { name: "BIZRA_EVIDENCE_TRUSTED_KEYS", value: "ab".repeat(32) });
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities, { drop: ["ALL"] });
    const vol = find(pod.volumes, (v) => v.name === "evidence", "volume evidence");
    assert.deepEqual(vol.configMap?.items, [
      { key: "bench__verify.json", path: "bench/verify.json" },
      { key: "manifest.json", path: "manifest.json" },
    ]);
    const { data, binaryData } = evidenceConfigMapData(bundle);
    assert.deepEqual(Object.keys(data).sort(), ["bench__verify.json", "manifest.json"]);
    assert.deepEqual(binaryData, {});
  });
});
