/**
 * Full verification of a release bundle: the offline checks of manifest.ts, the evidence bundle inside it, and the
 * registry: the digest exists, the release tag still points at it, `cosign verify` (signature by the stack's key over
 * that digest) and `cosign verify-attestation` (a CycloneDX attestation by the same key whose predicate is exactly the
 * bundle's image SBOM). Every problem is reported with a code and what is wrong.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { canonicalJson } from "@bizra/evidence";
import { verifyEvidence } from "@bizra/evidence";
import { checkReleaseBundle, cosignKeyFingerprint, type ReleaseCheckOptions, type ReleaseProblem, type ReleaseReport } from "./manifest";
import { loopbackHost, resolveDigest } from "./registry";
import { cosignEnv, run } from "./tools";

export const SBOM_PREDICATE_TYPE = "https://cyclonedx.org/bom";

/** cosign flags for a registry: plain http for a loopback one; never the transparency log (none is reachable). */
export function cosignRegistryFlags(reference: string): string[] {
  return loopbackHost(reference) ? ["--allow-insecure-registry", "--allow-http-registry"] : [];
}

export interface OnlineOptions extends ReleaseCheckOptions {
  readonly cosignBin: string;
  /** The PEM cosign must verify with (the stack's key); default the manifest's own. */
  readonly cosignPublicKey?: string;
}

function withKeyFile<T>(pem: string, fn: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-cosign-pub-"));
  try {
    const file = path.join(dir, "cosign.pub");
    fs.writeFileSync(file, pem);
    return fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function firstLines(text: string, n = 3): string {
  return text.trim().split("\n").filter((l) => l.trim() !== "").slice(-n).join(" | ");
}

/** Offline checks, evidence, registry and cosign. */
export async function verifyRelease(target: string, options: OnlineOptions): Promise<ReleaseReport> {
  const offline = checkReleaseBundle(target, options);
  const m = offline.manifest;
  if (!m) return offline;
  const problems: ReleaseProblem[] = [...offline.problems];
  const dir = path.dirname(offline.file);

  const evidence = verifyEvidence(path.join(dir, "evidence"), { trustedKeys: options.trustedKeys, commit: m.commit });
  for (const p of evidence.problems) problems.push({ code: "digest-mismatch", message: `evidence/${p.file}: [${p.code}] ${p.message}` });

  const insecure = loopbackHost(m.image.repository) ? "http" : "https";
  try {
    const atDigest = await resolveDigest(m.image.reference, insecure);
    if (atDigest !== m.image.digest) problems.push({ code: "registry", message: `${m.image.reference} is not in the registry` });
    const atTag = await resolveDigest(`${m.image.repository}:${m.image.tag}`, insecure);
    if (atTag !== m.image.digest) {
      problems.push({
        code: "retagged-image",
        message: `tag ${m.image.repository}:${m.image.tag} ${atTag ? `now points at ${atTag}` : "is gone"}, but the release is ${m.image.digest} (re-tagged image)`,
      });
    }
  } catch (err) {
    problems.push({ code: "registry", message: `registry of ${m.image.repository} unreachable: ${(err as Error).message}` });
    return { ok: false, file: offline.file, manifest: m, problems };
  }

  const pem = options.cosignPublicKey ?? m.cosign.publicKey;
  const env = cosignEnv("");
  withKeyFile(pem, (keyFile) => {
    const flags = ["--key", keyFile, "--insecure-ignore-tlog=true", ...cosignRegistryFlags(m.image.reference)];
    const sig = run(options.cosignBin, ["verify", ...flags, "--output", "json", m.image.reference], { env, allowFailure: true });
    if (sig.status !== 0) {
      problems.push({ code: "image-signature", message: `cosign verify ${m.image.reference} with key sha256:${cosignKeyFingerprint(pem).slice(0, 16)}… failed: ${firstLines(sig.stderr)}` });
    } else {
      const signed = (JSON.parse(sig.stdout) as Array<{ critical?: { image?: { "docker-manifest-digest"?: string } } }>).map((s) => s.critical?.image?.["docker-manifest-digest"]);
      if (!signed.includes(m.image.digest)) problems.push({ code: "image-signature", message: `cosign verify: no signature covers ${m.image.digest} (signed: ${signed.join(", ")})` });
    }
    const att = run(options.cosignBin, ["verify-attestation", ...flags, "--type", "cyclonedx", m.image.reference], { env, allowFailure: true });
    if (att.status !== 0) {
      problems.push({ code: "sbom-attestation", message: `cosign verify-attestation --type cyclonedx ${m.image.reference} failed: ${firstLines(att.stderr)}` });
      return;
    }
    const sbomFile = path.join(dir, m.sboms.image.file);
    const sbom = fs.existsSync(sbomFile) ? canonicalJson(JSON.parse(fs.readFileSync(sbomFile, "utf8"))) : undefined;
    const statements = att.stdout
      .split("\n")
      .filter((l) => l.trim().startsWith("{"))
      .map((l) => JSON.parse(Buffer.from((JSON.parse(l) as { payload: string }).payload, "base64").toString("utf8")) as {
        predicateType: string;
        subject: Array<{ digest: { sha256: string } }>;
        predicate: unknown;
      });
    const forImage = statements.filter((s) => s.predicateType === SBOM_PREDICATE_TYPE && s.subject.some((x) => `sha256:${x.digest.sha256}` === m.image.digest));
    if (forImage.length === 0) {
      problems.push({ code: "sbom-attestation", message: `no verified CycloneDX attestation names ${m.image.digest}` });
    } else if (!forImage.some((s) => canonicalJson(s.predicate) === sbom)) {
      problems.push({ code: "sbom-attestation", message: `the attested SBOM differs from ${m.sboms.image.file} in the bundle (swapped SBOM)` });
    }
  });
  return { ok: problems.length === 0, file: offline.file, manifest: m, problems };
}

export function formatReleaseProblems(report: ReleaseReport): string {
  return report.problems.map((p) => `[${p.code}] ${p.message}`).join("\n");
}
