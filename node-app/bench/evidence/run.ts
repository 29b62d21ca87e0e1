/**
 * `npm run evidence`: runs every measurement on this machine, writes one artifact each into <repo>/evidence/, then
 * signs every *.json artifact present there (including ones other tools wrote, e.g. perf-bench.json) into
 * manifest.json. Usage: run.ts [outDir]
 */
import * as path from "node:path";
import { DEFAULT_EVIDENCE_DIR, loadEvidenceKey, signEvidence, writeArtifact } from "@bizra/evidence";
import { measureArtifact, type Measured } from "./common";
import { measureDeterminism } from "./determinism";
import { measureFinality } from "./finality";
import { measureHttpLoad } from "./http-load";
import { measurePoi } from "./poi";
import { measureVerifySuccess } from "./verify-success";
import { measurePerf } from "../perf/measure";

const RUNNERS: Array<[file: string, run: () => Promise<Measured> | Measured]> = [
  ["poi.json", () => measurePoi()],
  ["finality.json", () => measureFinality()],
  ["verify-success.json", () => measureVerifySuccess()],
  ["wq-determinism.json", () => measureDeterminism()],
  ["http-load.json", () => measureHttpLoad()],
  ["perf-bench.json", () => measurePerf()],
];

async function main(): Promise<void> {
  const arg = process.argv[2];
  const dir = arg === undefined ? DEFAULT_EVIDENCE_DIR : path.resolve(process.env["INIT_CWD"] ?? process.cwd(), arg);
  const key = loadEvidenceKey();
  if (key.created) process.stdout.write(`created evidence key ${key.file} (public key ${key.publicKeyHex})\n`);
  for (const [file, run] of RUNNERS) {
    process.stdout.write(`measuring ${file} ... `);
    const artifact = await measureArtifact(run);
    writeArtifact(dir, file, artifact);
    process.stdout.write(`${artifact.durationSeconds.toFixed(1)} s\n`);
  }
  const manifest = signEvidence(dir, { key });
  process.stdout.write(
    `signed ${path.join(dir, "manifest.json")}: ${manifest.artifacts.length} artifacts, commit ${manifest.commit}${manifest.dirty ? " (dirty)" : ""}, key ${manifest.publicKey}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`evidence failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
