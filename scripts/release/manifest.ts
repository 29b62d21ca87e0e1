/**
 * The release manifest (`release.json`, schema `bizra.release.manifest/v1`): what one `npm run release -- <stack>`
 * produced, signed exactly like the evidence manifest (Ed25519 over BLAKE3-256 of the canonical JSON, same key, same
 * code: @bizra/evidence `signDocument`, node-app/evidence/manifest.ts).
 *
 * The bundle folder holds release.json plus the files it names (SBOMs, the evidence bundle, the rendered manifests);
 * every file is listed with its SHA-256 and BLAKE3-256. `checkReleaseBundle` is the offline part of verification (the
 * quality-gates pack runs it); scripts/release/verify.ts adds the registry checks (cosign verify, verify-attestation,
 * tag and digest resolution).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { blake3Hex, documentSignatureValid, signDocument, SIGNING } from "@bizra/evidence";
import type { EvidenceKey } from "@bizra/evidence";

export const RELEASE_SCHEMA = "bizra.release.manifest/v1";
export const RELEASE_FILE = "release.json";
/** Git-ignored root of the release bundles: `releases/<stack>/<commit12>-<digest12>/`. */
export const RELEASES_DIR = path.resolve(__dirname, "..", "..", "releases");

const HEX64 = /^[0-9a-f]{64}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const COMMIT = /^[0-9a-f]{40}$/;

const fileEntry = z.strictObject({
  file: z.string().regex(/^[A-Za-z0-9._/-]+$/).refine((f) => !f.split("/").includes(".."), { error: "a path inside the bundle" }),
  sha256: z.string().regex(HEX64),
  blake3: z.string().regex(HEX64),
  bytes: z.number().int().nonnegative(),
});
export type FileEntry = z.infer<typeof fileEntry>;

export const releaseManifestSchema = z.strictObject({
  schema: z.literal(RELEASE_SCHEMA),
  createdAt: z.iso.datetime(),
  stack: z.string().min(1),
  commit: z.string().regex(COMMIT),
  /** Committer time of the commit (ISO 8601): the image's `created` label and timestamps. */
  commitTime: z.iso.datetime({ offset: true }),
  source: z.string().min(1),
  image: z.strictObject({
    repository: z.string().min(1),
    digest: z.string().regex(DIGEST),
    /** `repository@digest`: what `bizra:image.reference` is set to. */
    reference: z.string().min(1),
    /** The tag pushed beside the digest (`<commit>`); a tag that later points elsewhere is a re-tagged image. */
    tag: z.string().min(1),
    buildArgs: z.strictObject({ BIZRA_USE_RUST: z.enum(["true", "false"]), GIT_COMMIT: z.string().regex(COMMIT) }),
    labels: z.record(z.string(), z.string()),
    /** The base image the build started from, pinned by digest (`bizra/node-base@sha256:...`, scripts/images.sh). */
    base: z.string().regex(/^[a-z0-9._/-]+@sha256:[0-9a-f]{64}$/),
    builder: z.string().min(1),
  }),
  /** CycloneDX JSON SBOMs: `image` (syft over the pushed digest) and `npm` (the npm dependency trees). */
  sboms: z.strictObject({ image: fileEntry, npm: fileEntry }),
  cosign: z.strictObject({
    /** The stack's cosign public key (PEM) and its SHA-256. */
    publicKey: z.string().min(1),
    publicKeySha256: z.string().regex(HEX64),
    /** Where cosign stores the signature and the attestation (`<repo>:sha256-<hex>.sig` / `.att`). */
    signatureRef: z.string().min(1),
    attestationRef: z.string().min(1),
    predicateType: z.string().min(1),
  }),
  evidence: z.strictObject({
    /** The evidence manifest, copied into the bundle (`evidence/manifest.json`), and its signer. */
    manifest: fileEntry,
    publicKey: z.string().regex(HEX64),
    commit: z.string().regex(COMMIT),
    artifacts: z.array(fileEntry),
  }),
  /** `pulumi preview` is not run here: the offline render (`npm run render`) of the stack with the released image. */
  rendered: z.array(fileEntry).min(1),
  tools: z.record(z.string(), z.string()),
  signing: z.strictObject({ algorithm: z.literal(SIGNING.algorithm), digest: z.literal(SIGNING.digest), canonicalization: z.literal(SIGNING.canonicalization) }),
  publicKey: z.string().regex(HEX64),
  signature: z.string().regex(/^[0-9a-f]{128}$/),
});
export type ReleaseManifest = z.infer<typeof releaseManifestSchema>;
export type UnsignedReleaseManifest = Omit<ReleaseManifest, "signature" | "publicKey" | "signing" | "schema">;

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The digest entry of a file inside the bundle. */
export function fileEntryOf(bundleDir: string, file: string): FileEntry {
  const bytes = fs.readFileSync(path.join(bundleDir, file));
  return { file, sha256: sha256Hex(bytes), blake3: blake3Hex(bytes), bytes: bytes.length };
}

