/** Verification success rate on valid input, through the batch path (verifyBatch) with several validators. */
import { signAttestation, AttestationVerifier, type IssuedAttestation } from "../../src/poi/verify";
import { ReplayWindow } from "../../src/poi/replay";
import { freshAttestation, identity, type Measured } from "./common";

export async function measureVerifySuccess(attempted = 2048, validators = 4, batchSize = 64): Promise<Measured> {
  const ids = Array.from({ length: validators }, (_, i) => identity(`validator-${i}`));
  const keys = new Map(ids.map((v) => [v.id, v.publicKey]));
  const verifier = new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), replay: new ReplayWindow({ maxEntries: attempted * 2 }) });
  const now = Date.now();
  const items: IssuedAttestation[] = [];
  for (let i = 0; i < attempted; i++) {
    const v = ids[i % validators]!;
    items.push(signAttestation(freshAttestation(v.id, i, now), v.seed));
  }
  let verified = 0;
  const failed: Record<string, number> = {};
  for (let i = 0; i < items.length; i += batchSize) {
    for (const r of await verifier.verifyBatch(items.slice(i, i + batchSize))) {
      if (r.ok) verified++;
      else failed[r.reason] = (failed[r.reason] ?? 0) + 1;
    }
  }
  return {
    kind: "verify-success",
    title: "PoI verification success rate on valid input",
    method:
      `${attempted} distinct valid attestations (fresh nonces, current timestamps) signed round-robin by ${validators} registered validators, ` +
      `verified through AttestationVerifier.verifyBatch in batches of ${batchSize}; success rate = verified / attempted, failures counted by reason.`,
    gates: [{ gate: "poi-verify-success-rate", slo: "poiVerifySuccessRate", field: "results.successRate" }],
    results: { attempted, verified, failed, successRate: verified / attempted, validators, batchSize },
  };
}
