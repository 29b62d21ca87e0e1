/**
 * `npm run --silent keys [-- <dir>]`: the local cosign key pair, generated on first use (scripts/release/cosign-key.ts),
 * printed as shell assignments for other scripts and tests:
 *
 *   COSIGN_KEY=<repo>/.cosign-key/cosign.key          (cosign's encrypted format)
 *   COSIGN_PUBLIC_KEY=<repo>/.cosign-key/cosign.pub   (what `bizra:kyverno.cosignPublicKey: local` resolves to)
 *   COSIGN_PASSWORD=                                  (empty: the local key's password)
 *   COSIGN_KEY_CREATED=true|false
 *
 * `<dir>` puts the pair elsewhere (tests use a temporary folder for "another key").
 */
import * as path from "node:path";
import { ensureLocalCosignKey } from "./release/cosign-key";

const dir = process.argv[2];
const pair = ensureLocalCosignKey(dir ? path.resolve(dir) : undefined);
console.log(`COSIGN_KEY=${pair.key}\nCOSIGN_PUBLIC_KEY=${pair.publicKeyFile}\nCOSIGN_PASSWORD=${pair.password}\nCOSIGN_KEY_CREATED=${pair.created}`);
