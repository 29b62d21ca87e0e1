/**
 * The release end to end, as CI's main job runs it: in a fresh git worktree of HEAD (dependencies and built tools
 * linked from this checkout, so `npm run setup` is not repeated), the `up-testnet` job of .github/workflows/main.yml
 * runs step by step: `npm run release -- testnet` (buildah image, loopback docker-registry, syft SBOMs, cosign sign and
 * attest with the worktree's generated key, evidence, render, signed manifest, `pulumi config set bizra:image`), then
 * `npm run up:local -- testnet` and `npm run gates:summary -- testnet`. Then `release:verify` passes, and each
 * tampering case is refused with its reason: an edited manifest, a swapped SBOM, a signature by another key, a
 * re-tagged image.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { planJob, readWorkflow, runPlan } from "../scripts/ci-local";
import { toolchainBuilt } from "../scripts/lib/engine";
import { REPO_ROOT } from "../scripts/lib/stack-config";
import { ensureLocalCosignKey } from "../scripts/release/cosign-key";
import { buildahStoreArgs, BUILDAH_ROOT } from "../scripts/release/image";
import { releaseBundles, type ReleaseManifest } from "../scripts/release/manifest";
import { stopLoopbackRegistry } from "../scripts/release/registry";
import { cosignEnv, run, supplyChainTools, type ToolPaths } from "../scripts/release/tools";
import { cosignRegistryFlags, verifyRelease } from "../scripts/release/verify";
import { loadEvidenceKey } from "@bizra/evidence";

/** Ignored paths of this checkout the worktree links to instead of installing or building them again. */
const LINKED = [
  "node_modules",
  "node-app/node_modules",
  "policies/quality-gates/node_modules",
  "policies/k8s-hardening/node_modules",
  "node-app/native/bizra_native.node",
  ".toolchain",
  ".evidence-key",
];

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  for (const bin of ["buildah", "docker-registry"]) if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) missing.push(bin);
  try {
    supplyChainTools({ build: false, tools: ["cosign", "syft"] });
  } catch {
    missing.push("cosign/syft (bash toolchain/supply-chain.sh)");
  }
  if (!toolchainBuilt()) missing.push("the Pulumi toolchain (toolchain/pulumi.sh)");
  for (const l of LINKED.slice(0, 5)) if (!fs.existsSync(path.join(REPO_ROOT, l))) missing.push(l);
  return missing;
}

describe("release end to end: main job in a fresh worktree, verify, tampering", function () {
  this.timeout(3_600_000);
  let tmp: string;
  let wt: string;
  let tools: ToolPaths;
  let manifest: ReleaseManifest;
  let bundle: string;
  let cosignPub: string;
  let trusted: string[];
  const jobLog: string[] = [];

  before(function () {
    const missing = missingPrerequisites();
    if (missing.length > 0) {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") throw new Error(`scripts/setup.sh should have installed: ${missing.join(", ")}`);
      console.log(`      SKIPPED: not installed: ${missing.join(", ")} (bash scripts/setup.sh)`);
      this.skip();
    }
    tools = supplyChainTools({ build: false });
    fs.mkdirSync(path.join(REPO_ROOT, ".evidence-key"), { recursive: true });
    loadEvidenceKey(); // the worktree signs with this checkout's evidence key (linked)
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-release-e2e-"));
    wt = path.join(tmp, "wt");
    run("git", ["worktree", "add", "--detach", wt, "HEAD"]);
    for (const l of LINKED) if (fs.existsSync(path.join(REPO_ROOT, l))) fs.symlinkSync(path.join(REPO_ROOT, l), path.join(wt, l));
    if (fs.existsSync(path.join(REPO_ROOT, "evidence"))) fs.cpSync(path.join(REPO_ROOT, "evidence"), path.join(wt, "evidence"), { recursive: true });

    const job = readWorkflow(path.join(wt, ".github", "workflows", "main.yml")).jobs["up-testnet"]!;
    const r = runPlan(planJob(job, {}, ["npm run setup"]), { cwd: wt, log: (s) => jobLog.push(s) });
    assert.equal(r.status, 0, jobLog.join("\n"));
    assert.deepEqual(r.ran, ["npm run release -- testnet", "npm run up:local -- testnet", "npm run gates:summary -- testnet"]);
    const file = releaseBundles("testnet", path.join(wt, "releases"))[0]!;
    bundle = path.dirname(file);
    manifest = JSON.parse(fs.readFileSync(file, "utf8")) as ReleaseManifest;
    cosignPub = fs.readFileSync(ensureLocalCosignKey(path.join(wt, ".cosign-key")).publicKeyFile, "utf8");
    trusted = [loadEvidenceKey().publicKeyHex];
  });

  after(() => {
    if (!wt) return;
    stopLoopbackRegistry("127.0.0.1:5000", path.join(wt, ".registry"));
    spawnSync("git", ["worktree", "remove", "--force", wt], { cwd: REPO_ROOT });
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

  it("the manifest names the pushed digest, the commit's labels and build args, and the stack now deploys that digest", () => {
    const head = run("git", ["rev-parse", "HEAD"], { cwd: wt }).stdout.trim();
    assert.equal(manifest.commit, head);
    assert.match(manifest.image.reference, /^127\.0\.0\.1:5000\/bizra\/bizra-apex@sha256:[0-9a-f]{64}$/);
    assert.equal(manifest.image.labels["org.opencontainers.image.revision"], head);
    assert.equal(manifest.image.buildArgs.GIT_COMMIT, head);
    const created = run("git", ["show", "-s", "--format=%ct", "HEAD"], { cwd: wt }).stdout.trim();
    assert.equal(Date.parse(manifest.image.labels["org.opencontainers.image.created"]!) / 1000, Number(created));
    const stackFile = parse(fs.readFileSync(path.join(wt, "Pulumi.testnet.yaml"), "utf8")) as { config: Record<string, { reference?: string }> };
    assert.equal(stackFile.config["bizra:image"]?.reference, manifest.image.reference);
    const deployments = fs.readdirSync(path.join(wt, "rendered", "testnet", "1-manifest")).map((f) => fs.readFileSync(path.join(wt, "rendered", "testnet", "1-manifest", f), "utf8"));
    assert.ok(deployments.some((d) => d.includes("kind: Deployment") && d.includes(manifest.image.reference)), "up:local rendered a Deployment of the released digest");
  });

  it("release:verify passes (registry, cosign verify and verify-attestation, evidence, every digest)", () => {
    const r = spawnSync("npm", ["run", "--silent", "release:verify", "--", path.join(bundle, "release.json")], { cwd: wt, encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^release:verify OK: 127\.0\.0\.1:5000\/bizra\/bizra-apex@sha256:/);
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
    const store = buildahStoreArgs(BUILDAH_ROOT);
    const ctr = run("buildah", [...store, "from", "scratch"]).stdout.trim();
    try {
      fs.writeFileSync(path.join(tmp, "impostor.txt"), "not the release\n");
      run("buildah", [...store, "copy", ctr, path.join(tmp, "impostor.txt"), "/impostor.txt"]);
      run("buildah", [...store, "commit", "--format", "oci", ctr, "bizra-e2e-impostor"]);
    } finally {
      spawnSync("buildah", [...store, "rm", ctr]);
    }
    run("buildah", [...store, "push", "--tls-verify=false", "bizra-e2e-impostor", `docker://${manifest.image.repository}:${manifest.image.tag}`]);
    spawnSync("buildah", [...store, "rmi", "bizra-e2e-impostor"]);
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
});
