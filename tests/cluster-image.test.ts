/**
 * Which image `npm run up:cluster -- <stack>` deploys (scripts/lib/cluster.ts `clusterImageChoice`), without a
 * cluster: the image built here while the stack names the placeholder digest; exactly the stack's digest once a
 * release set it, and only with a bundle that names it and verifies; an error naming the fix otherwise.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadEvidenceKey } from "@bizra/evidence";
import { clusterImageChoice, clusterStackSettings, LOCAL_IMAGE_REGISTRY, UNRELEASED_DIGEST, type ClusterEnv } from "../scripts/lib/cluster";
import { parse } from "yaml";
import { readStackFile, REPO_ROOT } from "../scripts/lib/stack-config";
import { cleanupTempDirs, tempDir } from "./support/policy-evidence";
import { FIXTURE_DIGEST, FIXTURE_REPOSITORY, writeReleaseFixture } from "./support/release-fixture";
import { OPERATOR_TEST_COSIGN_KEY } from "./support/stack";

const STACK = "testnet";
const released = `${FIXTURE_REPOSITORY}@${FIXTURE_DIGEST}`;

describe("up:cluster's image: a verified release the stack names, or the image built here", () => {
  after(cleanupTempDirs);

  it("the committed stack files name the placeholder digest: the image built here", () => {
    // As committed (a release run here sets the working copy's digest).
    const committed = (stack: string) =>
      (parse(execFileSync("git", ["show", `HEAD:Pulumi.${stack}.yaml`], { cwd: REPO_ROOT, encoding: "utf8" })) as { config: { "bizra:image": { reference: string } } }).config["bizra:image"].reference;
    for (const stack of ["testnet", "production"]) assert.ok(committed(stack).endsWith(`@${UNRELEASED_DIGEST}`), `${stack}: ${committed(stack)}`);
    const choice = clusterImageChoice(STACK, { reference: committed(STACK) });
    assert.equal(choice.source, "local");
    assert.match(choice.source === "local" ? choice.why : "", /names no release \(bizra:image\.reference is the placeholder .*@sha256:0{64}\)/);
  });

  it("a digest a verified bundle names: exactly that digest, with the bundle's repository and tag", () => {
    const f = writeReleaseFixture({ stack: STACK, cosignPublicKey: OPERATOR_TEST_COSIGN_KEY });
    const choice = clusterImageChoice(STACK, { reference: released, releasesDir: f.root, trustedKeys: [f.key.publicKeyHex], cosignPublicKey: OPERATOR_TEST_COSIGN_KEY });
    assert.deepEqual(choice, { source: "release", reference: released, repository: FIXTURE_REPOSITORY, tag: f.manifest.image.tag, bundle: path.join(f.bundle, "release.json") });
  });

  it("a digest no bundle names is refused, naming the digest and the commands that fix it", () => {
    const f = writeReleaseFixture({ stack: STACK, cosignPublicKey: OPERATOR_TEST_COSIGN_KEY });
    const other = `${FIXTURE_REPOSITORY}@sha256:${"ef".repeat(32)}`;
    assert.throws(
      () => clusterImageChoice(STACK, { reference: other, releasesDir: f.root, trustedKeys: [f.key.publicKeyHex], cosignPublicKey: OPERATOR_TEST_COSIGN_KEY }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`deploys ${other.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}, but no release bundle in .*testnet names that digest and verifies`));
        assert.match(err.message, /npm run release:use -- testnet/);
        assert.match(err.message, /git checkout Pulumi\.testnet\.yaml/);
        assert.doesNotMatch(err.message, /wrong-image/, "bundles of other digests are not listed as problems");
        return true;
      },
    );
    const empty = tempDir("bizra-releases-empty-");
    assert.throws(() => clusterImageChoice(STACK, { reference: released, releasesDir: empty, trustedKeys: [f.key.publicKeyHex], cosignPublicKey: OPERATOR_TEST_COSIGN_KEY }), /no release bundle in/);
  });

  it("a bundle for the digest that does not verify is refused with its reasons: untrusted signer, edited file, another cosign key", () => {
    const f = writeReleaseFixture({ stack: STACK, cosignPublicKey: OPERATOR_TEST_COSIGN_KEY });
    const stranger = loadEvidenceKey({ file: path.join(tempDir("bizra-key-"), "ed25519.seed") });
    assert.throws(() => clusterImageChoice(STACK, { reference: released, releasesDir: f.root, trustedKeys: [stranger.publicKeyHex], cosignPublicKey: OPERATOR_TEST_COSIGN_KEY }), /\[untrusted-key\]/);
    const otherPem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    assert.throws(() => clusterImageChoice(STACK, { reference: released, releasesDir: f.root, trustedKeys: [f.key.publicKeyHex], cosignPublicKey: otherPem }), /\[wrong-cosign-key\]/);
    fs.appendFileSync(path.join(f.bundle, "sbom-image.cdx.json"), " ");
    assert.throws(() => clusterImageChoice(STACK, { reference: released, releasesDir: f.root, trustedKeys: [f.key.publicKeyHex], cosignPublicKey: OPERATOR_TEST_COSIGN_KEY }), /\[digest-mismatch\] sbom-image\.cdx\.json/);
  });

  it("the cluster config deploys exactly the chosen digest; the release's registry stays allowed beside the local one", () => {
    const env = { KUBECONFIG: "/k" } as ClusterEnv;
    const testnetRelease = `${String(readStackFile(STACK)["bizra:releaseRepository"])}@${FIXTURE_DIGEST}`;
    const settings = clusterStackSettings(env, testnetRelease, STACK);
    assert.deepEqual(settings["bizra:image"], { reference: testnetRelease });
    const allowed = settings["bizra:allowedRegistries"] as string[];
    assert.ok(allowed.includes(LOCAL_IMAGE_REGISTRY), allowed.join(", "));
    assert.ok(allowed.some((r) => testnetRelease.startsWith(`${r}/`)), `${testnetRelease} is under none of ${allowed.join(", ")}`);
  });
});
