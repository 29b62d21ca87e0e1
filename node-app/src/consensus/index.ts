/** Weighted-quorum consensus: validator set, basis-point finality, deterministic head, equivocation, signed votes. */
export * from "./determinism";
export * from "./quorum";
export * from "./validator-set";
export * from "./vote-tally";
export * from "./vote-encoding";
