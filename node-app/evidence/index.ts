/** The signed evidence bundle: writing (manifest.ts), verifying (verify.ts), trust (trust.ts) and their shared shapes. */
export * from "./canonical";
export * from "./cli";
export * from "./ed25519";
export * from "./environment";
export * from "./key";
export * from "./manifest";
export * from "./schema";
export * from "./stats";
export * from "./trust";
export * from "./verify";
