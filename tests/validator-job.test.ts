import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { evidenceConfigMapData, readEvidenceBundle, validatorJobName, validatorJobSpec } from "../components/validator-job";
import { EVIDENCE_VERIFY_COMMAND } from "@bizra/contract";
import { runProgram } from "../scripts/lib/mock-runtime";
import { cleanupTempDirs, tempDir, writeFixture } from "./support/policy-evidence";
import { configOf, single, testStackConfig } from "./support/stack";

function bundleDir(manifest: string): string {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, "bench"));
  fs.writeFileSync(path.join(dir, "manifest.json"), manifest);
  fs.writeFileSync(path.join(dir, "bench", "verify.json"), '{"opsPerSecond":1}');
  return dir;
}

describe("validator Job", () => {
  after(cleanupTempDirs);

  it("is not created without manifest.json in bizra:evidenceDir, and the output says so", async () => {
    const empty = tempDir("bizra-no-evidence-");
    const run = await runProgram("testnet", testStackConfig("testnet", { "bizra:evidenceDir": empty, "bizra:evidenceTrustedKeys": ["ab".repeat(32)] }));
    assert.match(String(run.outputs.validatorJob), /^not created: no manifest\.json in the evidence folder/);
    const appName = configOf("testnet").appName;
    assert.ok(!run.resources.some((r) => r.inputs.kind === "Job" || r.inputs.metadata?.name === `${appName}-evidence`));
  });

  it("is created from the bundle in bizra:evidenceDir, trusting bizra:evidenceTrustedKeys", async () => {
    const fixture = writeFixture();
    const run = await runProgram("testnet", testStackConfig("testnet", { "bizra:evidenceDir": fixture.dir, "bizra:evidenceTrustedKeys": [fixture.key.publicKeyHex] }));
    const job = single(run.resources.filter((r) => r.custom && r.inputs.kind === "Job").map((r) => r.inputs), "Job");
    assert.equal(run.outputs.validatorJob, job.metadata.name);
    assert.equal(job.metadata.name, validatorJobName(configOf("testnet").appName, readEvidenceBundle(fixture.dir)!));
    const env = job.spec.template.spec.containers[0].env as { name: string; value: string }[];
    assert.deepEqual(env.find((e) => e.name === "BIZRA_EVIDENCE_TRUSTED_KEYS"), { name: "BIZRA_EVIDENCE_TRUSTED_KEYS", value: fixture.key.publicKeyHex });
  });

  it("rejects an empty bizra:evidenceDir, naming the key", () => {
    assert.throws(() => configOf("testnet", { "bizra:evidenceDir": "" }), /bizra:evidenceDir: found ""; allowed: a folder path/);
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
    const spec = validatorJobSpec(cfg, bundle, { image: "img@sha256:x", serviceAccountName: "node0", configMapName: "node0-evidence" }, ["ab".repeat(32)]) as any;
    assert.equal(spec.backoffLimit, 0);
    assert.equal(spec.ttlSecondsAfterFinished, undefined);
    const pod = spec.template.spec;
    assert.equal(pod.restartPolicy, "Never");
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    const [c] = pod.containers;
    assert.deepEqual(c.command, [...EVIDENCE_VERIFY_COMMAND]);
    assert.deepEqual(c.env.find((e: any) => e.name === "BIZRA_EVIDENCE_TRUSTED_KEYS"), { name: "BIZRA_EVIDENCE_TRUSTED_KEYS", value: "ab".repeat(32) });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
    const vol = pod.volumes.find((v: any) => v.name === "evidence");
    assert.deepEqual(vol.configMap.items, [
      { key: "bench__verify.json", path: "bench/verify.json" },
      { key: "manifest.json", path: "manifest.json" },
    ]);
    const { data, binaryData } = evidenceConfigMapData(bundle);
    assert.deepEqual(Object.keys(data).sort(), ["bench__verify.json", "manifest.json"]);
    assert.deepEqual(binaryData, {});
  });
});
