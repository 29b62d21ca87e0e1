/**
 * `npm run release:verify -- <release.json|bundle dir> [--trusted-key HEX ...] [--cosign-key <pub file>]`
 *
 * Re-checks every digest and signature of a release bundle (scripts/release/verify.ts) and exits 1 naming each
 * problem. Trusted manifest signers: --trusted-key, else BIZRA_EVIDENCE_TRUSTED_KEYS (comma-separated), else the local
 * evidence key. The cosign key: --cosign-key, else the one the manifest's stack trusts (bizra:kyverno.cosignPublicKey
 * of Pulumi.<stack>.yaml).
 */
import * as fs from "node:fs";
import { parseStackConfig } from "../../components/config";
import { parseTrustedKeys, TRUSTED_KEYS_ENV, trustedKeysOrLocal } from "@bizra/evidence";
import { offlineStackConfig } from "../lib/stack-config";
import { releaseFileOf } from "./manifest";
import { supplyChainTools } from "./tools";
import { formatReleaseProblems, verifyRelease } from "./verify";

async function main(argv: string[]): Promise<number> {
  let target: string | undefined;
  const trusted: string[] = [];
  let cosignKeyFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--trusted-key") trusted.push(argv[++i] ?? "");
    else if (a === "--cosign-key") cosignKeyFile = argv[++i];
    else if (!a.startsWith("--") && target === undefined) target = a;
    else throw new Error(`unknown argument ${a}; usage: npm run release:verify -- <release.json|bundle dir> [--trusted-key HEX ...] [--cosign-key <pub file>]`);
  }
  if (!target) throw new Error("usage: npm run release:verify -- <release.json|bundle dir> [--trusted-key HEX ...] [--cosign-key <pub file>]");
  const trustedKeys = trustedKeysOrLocal(trusted.length > 0 ? trusted : parseTrustedKeys(process.env[TRUSTED_KEYS_ENV]));

  let cosignPublicKey: string | undefined;
  if (cosignKeyFile) cosignPublicKey = fs.readFileSync(cosignKeyFile, "utf8");
  else {
    const stack = (JSON.parse(fs.readFileSync(releaseFileOf(target), "utf8")) as { stack?: string }).stack;
    if (stack) {
      const raw = offlineStackConfig(stack);
      cosignPublicKey = parseStackConfig(stack, raw.values, raw.secretKeys).kyverno.cosignPublicKey;
    }
  }
  const { cosign } = supplyChainTools({ tools: ["cosign"] });
  const report = await verifyRelease(target, { cosignBin: cosign, trustedKeys, ...(cosignPublicKey ? { cosignPublicKey } : {}) });
  if (!report.ok) {
    console.error(`release:verify FAILED for ${report.file}:\n${formatReleaseProblems(report)}`);
    return 1;
  }
  const m = report.manifest!;
  console.log(`release:verify OK: ${m.image.reference} (stack ${m.stack}, commit ${m.commit}); signature, SBOM attestation, evidence and ${m.rendered.length} rendered files verified`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`release:verify ERROR: ${err.message}`);
    process.exit(2);
  },
);
