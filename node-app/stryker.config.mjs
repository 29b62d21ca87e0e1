// StrykerJS for the node's areas (poi, consensus, evidence); the table of areas is ../mutation/areas.mjs.
// Run through `npm run mutation` at the repository root (scripts/mutation.sh).
import { strykerOptions } from "../mutation/areas.mjs";

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...strykerOptions(process.env.BIZRA_MUTATION_AREA, "node-app"),
  ignorePatterns: ["native/target", "dist"],
};
