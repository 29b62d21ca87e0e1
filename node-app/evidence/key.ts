/**
 * The evidence signing key: a 32-byte Ed25519 seed stored as 64 hex digits.
 *
 * Production: `BIZRA_EVIDENCE_KEY_FILE` names the seed file (a CI secret); it must exist. Local runs:
 * `.evidence-key/ed25519.seed` at the repository root (git-ignored), created on first use with mode 0600.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fromHex, publicKeyOf, randomSeed, toHex } from "./ed25519";
import { REPO_ROOT } from "./environment";

export const EVIDENCE_KEY_ENV = "BIZRA_EVIDENCE_KEY_FILE";
export const LOCAL_KEY_FILE = path.join(REPO_ROOT, ".evidence-key", "ed25519.seed");

export interface EvidenceKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly publicKeyHex: string;
  readonly file: string;
  readonly created: boolean;
}

function parseSeed(file: string, text: string): Uint8Array {
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file}: expected 64 lower-case hex digits (an Ed25519 seed)`);
  return fromHex(hex, 32);
}

/** Loads the key named by the environment, or the local key (created when `create` and it does not exist). */
export function loadEvidenceKey(opts: { file?: string; env?: NodeJS.ProcessEnv; create?: boolean } = {}): EvidenceKey {
  const env = opts.env ?? process.env;
  const fromEnv = env[EVIDENCE_KEY_ENV];
  const file = opts.file ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : LOCAL_KEY_FILE);
  let created = false;
  if (!fs.existsSync(file)) {
    if (opts.create === false || file !== (opts.file ?? LOCAL_KEY_FILE)) {
      throw new Error(`evidence key file ${file} does not exist${file === fromEnv ? ` (from ${EVIDENCE_KEY_ENV})` : ""}`);
    }
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, `${toHex(randomSeed())}\n`, { mode: 0o600, flag: "wx" });
    created = true;
  }
  const seed = parseSeed(file, fs.readFileSync(file, "utf8"));
  const publicKey = publicKeyOf(seed);
  return { seed, publicKey, publicKeyHex: toHex(publicKey), file, created };
}

/** Public key (hex) of the local key, or undefined when there is none. Never creates a key. */
export function localPublicKeyHex(file: string = LOCAL_KEY_FILE): string | undefined {
  if (!fs.existsSync(file)) return undefined;
  return toHex(publicKeyOf(parseSeed(file, fs.readFileSync(file, "utf8"))));
}
