/**
 * `npm run evidence:verify [dir|manifest.json] [--trusted-key HEX ...] [--commit SHA|any] [--max-age-hours N]`
 *
 * Verifies a signed evidence bundle and names every problem; exit 0 when valid, 1 when not, 2 on bad usage.
 * Defaults: dir = <repo>/evidence; trusted keys = --trusted-key flags, else BIZRA_EVIDENCE_TRUSTED_KEYS
 * (comma-separated), else the local key's public key; commit = `git rev-parse HEAD` when in a work tree (`any`
 * skips); max age 24 h (0 skips). The entry point is node-app/src/cli/evidence-verify.ts; the validator Job runs
 * it from the image (`EVIDENCE_VERIFY_COMMAND`).
 */
import * as path from "node:path";
import { DEFAULT_EVIDENCE_DIR, headCommit } from "./environment";
import { parseTrustedKeys, TRUSTED_KEYS_ENV, trustedKeysOrLocal } from "./trust";
import { formatProblems, verifyEvidence, type VerifyOptions } from "./verify";

const USAGE = "usage: evidence-verify [dir|manifest.json] [--trusted-key HEX ...] [--commit SHA|any] [--max-age-hours N]";

export interface CliResult {
  readonly code: number;
  readonly out: string;
}

export function runVerifyCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, now = new Date()): CliResult {
  let target: string | undefined;
  const keys: string[] = [];
  let commit: string | undefined;
  let maxAge = 24;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    try {
      if (arg === "--trusted-key") {
        const k = value();
        if (!/^[0-9a-fA-F]{64}$/.test(k)) throw new Error(`--trusted-key ${k}: expected 64 hex digits`);
        keys.push(k.toLowerCase());
      } else if (arg === "--commit") commit = value();
      else if (arg === "--max-age-hours") {
        const v = value();
        maxAge = Number(v);
        if (!Number.isFinite(maxAge) || maxAge < 0) throw new Error(`--max-age-hours ${v}: expected a number >= 0`);
      } else if (arg === "--help" || arg === "-h") return { code: 0, out: USAGE };
      else if (arg.startsWith("--")) throw new Error(`unknown option ${arg}`);
      else if (target === undefined) target = arg;
      else throw new Error(`unexpected argument ${arg}`);
    } catch (err) {
      return { code: 2, out: `${(err as Error).message}\n${USAGE}` };
    }
  }
  const notes: string[] = [];
  let trustedKeys: VerifyOptions["trustedKeys"] = keys;
  if (keys.length === 0) {
    const fromEnv = parseTrustedKeys(env[TRUSTED_KEYS_ENV]);
    const resolved = trustedKeysOrLocal(fromEnv);
    if (fromEnv.length > 0) trustedKeys = fromEnv;
    else if (resolved.length > 0) {
      trustedKeys = resolved;
      notes.push(`trusting the local evidence key ${resolved.join(", ")}`);
    } else {
      trustedKeys = "any";
      notes.push("WARNING: no trusted key given (--trusted-key or BIZRA_EVIDENCE_TRUSTED_KEYS): only self-consistency of the signature is checked");
    }
  }
  const requiredCommit = commit === "any" ? undefined : (commit ?? headCommit());
  if (requiredCommit === undefined && commit !== "any") notes.push("not in a git work tree: commit not checked (pass --commit SHA)");
  // npm runs scripts in node-app/; a relative path means the caller's directory (INIT_CWD)
  const dir = target === undefined ? DEFAULT_EVIDENCE_DIR : path.resolve(env["INIT_CWD"] ?? process.cwd(), target);
  const report = verifyEvidence(dir, {
    trustedKeys,
    ...(requiredCommit !== undefined ? { commit: requiredCommit } : {}),
    ...(maxAge > 0 ? { maxAgeHours: maxAge } : {}),
    now,
  });
  const lines = [...notes];
  if (report.ok && report.manifest) {
    const m = report.manifest;
    lines.push(
      `evidence OK: ${report.dir}`,
      `  ${m.artifacts.length} artifacts: ${m.artifacts.map((a) => a.file).join(", ")}`,
      `  commit ${m.commit}${m.dirty ? " (dirty work tree)" : ""}, created ${m.createdAt}, signed by ${m.publicKey}`,
    );
    return { code: 0, out: lines.join("\n") };
  }
  lines.push(`evidence INVALID: ${report.dir} (${report.problems.length} problem${report.problems.length === 1 ? "" : "s"})`, formatProblems(report));
  return { code: 1, out: lines.join("\n") };
}