/** Signs and writes `<bundleDir>/release.json`. */
export function writeReleaseManifest(bundleDir: string, unsigned: UnsignedReleaseManifest, key: EvidenceKey): ReleaseManifest {
  const doc = signDocument({ schema: RELEASE_SCHEMA, ...unsigned, signing: { ...SIGNING }, publicKey: key.publicKeyHex }, key);
  const manifest = releaseManifestSchema.parse(doc);
  fs.writeFileSync(path.join(bundleDir, RELEASE_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export type ReleaseProblemCode =
  | "unreadable"
  | "malformed-manifest"
  | "bad-signature"
  | "untrusted-key"
  | "missing-file"
  | "digest-mismatch"
  | "wrong-stack"
  | "wrong-image"
  | "wrong-cosign-key"
  | "image-signature"
  | "sbom-attestation"
  | "retagged-image"
  | "registry";

export interface ReleaseProblem {
  readonly code: ReleaseProblemCode;
  readonly message: string;
}

export interface ReleaseCheckOptions {
  /** Hex Ed25519 keys allowed to sign release manifests (the evidence keys); `"any"`: self-consistency only. */
  readonly trustedKeys: readonly string[] | "any";
  /** The stack the manifest must be for. */
  readonly stack?: string;
  /** The digest-pinned reference the stack deploys (`bizra:image.reference`); it must be the released one. */
  readonly imageReference?: string;
  /** PEM the stack trusts (`bizra:kyverno.cosignPublicKey`); it must be the key that signed the image. */
  readonly cosignPublicKey?: string;
}

export interface ReleaseReport {
  readonly ok: boolean;
  readonly file: string;
  readonly manifest?: ReleaseManifest;
  readonly problems: readonly ReleaseProblem[];
}

/** `target` is a release.json, a bundle folder, or a folder of bundles (then the newest bundle in it). */
export function releaseFileOf(target: string): string {
  if (!fs.existsSync(target) || !fs.statSync(target).isDirectory()) return target;
  const own = path.join(target, RELEASE_FILE);
  if (fs.existsSync(own)) return own;
  const newest = fs
    .readdirSync(target)
    .map((n) => path.join(target, n, RELEASE_FILE))
    .filter((f) => fs.existsSync(f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  return newest ?? own;
}

const normalizePem = (pem: string): string => pem.replace(/\r/g, "").trim();

/**
 * Offline checks: schema, Ed25519 signature, trusted signer, every listed file's SHA-256 and BLAKE3 (SBOMs, evidence,
 * rendered manifests), and, when given, the stack, the deployed image reference and the trusted cosign key.
 */
export function checkReleaseBundle(target: string, options: ReleaseCheckOptions): ReleaseReport {
  const file = releaseFileOf(target);
  const dir = path.dirname(file);
  const problems: ReleaseProblem[] = [];
  const done = (manifest?: ReleaseManifest): ReleaseReport => ({ ok: problems.length === 0, file, ...(manifest ? { manifest } : {}), problems });
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    problems.push({ code: "unreadable", message: `${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist (run `npm run release -- <stack>`)" : (err as Error).message}` });
    return done();
  }
  const parsed = releaseManifestSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push({ code: "malformed-manifest", message: `${RELEASE_FILE}: ${issue.path.join(".") || "(root)"}: ${issue.message}` });
    return done();
  }
  const m = parsed.data;
  if (!documentSignatureValid(m)) {
    problems.push({ code: "bad-signature", message: `${RELEASE_FILE}: the Ed25519 signature does not verify over the canonical manifest (edited after signing, or signed by another key)` });
  }
  if (options.trustedKeys !== "any" && !options.trustedKeys.map((k) => k.toLowerCase()).includes(m.publicKey)) {
    problems.push({
      code: "untrusted-key",
      message: `${RELEASE_FILE}: signed by ${m.publicKey}, which is not a trusted release key (trusted: ${options.trustedKeys.join(", ") || "none configured"})`,
    });
  }
  const entries: FileEntry[] = [m.sboms.image, m.sboms.npm, m.evidence.manifest, ...m.evidence.artifacts, ...m.rendered];
  for (const e of entries) {
    const p = path.join(dir, e.file);
    if (!fs.existsSync(p)) {
      problems.push({ code: "missing-file", message: `${e.file}: listed in ${RELEASE_FILE} but missing from ${dir}` });
      continue;
    }
    const actual = fileEntryOf(dir, e.file);
    if (actual.sha256 !== e.sha256 || actual.blake3 !== e.blake3) {
      problems.push({ code: "digest-mismatch", message: `${e.file}: SHA-256 ${actual.sha256} differs from the manifest's ${e.sha256} (file swapped or changed after the release)` });
    }
  }
  if (m.image.reference !== `${m.image.repository}@${m.image.digest}`) {
    problems.push({ code: "wrong-image", message: `${RELEASE_FILE}: image.reference ${m.image.reference} is not image.repository@image.digest` });
  }
  if (options.stack !== undefined && m.stack !== options.stack) {
    problems.push({ code: "wrong-stack", message: `${RELEASE_FILE}: released for stack ${m.stack}, not ${options.stack}` });
  }
  if (options.imageReference !== undefined && options.imageReference !== m.image.reference) {
    problems.push({ code: "wrong-image", message: `the stack deploys ${options.imageReference}, but the release manifest is for ${m.image.reference}` });
  }
  if (sha256Hex(normalizePem(m.cosign.publicKey)) !== m.cosign.publicKeySha256) {
    problems.push({ code: "wrong-cosign-key", message: `${RELEASE_FILE}: cosign.publicKeySha256 does not match cosign.publicKey` });
  }
  if (options.cosignPublicKey !== undefined && normalizePem(options.cosignPublicKey) !== normalizePem(m.cosign.publicKey)) {
    problems.push({ code: "wrong-cosign-key", message: `the image was signed with cosign key sha256:${m.cosign.publicKeySha256.slice(0, 16)}…, not with the key the stack trusts (bizra:kyverno.cosignPublicKey)` });
  }
  return done(m);
}

export function cosignKeyFingerprint(pem: string): string {
  return sha256Hex(normalizePem(pem));
}

/** Release manifests of a stack's bundles, newest first. */
export function releaseBundles(stack: string, root: string = RELEASES_DIR): string[] {
  const dir = path.join(root, stack);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((n) => path.join(dir, n, RELEASE_FILE))
    .filter((f) => fs.existsSync(f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
}

/** The bundle whose manifest names `imageReference` (by its digest), if any; unparseable files are skipped. */
export function findReleaseFor(stack: string, imageReference: string, root: string = RELEASES_DIR): string | undefined {
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(imageReference)?.[1];
  if (!digest) return undefined;
  return releaseBundles(stack, root).find((f) => {
    try {
      const m = JSON.parse(fs.readFileSync(f, "utf8")) as { image?: { digest?: string } };
      return m.image?.digest === digest;
    } catch {
      return false;
    }
  });
}
