/** An offline release bundle (no registry): evidence fixture, two small SBOMs, rendered files, signed release.json. */
import * as fs from "node:fs";
import * as path from "node:path";
import { artifactFiles } from "@bizra/evidence";
import type { EvidenceKey } from "@bizra/evidence";
import { cosignKeyFingerprint, fileEntryOf, writeReleaseManifest, type ReleaseManifest } from "../../scripts/release/manifest";
import { SBOM_PREDICATE_TYPE } from "../../scripts/release/verify";
import { FIXTURE_COMMIT, tempDir, writeFixture } from "./policy-evidence";
import { OPERATOR_TEST_COSIGN_KEY } from "./stack";

export const FIXTURE_DIGEST = `sha256:${"ab".repeat(32)}`;
export const FIXTURE_REPOSITORY = "ghcr.io/bizra/node0";

export interface ReleaseFixture {
  readonly root: string;
  readonly bundle: string;
  readonly key: EvidenceKey;
  readonly manifest: ReleaseManifest;
}

/** `releases/<stack>/fixture/` under a temporary root, signed by the evidence fixture's key. */
export function writeReleaseFixture(opts: { stack?: string; digest?: string; cosignPublicKey?: string } = {}): ReleaseFixture {
  const stack = opts.stack ?? "production";
  const digest = opts.digest ?? FIXTURE_DIGEST;
  const ev = writeFixture();
  const root = tempDir("bizra-releases-");
  const bundle = path.join(root, stack, "fixture");
  fs.mkdirSync(path.join(bundle, "evidence"), { recursive: true });
  fs.mkdirSync(path.join(bundle, "rendered"), { recursive: true });
  for (const f of [...artifactFiles(ev.dir), "manifest.json"]) fs.copyFileSync(path.join(ev.dir, f), path.join(bundle, "evidence", f));
  const sbom = (name: string) => ({ bomFormat: "CycloneDX", specVersion: "1.6", metadata: { component: { name } }, components: [{ name: "zod", version: "4.6.7" }] });
  fs.writeFileSync(path.join(bundle, "sbom-image.cdx.json"), JSON.stringify(sbom("image")));
  fs.writeFileSync(path.join(bundle, "sbom-npm.cdx.json"), JSON.stringify(sbom("npm")));
  fs.writeFileSync(path.join(bundle, "rendered", "deployment-bizra-node0-node0.yaml"), `kind: Deployment\nimage: ${FIXTURE_REPOSITORY}@${digest}\n`);
  const pem = opts.cosignPublicKey ?? OPERATOR_TEST_COSIGN_KEY;
  const hex = digest.slice(7);
  const manifest = writeReleaseManifest(
    bundle,
    {
      createdAt: new Date().toISOString(),
      stack,
      commit: FIXTURE_COMMIT,
      commitTime: "2026-11-30T12:00:00+00:00",
      source: "https://github.com/bizra/bizra-node0-infra",
      image: {
        repository: FIXTURE_REPOSITORY,
        digest,
        reference: `${FIXTURE_REPOSITORY}@${digest}`,
        tag: FIXTURE_COMMIT,
        buildArgs: { BIZRA_USE_RUST: "true", GIT_COMMIT: FIXTURE_COMMIT },
        labels: { "org.opencontainers.image.revision": FIXTURE_COMMIT },
        base: `bizra/node-base@sha256:${"cd".repeat(32)}`,
        builder: "fixture",
      },
      sboms: { image: fileEntryOf(bundle, "sbom-image.cdx.json"), npm: fileEntryOf(bundle, "sbom-npm.cdx.json") },
      cosign: { publicKey: pem, publicKeySha256: cosignKeyFingerprint(pem), signatureRef: `${FIXTURE_REPOSITORY}:sha256-${hex}.sig`, attestationRef: `${FIXTURE_REPOSITORY}:sha256-${hex}.att`, predicateType: SBOM_PREDICATE_TYPE },
      evidence: {
        manifest: fileEntryOf(bundle, "evidence/manifest.json"),
        publicKey: ev.key.publicKeyHex,
        commit: FIXTURE_COMMIT,
        artifacts: artifactFiles(path.join(bundle, "evidence")).map((f) => fileEntryOf(bundle, `evidence/${f}`)),
      },
      rendered: [fileEntryOf(bundle, "rendered/deployment-bizra-node0-node0.yaml")],
      tools: { cosign: "fixture" },
    },
    ev.key,
  );
  return { root, bundle, key: ev.key, manifest };
}
