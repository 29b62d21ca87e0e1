/** The signed evidence bundle: writing (manifest.ts), verifying (verify.ts), and their shared shapes. */
export * from "./canonical";
export * from "./environment";
export * from "./key";
export * from "./manifest";
export * from "./schema";
export * from "./stats";
export * from "./verify";
