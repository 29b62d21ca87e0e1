/**
 * The release end to end, as CI's main job runs it: in a fresh git worktree of HEAD that shares nothing writable with
 * this checkout (tests/support/worktree.ts copies the installed dependencies and built tools into it), the
 * `up-testnet` job of .github/workflows/main.yml runs step by step: `npm run release -- testnet` (the node image of
 * `scripts/images.sh node` on the digest-pinned base, a loopback docker-registry on a free port, syft SBOMs, cosign
 * sign and attest with the worktree's generated key, evidence, render, signed manifest, `pulumi config set
 * bizra:image`), then `npm run up:local -- testnet` and `npm run gates:summary -- testnet`. Then `release:use` points
 * the stack at the bundle and `npm run cluster:image -- testnet --export` writes the archive `up:cluster` would import
 * (its digest is the release's), `release:verify` passes, each tampering case is refused with its reason (an edited
 * manifest, a swapped SBOM, a signature by another key, a re-tagged image), and this checkout is left as it was.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, parseDocument } from "yaml";
import { planJob, readWorkflow, runPlan } from "../scripts/ci-local";
import { toolchainBuilt } from "../scripts/lib/engine";
import { REPO_ROOT } from "../scripts/lib/stack-config";
import { ensureLocalCosignKey } from "../scripts/release/cosign-key";
import { releaseBundles, type ReleaseManifest } from "../scripts/release/manifest";
import { stopLoopbackRegistry } from "../scripts/release/registry";
import { cosignEnv, run, supplyChainTools, type ToolPaths } from "../scripts/release/tools";
import { cosignRegistryFlags, verifyRelease } from "../scripts/release/verify";
import { loadEvidenceKey } from "@bizra/evidence";
import { freePort } from "./support/process";
import { pushImage } from "./support/registry";
import { checkoutSnapshot, copiedPaths, freshWorktree, INSTALLED, snapshotChanges, type Worktree } from "./support/worktree";

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  for (const bin of ["buildah", "docker-registry", "skopeo", "jq"]) if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) missing.push(bin);
  try {
    supplyChainTools({ build: false, tools: ["cosign", "syft"] });
  } catch {
    missing.push("cosign/syft (bash toolchain/supply-chain.sh)");
  }
  if (!toolchainBuilt()) missing.push("the Pulumi toolchain (toolchain/pulumi.sh)");
  for (const l of INSTALLED.slice(0, 5)) if (!fs.existsSync(path.join(REPO_ROOT, l))) missing.push(l);
  return missing;
}

/** The digest of the one image in an OCI archive (its index.json). */
function archiveDigest(archive: string): string {
  const index = JSON.parse(run("tar", ["-xOf", archive, "index.json"]).stdout) as { manifests: { digest: string }[] };
  assert.equal(index.manifests.length, 1, `${archive} holds ${index.manifests.length} images`);
  return index.manifests[0]!.digest;
}

