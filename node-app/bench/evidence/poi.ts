/** PoI generation (encode + sign) and verification (decode, lookup, replay window, ZIP-215 signature) per attestation. */
import { summarizeNanos } from "@bizra/evidence";
import { attestationDigests } from "../../src/main";
import { signAttestation, AttestationVerifier, type IssuedAttestation } from "../../src/poi/verify";
import { freshAttestation, identity, type Measured } from "./common";

export async function measurePoi(samples = 3000, warmup = 200): Promise<Measured> {
  const v = identity("bench-validator");
  const digests = attestationDigests(); // as startNode chooses it: native BLAKE3 when the addon is built
  const verifier = new AttestationVerifier({ publicKeyOf: (id) => (id === v.id ? v.publicKey : undefined), digests });
  const now = Date.now();
  for (let i = 0; i < warmup; i++) void signAttestation(freshAttestation(v.id, i, now), v.seed, digests);

  const issued: IssuedAttestation[] = [];
  const gen: bigint[] = [];
  const genStart = process.hrtime.bigint();
  for (let i = 0; i < samples; i++) {
    const a = freshAttestation(v.id, i, Date.now());
    const t0 = process.hrtime.bigint();
    issued.push(signAttestation(a, v.seed, digests));
    gen.push(process.hrtime.bigint() - t0);
  }
  const genWall = Number(process.hrtime.bigint() - genStart) / 1e9;

  const ver: bigint[] = [];
  let ok = 0;
  const verStart = process.hrtime.bigint();
  for (const item of issued) {
    const t0 = process.hrtime.bigint();
    const result = await verifier.verify(item);
    ver.push(process.hrtime.bigint() - t0);
    if (result.ok) ok++;
  }
  const verWall = Number(process.hrtime.bigint() - verStart) / 1e9;
  const g = summarizeNanos(gen);
  const vs = summarizeNanos(ver);
  return {
    kind: "poi",
    title: "PoI attestation generation and verification",
    method:
      `In one process, ${warmup} warm-up signings, then ${samples} fresh attestations (random 256-byte payload, random nonce) ` +
      "encoded and signed one at a time (encodeAttestation + BLAKE3 + Ed25519 RFC 8032), each timed with process.hrtime.bigint(); " +
      `then the same ${samples} verified one at a time through AttestationVerifier (decode, key lookup, replay window, ZIP-215, no cache). ` +
      "Percentiles are nearest-rank over the raw per-operation samples; throughput = operations / wall time of the loop.",
    gates: [
      { gate: "poi-generate-p99", slo: "poiGenerateP99", field: "results.generate.p99Seconds" },
      { gate: "poi-verify-p99", slo: "poiVerifyP99", field: "results.verify.p99Seconds" },
    ],
    results: {
      generate: { ...g, throughputPerSecond: samples / genWall, wallSeconds: genWall },
      verify: { ...vs, throughputPerSecond: samples / verWall, wallSeconds: verWall, ok },
      backend: verifier.backend.name,
    },
  };
}
