/**
 * Verification of a signed evidence bundle: the one routine behind `npm run evidence:verify`, the validator Job
 * (`EVIDENCE_VERIFY_COMMAND`) and the quality-gates policy pack.
 *
 * Checks, each reported with a code, the file and (where it applies) the field:
 *   unreadable / malformed-manifest        manifest.json missing, not JSON, or not the manifest schema; or the
 *                                          folder cannot be listed (file ".")
 *   bad-signature                          the Ed25519 signature does not verify over the canonical manifest
 *   untrusted-key                          the signing key is not one of the trusted keys
 *   missing-artifact / extra-artifact      a listed file is absent / a *.json file is present but not listed
 *   digest-mismatch                        a file's BLAKE3-256 differs from the manifest
 *   malformed-artifact                     an artifact is not JSON or not the artifact schema (file and field named)
 *   wrong-commit                           the manifest (or an artifact) names another commit than required
 *   too-old / from-the-future              createdAt is older than maxAgeHours / ahead of the clock by > 5 minutes
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { blake3Hex, signatureValid } from "./manifest";
import { artifactFiles } from "./manifest";
import { describeIssues, manifestSchema, MANIFEST_FILE, parseArtifact, type Artifact, type Manifest } from "./schema";

export type ProblemCode =
  | "unreadable"
  | "malformed-manifest"
  | "bad-signature"
  | "untrusted-key"
  | "missing-artifact"
  | "extra-artifact"
  | "digest-mismatch"
  | "malformed-artifact"
  | "wrong-commit"
  | "too-old"
  | "from-the-future";

export interface EvidenceProblem {
  readonly code: ProblemCode;
  readonly file: string;
  readonly field?: string;
  readonly message: string;
}

export interface VerifyOptions {
  /** Hex Ed25519 public keys allowed to sign; `"any"` accepts the key embedded in the manifest (self-consistency only). */
  readonly trustedKeys: readonly string[] | "any";
  /** Required commit (full id); undefined skips the check. */
  readonly commit?: string;
  /** Maximum age of the manifest; undefined skips the check. */
  readonly maxAgeHours?: number;
  readonly now?: Date;
}

export interface EvidenceReport {
  readonly ok: boolean;
  readonly dir: string;
  readonly manifest?: Manifest;
  /** Artifacts that passed digest and schema checks, by file name. */
  readonly artifacts: Readonly<Record<string, Artifact>>;
  readonly problems: readonly EvidenceProblem[];
}

const FUTURE_SKEW_MS = 5 * 60 * 1000;

/** `dir` may be the bundle folder or the path of its manifest.json. */
export function resolveBundleDir(target: string): string {
  return path.basename(target) === MANIFEST_FILE && !(fs.existsSync(target) && fs.statSync(target).isDirectory()) ? path.dirname(target) : target;
}

