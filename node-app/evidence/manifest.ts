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

/** The 32-byte message the manifest signature covers. */
export function manifestDigest(manifest: Omit<Manifest, "signature"> | Manifest): Uint8Array {
  const { signature: _omit, ...unsigned } = manifest as Manifest;
  return blake3(new TextEncoder().encode(canonicalJson(unsigned)));
}

export function signatureValid(manifest: Manifest): boolean {
  return verify(Buffer.from(manifest.publicKey, "hex"), manifestDigest(manifest), Buffer.from(manifest.signature, "hex"));
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
  const manifest: Manifest = { ...unsigned, signature: toHex(sign(key.seed, manifestDigest(unsigned))) };
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
