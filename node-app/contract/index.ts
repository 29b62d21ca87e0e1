/** `@bizra/contract`: what the node and the program that deploys it must agree on. Depends on nothing. */
export * from "./names";
export * from "./slo";
