/**
 * Pointing a stack at what was released, through `pulumi config set` on Pulumi.<stack>.yaml:
 *
 *   npm run release:use -- <stack> [<bundle dir|release.json>]
 *       the newest bundle in releases/<stack>/ (or the one given) is checked offline (signature by a trusted key,
 *       digests, cosign key = the stack's) and `bizra:image.reference` is set to its digest
 *   npm run release:trust-key -- <stack> <cosign.pub | env://VAR>
 *       `bizra:kyverno.cosignPublicKey` := the PEM in the file (how the operator replaces the production placeholder)
 */
import * as fs from "node:fs";
import { parseStackConfig } from "../../components/config";
import { parseTrustedKeys, TRUSTED_KEYS_ENV, trustedKeysOrLocal } from "@bizra/evidence";
import { engineEnv, LOCAL_BACKEND_DIR, pulumi, toolchainEnv } from "../lib/engine";
import { offlineStackConfig, STACKS } from "../lib/stack-config";
import { checkReleaseBundle, releaseBundles } from "./manifest";

function pulumiConfigSet(stack: string, key: string, value: string): void {
  const base = toolchainEnv();
  const env = process.env.PULUMI_BACKEND_URL ? base : engineEnv(base, LOCAL_BACKEND_DIR);
  for (const args of [
    ["login", env.PULUMI_BACKEND_URL!],
    ["stack", "select", "--create", stack, "--secrets-provider", "passphrase", "--non-interactive"],
    ["config", "set", "--stack", stack, "--path", key, "--non-interactive", "--", value],
  ]) {
    const r = pulumi(args, env, { capture: true });
    if (r.status !== 0) throw new Error(`pulumi ${args.slice(0, 2).join(" ")} failed:\n${r.output}`);
  }
}

export function setImageReference(stack: string, reference: string): void {
  pulumiConfigSet(stack, "bizra:image.reference", reference);
}

export function setCosignPublicKey(stack: string, pem: string): void {
  if (!/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PUBLIC KEY-----\n?$/.test(pem.replace(/\r/g, ""))) {
    throw new Error("the file is not a PEM public key (-----BEGIN PUBLIC KEY----- ...): give the cosign.pub of the release key");
  }
  pulumiConfigSet(stack, "bizra:kyverno.cosignPublicKey", pem.replace(/\r/g, ""));
}

function trustedKeys(): string[] {
  return trustedKeysOrLocal(parseTrustedKeys(process.env[TRUSTED_KEYS_ENV]));
}

function main(argv: string[]): void {
  const [cmd, stack, arg] = argv;
  if (!stack || !(STACKS as readonly string[]).includes(stack)) throw new Error(`usage: npm run release:${cmd ?? "use"} -- <stack> ...   (stack: ${STACKS.join(" | ")})`);
  if (cmd === "trust-key") {
    const pem = arg?.startsWith("env://") ? process.env[arg.slice(6)] : arg && fs.existsSync(arg) ? fs.readFileSync(arg, "utf8") : undefined;
    if (!pem) throw new Error(`usage: npm run release:trust-key -- <stack> <cosign.pub | env://VAR>${arg ? ` (${arg}: not found or empty)` : ""}`);
    setCosignPublicKey(stack, pem);
    console.log(`bizra:kyverno.cosignPublicKey of ${stack} set from ${arg}`);
    return;
  }
  const bundle = arg ?? releaseBundles(stack)[0];
  if (!bundle) throw new Error(`no release bundle in releases/${stack}/ (run \`npm run release -- ${stack}\`, or fetch the release artifact)`);
  const raw = offlineStackConfig(stack);
  const cfg = parseStackConfig(stack, raw.values, raw.secretKeys);
  const report = checkReleaseBundle(bundle, { trustedKeys: trustedKeys(), stack, cosignPublicKey: cfg.kyverno.cosignPublicKey });
  if (!report.ok) throw new Error(`${report.file} does not verify:\n${report.problems.map((p) => `  [${p.code}] ${p.message}`).join("\n")}`);
  setImageReference(stack, report.manifest!.image.reference);
  console.log(`bizra:image.reference of ${stack} := ${report.manifest!.image.reference} (from ${report.file})`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`ERROR: ${(err as Error).message}`);
    process.exit(1);
  }
}
