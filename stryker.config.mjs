// StrykerJS for the program's areas (policies, components); the table of areas is mutation/areas.mjs.
// Run through `npm run mutation` (scripts/mutation.sh).
import { strykerOptions } from "./mutation/areas.mjs";

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...strykerOptions(process.env.BIZRA_MUTATION_AREA, "."),
  ignorePatterns: [".toolchain", ".pulumi-local", "rendered", "evidence", "node-app/native/target", "node-app/dist", "reports", ".venv"],
};