describe("release end to end: main job in a fresh worktree, release:use, verify, tampering", function () {
  this.timeout(3_600_000);
  let tmp: string;
  let worktree: Worktree | undefined;
  let wt: string;
  let registryHost: string;
  let tools: ToolPaths;
  let manifest: ReleaseManifest;
  let bundle: string;
  let cosignPub: string;
  let trusted: string[];
  let checkoutBefore: Map<string, string>;
  let statusBefore: string;
  const jobLog: string[] = [];
  const gitStatus = () => run("git", ["status", "--porcelain", "--untracked-files=normal"]).stdout;

  before(async function () {
    const missing = missingPrerequisites();
    if (missing.length > 0) {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") throw new Error(`scripts/setup.sh should have installed: ${missing.join(", ")}`);
      console.log(`      SKIPPED: not installed: ${missing.join(", ")} (bash scripts/setup.sh)`);
      this.skip();
    }
    tools = supplyChainTools({ build: false });
    loadEvidenceKey(); // created here when missing; the worktree gets a copy and signs with this checkout's key
    checkoutBefore = checkoutSnapshot(copiedPaths());
    statusBefore = gitStatus();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-release-e2e-"));
    wt = path.join(tmp, "wt");
    worktree = await freshWorktree(wt);
    console.log(`      worktree with its own copies of ${worktree.copied.length} installed paths: ${worktree.seconds.toFixed(1)} s`);
    // The copied binaries are current (their stamps match), so this only links the provider into the worktree's own
    // PULUMI_HOME; a stale copy would start an hour-long build instead, which the time bound turns into a failure.
    const env = spawnSync("bash", [path.join(wt, "toolchain", "pulumi.sh"), "--env"], { cwd: wt, encoding: "utf8", timeout: 300_000 });
    assert.equal(env.status, 0, `the worktree's copy of the Pulumi toolchain is not usable as is (toolchain/pulumi.sh --env):\n${env.stderr}`);

    // The job's release registry on a free loopback port instead of 127.0.0.1:5000 (a registry of this checkout, or of
    // another, may run there): the worktree's stack file (deploy-time config, outside the release's clean-tree check).
    registryHost = `127.0.0.1:${await freePort()}`;
    const stackFile = path.join(wt, "Pulumi.testnet.yaml");
    const doc = parseDocument(fs.readFileSync(stackFile, "utf8"));
    const repo = String(doc.getIn(["config", "bizra:releaseRepository"]));
    const host = repo.split("/")[0]!;
    doc.setIn(["config", "bizra:releaseRepository"], repo.replace(host, registryHost));
    const allowed = (doc.getIn(["config", "bizra:allowedRegistries"]) as { toJSON(): string[] }).toJSON();
    doc.setIn(["config", "bizra:allowedRegistries"], allowed.map((r) => r.replace(host, registryHost)));
    fs.writeFileSync(stackFile, doc.toString());

    const t0 = Date.now();
    const job = readWorkflow(path.join(wt, ".github", "workflows", "main.yml")).jobs["up-testnet"]!;
    const r = runPlan(planJob(job, {}, ["npm run setup"]), { cwd: wt, log: (s) => jobLog.push(s) });
    assert.equal(r.status, 0, jobLog.join("\n"));
    assert.deepEqual(r.ran, ["npm run release -- testnet", "npm run up:local -- testnet", "npm run gates:summary -- testnet"]);
    console.log(`      up-testnet job (release, up:local, gates:summary): ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const file = releaseBundles("testnet", path.join(wt, "releases"))[0]!;
    bundle = path.dirname(file);
    manifest = JSON.parse(fs.readFileSync(file, "utf8")) as ReleaseManifest;
    cosignPub = fs.readFileSync(ensureLocalCosignKey(path.join(wt, ".cosign-key")).publicKeyFile, "utf8");
    trusted = [loadEvidenceKey().publicKeyHex];
  });

  after(() => {
    if (!worktree) return;
    if (registryHost) stopLoopbackRegistry(registryHost, path.join(wt, ".registry"));
    worktree.remove();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A copy of the bundle to tamper with. */
  const copyBundle = (name: string): string => {
    const dir = path.join(tmp, name);
    fs.cpSync(bundle, dir, { recursive: true });
    return dir;
  };
  const verify = (target: string, pem = cosignPub) => verifyRelease(target, { cosignBin: tools.cosign, trustedKeys: trusted, stack: "testnet", cosignPublicKey: pem });
  const codes = (r: { problems: readonly { code: string }[] }) => [...new Set(r.problems.map((p) => p.code))].sort();

  it("the manifest names the pushed digest of the node image (node-app/Dockerfile on the pinned base), the commit's labels and build args; the stack deploys that digest", () => {
    const head = run("git", ["rev-parse", "HEAD"], { cwd: wt }).stdout.trim();
    assert.equal(manifest.commit, head);
    assert.equal(manifest.image.reference, `${registryHost}/bizra/bizra-apex@${manifest.image.digest}`);
    assert.match(manifest.image.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(manifest.image.labels["org.opencontainers.image.revision"], head);
    assert.equal(manifest.image.buildArgs.GIT_COMMIT, head);
    const created = run("git", ["show", "-s", "--format=%ct", "HEAD"], { cwd: wt }).stdout.trim();
    assert.equal(Date.parse(manifest.image.labels["org.opencontainers.image.created"]!) / 1000, Number(created));
    assert.equal(manifest.image.base, fs.readFileSync(path.join(wt, ".toolchain", "images", "base.ref"), "utf8").trim());
    // What the registry serves: the Dockerfile's runtime stage on that base.
    const raw = JSON.parse(run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${manifest.image.reference}`]).stdout) as { annotations?: Record<string, string> };
    assert.equal(raw.annotations?.["org.opencontainers.image.base.digest"], manifest.image.base.split("@")[1]);
    const config = JSON.parse(run("skopeo", ["inspect", "--config", "--tls-verify=false", `docker://${manifest.image.reference}`]).stdout) as { config: { Entrypoint: string[]; User: string; Env: string[] } };
    assert.deepEqual(config.config.Entrypoint, ["node", "dist/main.js"]);
    assert.equal(config.config.User, "10001:10001");
    assert.ok(config.config.Env.includes(`GIT_COMMIT=${head}`), config.config.Env.join(" "));
    const stackFile = parse(fs.readFileSync(path.join(wt, "Pulumi.testnet.yaml"), "utf8")) as { config: Record<string, { reference?: string }> };
    assert.equal(stackFile.config["bizra:image"]?.reference, manifest.image.reference);
    const deployments = fs.readdirSync(path.join(wt, "rendered", "testnet", "1-manifest")).map((f) => fs.readFileSync(path.join(wt, "rendered", "testnet", "1-manifest", f), "utf8"));
    assert.ok(deployments.some((d) => d.includes("kind: Deployment") && d.includes(manifest.image.reference)), "up:local rendered a Deployment of the released digest");
  });

  it("release:use sets the bundle's digest, and the image up:cluster would import is that digest", () => {
    const stackFile = path.join(wt, "Pulumi.testnet.yaml");
    const doc = parseDocument(fs.readFileSync(stackFile, "utf8"));
    doc.setIn(["config", "bizra:image", "reference"], `ghcr.io/bizra/node0@sha256:${"0".repeat(64)}`);
    fs.writeFileSync(stackFile, doc.toString());
    const unreleased = spawnSync("npm", ["run", "--silent", "cluster:image", "--", "testnet"], { cwd: wt, encoding: "utf8" });
    assert.equal(unreleased.status, 0, unreleased.stderr);
    assert.match(unreleased.stdout, /^local /);

    const use = spawnSync("npm", ["run", "--silent", "release:use", "--", "testnet", bundle], { cwd: wt, encoding: "utf8" });
    assert.equal(use.status, 0, `${use.stdout}\n${use.stderr}`);
    const after = parse(fs.readFileSync(stackFile, "utf8")) as { config: Record<string, { reference?: string }> };
    assert.equal(after.config["bizra:image"]?.reference, manifest.image.reference);

    const r = spawnSync("npm", ["run", "--silent", "cluster:image", "--", "testnet", "--export"], { cwd: wt, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const [source, reference, archive] = r.stdout.trim().split(/\s+/);
    assert.equal(source, "release");
    assert.equal(reference, manifest.image.reference);
    assert.equal(archiveDigest(archive!), manifest.image.digest, "the archive holds the released manifest, unchanged");
    assert.equal(fs.readFileSync(`${archive}.name`, "utf8").trim(), `${manifest.image.repository}:${manifest.image.tag}`);
  });

  it("release:verify passes (registry, cosign verify and verify-attestation, evidence, every digest)", () => {
    const r = spawnSync("npm", ["run", "--silent", "release:verify", "--", path.join(bundle, "release.json")], { cwd: wt, encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(r.stdout.startsWith(`release:verify OK: ${manifest.image.reference}`), r.stdout);
  });

  it("an edited manifest is refused: bad signature", async () => {
    const dir = copyBundle("edited");
    const file = path.join(dir, "release.json");
    const m = JSON.parse(fs.readFileSync(file, "utf8")) as ReleaseManifest;
    (m.image.buildArgs as { BIZRA_USE_RUST: string }).BIZRA_USE_RUST = m.image.buildArgs.BIZRA_USE_RUST === "true" ? "false" : "true";
    fs.writeFileSync(file, JSON.stringify(m, null, 2));
    const r = await verify(dir);
    assert.deepEqual(codes(r), ["bad-signature"]);
  });

  it("a swapped SBOM is refused: its digest, and the attested SBOM is not the bundle's", async () => {
    const dir = copyBundle("swapped");
    fs.copyFileSync(path.join(dir, "sbom-npm.cdx.json"), path.join(dir, "sbom-image.cdx.json"));
    const r = await verify(dir);
    assert.deepEqual(codes(r), ["digest-mismatch", "sbom-attestation"]);
    assert.match(r.problems.find((p) => p.code === "sbom-attestation")!.message, /the attested SBOM differs from sbom-image\.cdx\.json in the bundle \(swapped SBOM\)/);
  });

  it("a stack that trusts another cosign key refuses the signature and the attestation", async () => {
    const other = ensureLocalCosignKey(path.join(tmp, "other-key"));
    const r = await verify(bundle, other.publicKeyPem);
    assert.deepEqual(codes(r), ["image-signature", "sbom-attestation", "wrong-cosign-key"]);
  });

  it("a re-tagged image is refused: the release tag points at another digest", async () => {
    pushImage(`${manifest.image.repository}:${manifest.image.tag}`, "not the release\n");
    const r = await verify(bundle);
    assert.deepEqual(codes(r), ["retagged-image"]);
    assert.match(r.problems[0]!.message, new RegExp(`tag ${manifest.image.repository.replace(/\./g, "\\.")}:${manifest.image.tag} now points at sha256:[0-9a-f]{64}, but the release is ${manifest.image.digest}`));
  });

  it("an image whose only signature is by another key is refused", async () => {
    const other = ensureLocalCosignKey(path.join(tmp, "other-key"));
    const env = cosignEnv(other.password);
    const flags = cosignRegistryFlags(manifest.image.reference);
    run(tools.cosign, ["clean", "--type", "signature", "--force", ...flags.filter((f) => f === "--allow-insecure-registry"), manifest.image.reference], { env });
    run(tools.cosign, ["sign", "--key", other.key, "--tlog-upload=false", ...flags, manifest.image.reference], { env });
    const r = await verify(bundle);
    assert.ok(codes(r).includes("image-signature"), JSON.stringify(r.problems));
    assert.match(r.problems.find((p) => p.code === "image-signature")!.message, /cosign verify .* failed/);
  });

  it("left this checkout as it was: its installed trees and tools, and git status", () => {
    assert.deepEqual(snapshotChanges(checkoutBefore, checkoutSnapshot(copiedPaths())), []);
    assert.equal(gitStatus(), statusBefore);
  });
});
