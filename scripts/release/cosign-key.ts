/**
 * The stack's cosign signing key.
 *
 * Local and test stacks: a P-256 key pair generated on first use into `.cosign-key/` (git-ignored): `cosign.key` in
 * cosign's own encrypted format (`ENCRYPTED SIGSTORE PRIVATE KEY`: scrypt N=32768 r=8 p=1, NaCl secretbox over the
 * PKCS#8 key, exactly what `cosign generate-key-pair` writes), with the empty password, and `cosign.pub` (PKIX PEM).
 * The empty password protects nothing: the file's mode 0600 is the protection, as for `.evidence-key/`.
 *
 * Production: the operator provides the key; `BIZRA_COSIGN_KEY` names the private key file (or any key reference
 * cosign takes: `env://VAR`, a KMS URI), `BIZRA_COSIGN_PUBLIC_KEY` its public half (a file or `env://VAR`) and
 * `COSIGN_PASSWORD` its password. Nothing of it is committed.
 */
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { localKeyTrustAllowed } from "@bizra/evidence";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const LOCAL_COSIGN_DIR = path.join(REPO_ROOT, ".cosign-key");
export const COSIGN_KEY_ENV = "BIZRA_COSIGN_KEY";
export const COSIGN_PUBLIC_KEY_ENV = "BIZRA_COSIGN_PUBLIC_KEY";
/**
 * Whether a stack must carry the operator's release key (never the generated local one; its release check is
 * mandatory): every stack on which the deployer's local evidence key may not stand in either (@bizra/evidence trust rule).
 */
export function operatorKeyRequired(stack: string): boolean {
  return !localKeyTrustAllowed(stack);
}
/** The password of the generated local key (cosign reads `COSIGN_PASSWORD`). */
export const LOCAL_COSIGN_PASSWORD = "";

/** Sigstore's PEM type for an encrypted private key (cosign >= 2.0 writes this one). */
const PRIVATE_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY";
const SCRYPT = { N: 32768, r: 8, p: 1 } as const;

export interface CosignKeyPair {
  /** Key reference for `cosign sign --key` (a file path here). */
  readonly key: string;
  /** Public key file for `cosign verify --key`. */
  readonly publicKeyFile: string;
  readonly publicKeyPem: string;
  /** Value for `COSIGN_PASSWORD`. */
  readonly password: string;
  readonly created: boolean;
}

function pem(type: string, body: Buffer): string {
  const lines = body.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}\n-----END ${type}-----\n`;
}

/** cosign's encrypted private key file (go-securesystemslib `encrypted.Encrypt`), for `pkcs8` under `password`. */
export function encryptCosignPrivateKey(pkcs8Der: Buffer, password: string): string {
  const salt = crypto.randomBytes(32);
  const nonce = crypto.randomBytes(24);
  const key = crypto.scryptSync(Buffer.from(password, "utf8"), salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  const sealed = xsalsa20poly1305(key, nonce).encrypt(pkcs8Der);
  const body = {
    kdf: { name: "scrypt", params: SCRYPT, salt: salt.toString("base64") },
    cipher: { name: "nacl/secretbox", nonce: nonce.toString("base64") },
    ciphertext: Buffer.from(sealed).toString("base64"),
  };
  return pem(PRIVATE_PEM_TYPE, Buffer.from(JSON.stringify(body)));
}

/** A fresh P-256 key pair as cosign files: [encrypted private PEM, public PEM]. */
export function generateCosignKeyPair(password: string): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
  return { privatePem: encryptCosignPrivateKey(pkcs8, password), publicPem: publicKey.export({ format: "pem", type: "spki" }).toString() };
}

/** The local key pair in `dir` (default `.cosign-key/`), generated on first use. */
export function ensureLocalCosignKey(dir: string = LOCAL_COSIGN_DIR): CosignKeyPair {
  const key = path.join(dir, "cosign.key");
  const publicKeyFile = path.join(dir, "cosign.pub");
  let created = false;
  if (!fs.existsSync(key)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = generateCosignKeyPair(LOCAL_COSIGN_PASSWORD);
    // Private half first with O_EXCL: two racing first uses keep one pair.
    try {
      fs.writeFileSync(key, pair.privatePem, { mode: 0o600, flag: "wx" });
      fs.writeFileSync(publicKeyFile, pair.publicPem, { mode: 0o644 });
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  for (let i = 0; !fs.existsSync(publicKeyFile) && i < 50; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  if (!fs.existsSync(publicKeyFile)) throw new Error(`${key} exists but ${publicKeyFile} does not: remove ${dir} to generate a new local pair`);
  return { key, publicKeyFile, publicKeyPem: fs.readFileSync(publicKeyFile, "utf8"), password: LOCAL_COSIGN_PASSWORD, created };
}

/**
 * The signing key of a release: the operator's (`BIZRA_COSIGN_KEY`, `BIZRA_COSIGN_PUBLIC_KEY`, `COSIGN_PASSWORD`)
 * when set, else the local pair. `requireOperatorKey` (production) refuses the local pair.
 */
export function releaseCosignKey(opts: { env?: NodeJS.ProcessEnv; requireOperatorKey?: boolean; localDir?: string } = {}): CosignKeyPair {
  const env = opts.env ?? process.env;
  const key = env[COSIGN_KEY_ENV];
  if (key) {
    const pub = env[COSIGN_PUBLIC_KEY_ENV];
    // `env://VAR` (as cosign takes for the private key): the PEM is in that variable (CI secrets and variables).
    const pem = pub?.startsWith("env://") ? env[pub.slice(6)] : pub && fs.existsSync(pub) ? fs.readFileSync(pub, "utf8") : undefined;
    if (!pem) {
      throw new Error(`${COSIGN_PUBLIC_KEY_ENV}: ${pub ? `${pub} is missing or empty` : "not set"}; allowed: the path of the public key that belongs to ${COSIGN_KEY_ENV}, or env://VAR`);
    }
    if (!key.includes("://") && !fs.existsSync(key)) throw new Error(`${COSIGN_KEY_ENV}: file ${key} does not exist`);
    return { key, publicKeyFile: pub!, publicKeyPem: pem, password: env.COSIGN_PASSWORD ?? "", created: false };
  }
  if (opts.requireOperatorKey) {
    throw new Error(`${COSIGN_KEY_ENV}: not set; a production release is signed with the operator's key (set ${COSIGN_KEY_ENV}, ${COSIGN_PUBLIC_KEY_ENV} and COSIGN_PASSWORD; docs/release.md), never with the generated local key`);
  }
  return ensureLocalCosignKey(opts.localDir);
}
