import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { evidenceConfigMapData, readEvidenceBundle, validatorJobName, validatorJobSpec } from "../components/validator-job";
import { EVIDENCE_VERIFY_COMMAND } from "@bizra/contract";
import { runProgram } from "../scripts/lib/mock-runtime";

import { configOf, testStackConfig } from "./support/stack";

function bundleDir(manifest: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-evidence-"));
  fs.mkdirSync(path.join(dir, "bench"));
  fs.writeFileSync(path.join(dir, "manifest.json"), manifest);
  fs.writeFileSync(path.join(dir, "bench", "verify.json"), '{"opsPerSecond":1}');
  return dir;
}

describe("validator Job", () => {
  it("is not created without evidence/manifest.json, and the output says so", async () => {
    const run = await runProgram("testnet", testStackConfig("testnet"));
    if (fs.existsSync(path.join(__dirname, "..", "evidence", "manifest.json"))) return;
    assert.match(String(run.outputs.validatorJob), /^not created/);
    assert.ok(!run.resources.some((r) => r.inputs.kind === "Job"));
  });

  it("same manifest -> same Job name; new manifest -> new name", () => {
    const a = readEvidenceBundle(bundleDir('{"commit":"a"}'))!;
    const b = readEvidenceBundle(bundleDir('{"commit":"a"}'))!;
    const c = readEvidenceBundle(bundleDir('{"commit":"b"}'))!;
    assert.equal(validatorJobName("node0", a), validatorJobName("node0", b));
    assert.notEqual(validatorJobName("node0", a), validatorJobName("node0", c));
    assert.match(validatorJobName("node0", a), /^node0-evidence-verify-[0-9a-f]{10}$/);
    assert.equal(readEvidenceBundle(fs.mkdtempSync(path.join(os.tmpdir(), "bizra-none-"))), undefined);
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
