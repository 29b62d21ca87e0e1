/**
 * The release manifest offline (signature, digests, image, cosign key) and the quality-gates release policies
 * (mandatory in production, advisory in testnet). The registry half is tests/release-e2e.test.ts.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadEvidenceKey } from "@bizra/evidence";
import { releaseManifestAdvisory, releaseManifestPolicy, workloadImages } from "../policies/quality-gates/release";
import { ensureLocalCosignKey, releaseCosignKey } from "../scripts/release/cosign-key";
import { cosignEnv, run, supplyChainTools } from "../scripts/release/tools";
import { checkReleaseBundle, findReleaseFor, releaseManifestSchema, writeReleaseManifest } from "../scripts/release/manifest";
import { cleanupTempDirs, tempDir } from "./support/policy-evidence";
import { assertHasViolation, assertNoViolations, programResources, stackArgs, stackViolations, type PlainResource } from "./support/policy";
import { FIXTURE_DIGEST, FIXTURE_REPOSITORY, writeReleaseFixture } from "./support/release-fixture";
import { OPERATOR_TEST_COSIGN_KEY } from "./support/stack";

const codes = (r: { problems: readonly { code: string }[] }) => r.problems.map((p) => p.code);

describe("release manifest (offline checks)", () => {
  after(cleanupTempDirs);

  it("a fresh bundle verifies: signature by the trusted key, every file digest, image reference, cosign key", () => {
    const f = writeReleaseFixture();
    const r = checkReleaseBundle(f.bundle, { trustedKeys: [f.key.publicKeyHex], stack: "production", imageReference: `${FIXTURE_REPOSITORY}@${FIXTURE_DIGEST}`, cosignPublicKey: OPERATOR_TEST_COSIGN_KEY });
    assert.deepEqual(r.problems, []);
    assert.equal(r.manifest?.signing.digest, "BLAKE3-256");
  });

  it("an edited manifest fails its signature", () => {
    const f = writeReleaseFixture();
    const file = path.join(f.bundle, "release.json");
    const m = JSON.parse(fs.readFileSync(file, "utf8"));
    m.image.buildArgs.BIZRA_USE_RUST = "false";
    fs.writeFileSync(file, JSON.stringify(m, null, 2));
    const r = checkReleaseBundle(f.bundle, { trustedKeys: [f.key.publicKeyHex] });
    assert.deepEqual(codes(r), ["bad-signature"]);
    assert.match(r.problems[0]!.message, /edited after signing, or signed by another key/);
  });

  it("a swapped SBOM fails its digest, naming the file", () => {
    const f = writeReleaseFixture();
    fs.copyFileSync(path.join(f.bundle, "sbom-npm.cdx.json"), path.join(f.bundle, "sbom-image.cdx.json"));
    const r = checkReleaseBundle(f.bundle, { trustedKeys: [f.key.publicKeyHex] });
    assert.deepEqual(codes(r), ["digest-mismatch"]);
    assert.match(r.problems[0]!.message, /^sbom-image\.cdx\.json: SHA-256 [0-9a-f]{64} differs from the manifest's [0-9a-f]{64} \(file swapped or changed after the release\)$/);
  });

  it("a manifest re-signed by another key is untrusted", () => {
    const f = writeReleaseFixture();
    const other = loadEvidenceKey({ file: path.join(tempDir("bizra-key-"), "ed25519.seed") });
    const { signature: _s, publicKey: _p, signing: _g, schema: _c, ...unsigned } = f.manifest;
    writeReleaseManifest(f.bundle, unsigned, other);
    const r = checkReleaseBundle(f.bundle, { trustedKeys: [f.key.publicKeyHex] });
    assert.deepEqual(codes(r), ["untrusted-key"]);
    assert.match(r.problems[0]!.message, new RegExp(`signed by ${other.publicKeyHex}, which is not a trusted release key`));
  });

  it("names a stack that deploys another digest, another stack, and a cosign key the stack does not trust", () => {
    const f = writeReleaseFixture();
    const r = checkReleaseBundle(f.bundle, {
      trustedKeys: [f.key.publicKeyHex],
      stack: "testnet",
      imageReference: `${FIXTURE_REPOSITORY}@sha256:${"cd".repeat(32)}`,
      cosignPublicKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    });
    assert.deepEqual(codes(r).sort(), ["wrong-cosign-key", "wrong-image", "wrong-stack"]);
  });

  it("a missing file and a malformed manifest are reported, not thrown", () => {
    const f = writeReleaseFixture();
    fs.rmSync(path.join(f.bundle, "evidence", "poi.json"));
    assert.deepEqual(codes(checkReleaseBundle(f.bundle, { trustedKeys: "any" })), ["missing-file"]);
    fs.writeFileSync(path.join(f.bundle, "release.json"), JSON.stringify({ ...f.manifest, commit: "HEAD" }));
    const r = checkReleaseBundle(f.bundle, { trustedKeys: "any" });
    assert.equal(r.problems[0]?.code, "malformed-manifest");
    assert.match(r.problems[0]!.message, /release\.json: commit:/);
    assert.equal(releaseManifestSchema.safeParse({}).success, false);
  });

  it("finds the bundle of a digest", () => {
    const f = writeReleaseFixture();
    assert.equal(findReleaseFor("production", `${FIXTURE_REPOSITORY}@${FIXTURE_DIGEST}`, f.root), path.join(f.bundle, "release.json"));
    assert.equal(findReleaseFor("production", `${FIXTURE_REPOSITORY}@sha256:${"00".repeat(32)}`, f.root), undefined);
    assert.equal(findReleaseFor("testnet", `${FIXTURE_REPOSITORY}@${FIXTURE_DIGEST}`, f.root), undefined);
  });
});

describe("quality-gates: verified release manifest", () => {
  let prod: PlainResource[];
  let testnet: PlainResource[];
  before(async function () {
    this.timeout(120_000);
    prod = await programResources("production");
    testnet = await programResources("testnet");
  });
  after(cleanupTempDirs);

  /** The production objects with the node image replaced by the fixture's digest. */
  function withImage(resources: PlainResource[], reference: string): PlainResource[] {
    const images = [...workloadImages(resources as never).keys()];
    return JSON.parse(JSON.stringify(resources).split(images[0]!).join(reference)) as PlainResource[];
  }

  it("every workload of the rendered stack runs one image (Deployments and the validator Job)", () => {
    const images = workloadImages(prod as never);
    assert.equal(images.size, 1);
    assert.ok([...images.values()][0]!.length >= 2);
  });

  it("production: mandatory violation when the digest has no release manifest", async () => {
    const f = writeReleaseFixture();
    const v = await stackViolations(releaseManifestPolicy, stackArgs(prod, { releasesDir: f.root, trustedPublicKeys: [f.key.publicKeyHex] }, "production"));
    assertHasViolation(v, /image without a verified release manifest:\n {2}- ghcr\.io\/bizra\/node0@sha256:0{64} \(Deployment node0, .*\): no release manifest for this digest in .*\/production\/ \(run `npm run release -- production`\)/);
    assert.equal(releaseManifestPolicy.enforcementLevel, "mandatory");
  });

  it("production: passes with a verified manifest for the deployed digest and the stack's cosign key", async () => {
    const f = writeReleaseFixture();
    const resources = withImage(prod, `${FIXTURE_REPOSITORY}@${FIXTURE_DIGEST}`);
    assertNoViolations(await stackViolations(releaseManifestPolicy, stackArgs(resources, { releasesDir: f.root, trustedPublicKeys: [f.key.publicKeyHex] }, "production")));
  });

  it("production: refuses the manifest when it is signed by an untrusted key or edited", async () => {
    const f = writeReleaseFixture();
    const resources = withImage(prod, `${FIXTURE_REPOSITORY}@${FIXTURE_DIGEST}`);
    const untrusted = await stackViolations(releaseManifestPolicy, stackArgs(resources, { releasesDir: f.root, trustedPublicKeys: ["ab".repeat(32)] }, "production"));
    assertHasViolation(untrusted, /does not verify:\n {4}\[untrusted-key\]/);
    const file = path.join(f.bundle, "release.json");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('"builder": "fixture"', '"builder": "someone else"'));
    const edited = await stackViolations(releaseManifestPolicy, stackArgs(resources, { releasesDir: f.root, trustedPublicKeys: [f.key.publicKeyHex] }, "production"));
    assertHasViolation(edited, /\[bad-signature\]/);
  });

  it("testnet: the same check is advisory, and the mandatory policy ignores testnet", async () => {
    const f = writeReleaseFixture({ stack: "testnet" });
    const config = { releasesDir: f.root, trustedPublicKeys: [f.key.publicKeyHex] };
    assertNoViolations(await stackViolations(releaseManifestPolicy, stackArgs(testnet, config, "testnet")));
    assertHasViolation(await stackViolations(releaseManifestAdvisory, stackArgs(testnet, config, "testnet")), /no release manifest for this digest/);
    assert.equal(releaseManifestAdvisory.enforcementLevel, "advisory");
    assertNoViolations(await stackViolations(releaseManifestAdvisory, stackArgs(prod, config, "production")));
  });
});