export function verifyEvidence(target: string, options: VerifyOptions): EvidenceReport {
  const dir = resolveBundleDir(target);
  const problems: EvidenceProblem[] = [];
  const artifacts: Record<string, Artifact> = {};
  const done = (manifest?: Manifest): EvidenceReport => ({ ok: problems.length === 0, dir, ...(manifest ? { manifest } : {}), artifacts, problems });

  const manifestPath = path.join(dir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    problems.push({
      code: "unreadable",
      file: MANIFEST_FILE,
      message: e.code === "ENOENT" ? `${manifestPath} does not exist (run \`npm run evidence\`)` : `${MANIFEST_FILE} is not valid JSON: ${e.message}`,
    });
    return done();
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of describeIssues(parsed.error)) {
      const [field, ...rest] = issue.split(": ");
      problems.push({ code: "malformed-manifest", file: MANIFEST_FILE, field: field as string, message: `${MANIFEST_FILE}: ${field}: ${rest.join(": ")}` });
    }
    return done();
  }
  const manifest = parsed.data;

  if (!signatureValid(manifest)) {
    problems.push({ code: "bad-signature", file: MANIFEST_FILE, field: "signature", message: `${MANIFEST_FILE}: the Ed25519 signature does not verify over the canonical manifest (content changed after signing, or signed by another key)` });
  }
  if (options.trustedKeys !== "any") {
    const trusted = options.trustedKeys.map((k) => k.toLowerCase());
    if (!trusted.includes(manifest.publicKey)) {
      problems.push({
        code: "untrusted-key",
        file: MANIFEST_FILE,
        field: "publicKey",
        message: trusted.length === 0
          ? `${MANIFEST_FILE}: signed by ${manifest.publicKey}, and no trusted keys are configured`
          : `${MANIFEST_FILE}: signed by ${manifest.publicKey}, which is not a trusted key (trusted: ${trusted.join(", ")})`,
      });
    }
  }
  if (options.commit !== undefined && manifest.commit !== options.commit) {
    problems.push({ code: "wrong-commit", file: MANIFEST_FILE, field: "commit", message: `${MANIFEST_FILE}: evidence is from commit ${manifest.commit}, required ${options.commit}` });
  }
  const now = (options.now ?? new Date()).getTime();
  const created = Date.parse(manifest.createdAt);
  if (options.maxAgeHours !== undefined && now - created > options.maxAgeHours * 3_600_000) {
    const hours = ((now - created) / 3_600_000).toFixed(1);
    problems.push({ code: "too-old", file: MANIFEST_FILE, field: "createdAt", message: `${MANIFEST_FILE}: evidence created ${manifest.createdAt} is ${hours} h old, more than maxAgeHours ${options.maxAgeHours}` });
  }
  if (created - now > FUTURE_SKEW_MS) {
    problems.push({ code: "from-the-future", file: MANIFEST_FILE, field: "createdAt", message: `${MANIFEST_FILE}: createdAt ${manifest.createdAt} is in the future` });
  }

  const listed = new Set<string>();
  for (const entry of manifest.artifacts) {
    listed.add(entry.file);
    const file = path.join(dir, entry.file);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      problems.push({ code: "missing-artifact", file: entry.file, message: `${entry.file}: listed in ${MANIFEST_FILE} but missing from ${dir}` });
      continue;
    }
    const digest = blake3Hex(bytes);
    if (digest !== entry.blake3) {
      problems.push({ code: "digest-mismatch", file: entry.file, field: "blake3", message: `${entry.file}: BLAKE3 ${digest} differs from the manifest's ${entry.blake3} (file changed after signing)` });
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString("utf8"));
    } catch (err) {
      problems.push({ code: "malformed-artifact", file: entry.file, message: `${entry.file}: not valid JSON (${(err as Error).message})` });
      continue;
    }
    const artifact = parseArtifact(json);
    if (!artifact.ok) {
      for (const p of artifact.problems) {
        problems.push({ code: "malformed-artifact", file: entry.file, field: p.split(": ")[0] as string, message: `${entry.file}: ${p}` });
      }
      continue;
    }
    if (options.commit !== undefined && artifact.artifact.git.commit !== options.commit) {
      problems.push({ code: "wrong-commit", file: entry.file, field: "git.commit", message: `${entry.file}: measured at commit ${artifact.artifact.git.commit}, required ${options.commit}` });
    }
    artifacts[entry.file] = artifact.artifact;
  }
  let present: string[];
  try {
    present = artifactFiles(dir);
  } catch (err) {
    // fail closed: an unlisted artifact could hide behind a folder that cannot be listed (e.g. a dangling *.json link)
    problems.push({ code: "unreadable", file: ".", message: `cannot list the artifacts in ${dir}: ${(err as Error).message}` });
    present = [];
  }
  for (const file of present) {
    if (!listed.has(file)) problems.push({ code: "extra-artifact", file, message: `${file}: present in ${dir} but not listed in ${MANIFEST_FILE} (re-run signing)` });
  }
  return done(manifest);
}

/** One line per problem, for CLIs and policy messages. */
export function formatProblems(report: EvidenceReport): string {
  return report.problems.map((p) => `[${p.code}] ${p.message}`).join("\n");
}
