/** Proof-of-Impact: attestation encoding, signing, ZIP-215 verification, batch verification, replay window. */
export * from "./attestation";
export * from "./bytes";
export * from "./replay";
export * from "./signature";
export * from "./verify";
