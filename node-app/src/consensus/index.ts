/** Weighted-quorum consensus: validator set, basis-point finality, deterministic head, equivocation. */
export * from "./determinism";
export * from "./quorum";
export * from "./validator-set";
export * from "./vote-tally";
