/** Entry point of `npm run evidence:verify` and of the validator Job (`EVIDENCE_VERIFY_COMMAND`): see @bizra/evidence cli.ts. */
import { runVerifyCli } from "@bizra/evidence";

const { code, out } = runVerifyCli(process.argv.slice(2));
(code === 0 ? process.stdout : process.stderr).write(`${out}\n`);
process.exitCode = code;
