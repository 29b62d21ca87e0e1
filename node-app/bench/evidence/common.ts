/** Shared by the measurement runners: the artifact header and test identities. */
import { randomBytes } from "node:crypto";
import { type Artifact, ARTIFACT_SCHEMA, type GateRef, gitInfo, machineInfo } from "@bizra/evidence";
import { ATTESTATION_VERSION, payloadDigest, type Attestation } from "../../src/poi/attestation";
import { publicKeyOf, randomSecretKey } from "../../src/poi/signature";

export interface Measured {
  readonly kind: string;
  readonly title: string;
  readonly method: string;
  readonly gates: Array<Omit<GateRef, "kind"> & { kind?: GateRef["kind"] }>;
  readonly results: Record<string, unknown>;
}

/** Runs `measure`, timing it, and wraps its output in the artifact header. */
export async function measureArtifact(measure: () => Promise<Measured> | Measured): Promise<Artifact> {
  const createdAt = new Date().toISOString();
  const started = process.hrtime.bigint();
  const m = await measure();
  const durationSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    schema: ARTIFACT_SCHEMA,
    kind: m.kind,
    title: m.title,
    method: m.method,
    createdAt,
    durationSeconds,
    machine: machineInfo(),
    git: gitInfo(),
    gates: m.gates.map((g) => ({ kind: "threshold", ...g })),
    results: m.results,
  };
}

export interface Identity {
  readonly id: string;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function identity(id: string): Identity {
  const seed = randomSecretKey();
  return { id, seed, publicKey: publicKeyOf(seed) };
}

/** A fresh attestation by `validatorId` with a random payload and nonce, timestamped `now`. */
export function freshAttestation(validatorId: string, slot: number, now: number): Attestation {
  return {
    version: ATTESTATION_VERSION,
    validatorId,
    epoch: Math.floor(slot / 32),
    slot,
    payloadDigest: payloadDigest(new Uint8Array(randomBytes(256))),
    nonce: new Uint8Array(randomBytes(16)),
    timestampMs: now,
  };
}

/** Yields to the event loop (keeps timers and sockets serviced during long loops). */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