describe("cosign key pairs", () => {
  after(cleanupTempDirs);

  it("a generated pair: encrypted private key (mode 0600), PEM public key, generated once", () => {
    const dir = path.join(tempDir("bizra-cosign-"), "k");
    const a = ensureLocalCosignKey(dir);
    assert.equal(a.created, true);
    assert.equal(fs.statSync(a.key).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(a.key, "utf8"), /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    assert.match(a.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    const b = ensureLocalCosignKey(dir);
    assert.equal(b.created, false);
    assert.equal(b.publicKeyPem, a.publicKeyPem);
  });

  it("cosign itself reads the generated private key and derives the same public key", function () {
    let cosign: string;
    try {
      cosign = supplyChainTools({ build: false, tools: ["cosign"] }).cosign;
    } catch {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") throw new Error("cosign is not built: scripts/setup.sh should have built it");
      this.skip();
    }
    const pair = ensureLocalCosignKey(path.join(tempDir("bizra-cosign-"), "k"));
    const out = run(cosign!, ["public-key", "--key", pair.key], { env: cosignEnv(pair.password) }).stdout;
    assert.equal(out.trim(), pair.publicKeyPem.trim());
  });

  it("a production release needs the operator's key and names the variables", () => {
    assert.throws(() => releaseCosignKey({ env: {}, requireOperatorKey: true }), /BIZRA_COSIGN_KEY: not set; a production release is signed with the operator's key/);
    assert.throws(() => releaseCosignKey({ env: { BIZRA_COSIGN_KEY: "/nonexistent/cosign.key" } }), /BIZRA_COSIGN_PUBLIC_KEY: not set/);
    const pair = ensureLocalCosignKey(path.join(tempDir("bizra-cosign-"), "k"));
    const k = releaseCosignKey({ env: { BIZRA_COSIGN_KEY: pair.key, BIZRA_COSIGN_PUBLIC_KEY: "env://PUB", PUB: pair.publicKeyPem, COSIGN_PASSWORD: "" }, requireOperatorKey: true });
    assert.equal(k.publicKeyPem, pair.publicKeyPem);
  });
});
