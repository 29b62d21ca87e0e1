/**
 * Building and signing the manifest.
 *
 * Signed bytes: signature = Ed25519(seed, BLAKE3-256(utf8(canonicalJson(manifest without `signature`)))), with
 * canonicalJson as in canonical.ts (sorted keys, no whitespace). Every `*.json` in the folder except
 * manifest.json is an artifact, so artifacts written later (e.g. `perf-bench.json`) join by being present when
 * signing runs.
 */
import { blake3 } from "@noble/hashes/blake3.js";
import * as fs from "node:fs";
import * as path from "node:path";
import { sign, toHex, verify } from "./ed25519";
import { canonicalJson } from "./canonical";
import { gitInfo, machineInfo, toolVersions } from "./environment";
import { loadEvidenceKey, type EvidenceKey } from "./key";
import { MANIFEST_FILE, MANIFEST_SCHEMA, type Artifact, type GitInfo, type Manifest } from "./schema";

export const SIGNING = { algorithm: "Ed25519", digest: "BLAKE3-256", canonicalization: "json-sorted-keys-no-whitespace" } as const;

export function blake3Hex(bytes: Uint8Array): string {
  return toHex(blake3(bytes));
}

/**
 * A JSON document signed the evidence way: `publicKey` (hex) names the signer, `signature` (hex) is
 * Ed25519(seed, BLAKE3-256(utf8(canonicalJson(document without `signature`)))). The evidence manifest is one; the
 * release manifest (scripts/release/manifest.ts) is another.
 */
export interface SignedDocument {
  readonly publicKey: string;
  readonly signature: string;
}

/** The 32-byte message a signed document's signature covers. */
export function signedDigest(doc: object): Uint8Array {
  const { signature: _omit, ...unsigned } = doc as { signature?: unknown };
  return blake3(new TextEncoder().encode(canonicalJson(unsigned)));
}

/** Signs `unsigned` (whose `publicKey` must be the key's) and returns it with `signature`. */
export function signDocument<T extends { readonly publicKey: string }>(unsigned: T, key: EvidenceKey): T & { readonly signature: string } {
  if (unsigned.publicKey !== key.publicKeyHex) throw new Error(`document publicKey ${unsigned.publicKey} is not the signing key's ${key.publicKeyHex}`);
  return { ...unsigned, signature: toHex(sign(key.seed, signedDigest(unsigned))) };
}

export function documentSignatureValid(doc: SignedDocument): boolean {
  if (!/^[0-9a-f]{64}$/.test(doc.publicKey) || !/^[0-9a-f]{128}$/.test(doc.signature)) return false;
  return verify(Buffer.from(doc.publicKey, "hex"), signedDigest(doc), Buffer.from(doc.signature, "hex"));
}

/** The 32-byte message the manifest signature covers. */
export function manifestDigest(manifest: Omit<Manifest, "signature"> | Manifest): Uint8Array {
  return signedDigest(manifest);
}

export function signatureValid(manifest: Manifest): boolean {
  return documentSignatureValid(manifest);
}

/** Names of the artifacts in `dir`: every `*.json` file (symlinks followed, as in a ConfigMap mount) except the manifest. */
export function artifactFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".json") && n !== MANIFEST_FILE && !n.startsWith("."))
    .filter((n) => fs.statSync(path.join(dir, n)).isFile())
    .sort();
}

/** Writes one artifact as pretty JSON (the digest covers the bytes as written). */
export function writeArtifact(dir: string, file: string, artifact: Artifact): string {
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, file);
  fs.writeFileSync(target, `${JSON.stringify(artifact, null, 2)}\n`);
  return target;
}

export interface SignOptions {
  /** Signing key (default: `loadEvidenceKey()`, which creates the local key on first use). */
  readonly key?: EvidenceKey;
  /** Overrides for tests: the commit and creation time recorded. */
  readonly git?: GitInfo;
  readonly createdAt?: Date;
}

/** Lists and hashes every artifact in `dir`, signs the manifest and writes `dir/manifest.json`. */
export function signEvidence(dir: string, options: SignOptions = {}): Manifest {
  const files = artifactFiles(dir);
  if (files.length === 0) throw new Error(`no *.json artifacts in ${dir} to sign`);
  const key = options.key ?? loadEvidenceKey();
  const git = options.git ?? gitInfo();
  const unsigned: Omit<Manifest, "signature"> = {
    schema: MANIFEST_SCHEMA,
    createdAt: (options.createdAt ?? new Date()).toISOString(),
    commit: git.commit,
    dirty: git.dirty,
    artifacts: files.map((file) => {
      const bytes = fs.readFileSync(path.join(dir, file));
      return { file, blake3: blake3Hex(bytes), bytes: bytes.length };
    }),
    tools: toolVersions(),
    machine: machineInfo(),
    signing: { ...SIGNING },
    publicKey: key.publicKeyHex,
  };
  const manifest: Manifest = signDocument(unsigned, key);
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
