/**
 * `npm run release -- <stack> [options]`: from a clean tree at a commit to a signed, SBOM-attested image digest that
 * the stack deploys (docs/release.md).
 *
 *   1. build the node image: `scripts/images.sh node` (node-app/Dockerfile by buildah on the digest-pinned Node.js
 *      base; build args BIZRA_USE_RUST, GIT_COMMIT; OCI labels and every timestamp from the commit time)
 *   2. push it to the stack's `bizra:releaseRepository` as `:<commit>` (a loopback registry is started if needed)
 *   3. syft: CycloneDX JSON SBOMs of the pushed digest and of the npm dependency trees
 *   4. cosign sign + attest (CycloneDX predicate) with the stack's key (.cosign-key/ locally, the operator's in prod)
 *   5. evidence for the commit (reused when it verifies for HEAD, else `npm run evidence`), offline render with the
 *      released image, release manifest signed like the evidence, written to releases/<stack>/<commit12>-<digest12>/
 *   6. `pulumi config set --path bizra:image.reference <repo@digest>` on Pulumi.<stack>.yaml
 *   7. `release:verify` of the new bundle (registry and cosign included)
 *
 * Options: --repository <repo> (instead of bizra:releaseRepository), --releases-dir <dir>, --no-config-set,
 * --allow-dirty (tests and trials: the manifest still records the commit; the tree state is printed).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseStackConfig, type StackConfig } from "../../components/config";
import { gitInfo } from "@bizra/evidence";
import { loadEvidenceKey } from "@bizra/evidence";
import { artifactFiles } from "@bizra/evidence";
import { MANIFEST_FILE } from "@bizra/evidence";
import { verifyEvidence } from "@bizra/evidence";
import { EVIDENCE_DIR } from "../lib/engine";
import { offlineStackConfig, STACKS } from "../lib/stack-config";
import { renderStack } from "../render";
import { operatorKeyRequired, releaseCosignKey } from "./cosign-key";
import { buildahVersion, buildNodeImage } from "./image";
import { cosignKeyFingerprint, fileEntryOf, RELEASES_DIR, writeReleaseManifest, type ReleaseManifest } from "./manifest";
import { ensureLoopbackRegistry, loopbackHost } from "./registry";
import { setImageReference } from "./use";
import { cosignEnv, ensureDir, REPO_ROOT, run, supplyChainTools, toolVersion } from "./tools";
import { cosignRegistryFlags, formatReleaseProblems, SBOM_PREDICATE_TYPE, verifyRelease } from "./verify";

export interface ReleaseOptions {
  readonly stack: string;
  readonly repository?: string;
  readonly releasesDir?: string;
  readonly configSet?: boolean;
  readonly allowDirty?: boolean;
  readonly log?: (s: string) => void;
}

export interface ReleaseResult {
  readonly manifest: ReleaseManifest;
  readonly file: string;
}

function stackConfig(stack: string): Omit<StackConfig, "signingKey"> {
  const raw = offlineStackConfig(stack);
  const { signingKeyValue: _secret, ...cfg } = parseStackConfig(stack, raw.values, raw.secretKeys);
  return cfg;
}

/** Changed tracked or untracked files, except the stack files (deploy-time config, not part of what is built). */
export function dirtyFiles(): string[] {
  return run("git", ["status", "--porcelain", "--untracked-files=normal"])
    .stdout.split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.slice(3))
    .filter((f) => !/^Pulumi\.[a-z0-9-]+\.yaml$/.test(f));
}

function sbomOfImage(syft: string, reference: string, out: string): void {
  const env = { ...process.env, SYFT_CHECK_FOR_APP_UPDATE: "false", ...(loopbackHost(reference) ? { SYFT_REGISTRY_INSECURE_USE_HTTP: "true" } : {}) };
  run(syft, ["scan", `registry:${reference}`, "-o", `cyclonedx-json=${out}`, "-q"], { env });
}

/** The npm trees: every package-lock.json of the project (program, node-app, policy packs), node_modules excluded. */
function sbomOfNpm(syft: string, out: string): void {
  const env = { ...process.env, SYFT_CHECK_FOR_APP_UPDATE: "false" };
  const excludes = ["./**/node_modules/**", "./.toolchain/**", "./.registry/**", "./releases/**", "./rendered/**", "./.pulumi-local/**", "./node-app/native/target/**"];
  run(syft, ["scan", `dir:${REPO_ROOT}`, "--override-default-catalogers", "javascript-lock-cataloger", ...excludes.flatMap((e) => ["--exclude", e]), "-o", `cyclonedx-json=${out}`, "-q"], { env });
}

export async function release(opts: ReleaseOptions): Promise<ReleaseResult> {
  const log = opts.log ?? ((s: string) => console.error(`[release] ${s}`));
  const t0 = Date.now();
  const step = (s: string) => log(`+${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s ${s}`);
  const { stack } = opts;

  const cfg = stackConfig(stack);
  const git = gitInfo();
  if (!/^[0-9a-f]{40}$/.test(git.commit)) throw new Error("not a git checkout with a commit");
  const dirty = dirtyFiles();
  if (dirty.length > 0) {
    if (!opts.allowDirty) throw new Error(`the tree is not clean (commit or stash first): ${dirty.slice(0, 10).join(", ")}${dirty.length > 10 ? ", ..." : ""}`);
    log(`WARNING --allow-dirty: building commit ${git.commit} with uncommitted changes in ${dirty.length} file(s)`);
  }
  const repository = opts.repository ?? cfg.releaseRepository;
  if (!repository) throw new Error(`bizra:releaseRepository is not set for stack ${stack} (and no --repository given)`);
  const commitTime = run("git", ["show", "-s", "--format=%cI", "HEAD"]).stdout.trim();
  const key = releaseCosignKey({ requireOperatorKey: operatorKeyRequired(stack) });
  if (cosignKeyFingerprint(key.publicKeyPem) !== cosignKeyFingerprint(cfg.kyverno.cosignPublicKey)) {
    throw new Error(`the signing key's public half (${key.publicKeyFile}) is not the key stack ${stack} trusts (bizra:kyverno.cosignPublicKey): Kyverno would refuse the image`);
  }

  step("tools: toolchain/supply-chain.sh (cosign, syft; built once, cached by version)");
  const tools = supplyChainTools({ tools: ["cosign", "syft"] });
  const host = loopbackHost(repository);
  if (host) {
    const reg = await ensureLoopbackRegistry(host);
    step(`registry http://${host}/v2/ ${reg.pid ? `started (pid ${reg.pid}, storage ${path.relative(REPO_ROOT, reg.dir)})` : "already running"}`);
  }

  step(`build: scripts/images.sh node, BIZRA_USE_RUST=${cfg.runtimeFlags.BIZRA_USE_RUST} GIT_COMMIT=${git.commit}, created=${commitTime}`);
  const tag = git.commit;
  const image = buildNodeImage({ commit: git.commit, useRust: cfg.runtimeFlags.BIZRA_USE_RUST, destination: `${repository}:${tag}` });
  const { digest, reference } = image;
  step(`pushed ${reference} (base ${image.base})`);

  const bundle = ensureDir(path.join(opts.releasesDir ?? RELEASES_DIR, stack, `${git.commit.slice(0, 12)}-${digest.slice(7, 19)}`));
  for (const entry of fs.readdirSync(bundle)) fs.rmSync(path.join(bundle, entry), { recursive: true, force: true });

  step("SBOMs: syft (CycloneDX JSON) of the pushed digest and of the npm trees");
  sbomOfImage(tools.syft, reference, path.join(bundle, "sbom-image.cdx.json"));
  sbomOfNpm(tools.syft, path.join(bundle, "sbom-npm.cdx.json"));

  step(`cosign sign + attest (key sha256:${cosignKeyFingerprint(key.publicKeyPem).slice(0, 16)}…, ${key.key})`);
  const cenv = cosignEnv(key.password);
  const flags = ["--key", key.key, "--tlog-upload=false", ...cosignRegistryFlags(reference)];
  run(tools.cosign, ["sign", ...flags, reference], { env: cenv });
  run(tools.cosign, ["attest", ...flags, "--type", "cyclonedx", "--predicate", path.join(bundle, "sbom-image.cdx.json"), reference], { env: cenv });
  const triangulate = (type: string) => run(tools.cosign, ["triangulate", "--type", type, ...cosignRegistryFlags(reference).filter((f) => f === "--allow-insecure-registry"), reference], { env: cenv }).stdout.trim();
  const signatureRef = triangulate("signature");
  const attestationRef = triangulate("attestation");

  materializeEvidenceKey();
  const evidenceKey = loadEvidenceKey();
  const evidenceProblems = (): string[] =>
    verifyEvidence(EVIDENCE_DIR, { trustedKeys: [evidenceKey.publicKeyHex], commit: git.commit, maxAgeHours: 24 }).problems.map((p) => `[${p.code}] ${p.message}`);
  let problems = evidenceProblems();
  if (problems.length > 0) {
    step(`evidence: npm run evidence (evidence/ not usable: ${problems[0]})`);
    const r = spawnSync("npm", ["run", "evidence", "--", EVIDENCE_DIR], { cwd: REPO_ROOT, stdio: ["ignore", process.stderr, "inherit"] });
    if (r.status !== 0) throw new Error("npm run evidence failed");
    problems = evidenceProblems();
    if (problems.length > 0) throw new Error(`evidence/ does not verify for this commit:\n  - ${problems.join("\n  - ")}`);
  } else {
    step("evidence: evidence/ verifies for HEAD (reused)");
  }
  const evDir = ensureDir(path.join(bundle, "evidence"));
  for (const f of [...artifactFiles(EVIDENCE_DIR), MANIFEST_FILE]) fs.copyFileSync(path.join(EVIDENCE_DIR, f), path.join(evDir, f));
  const evManifest = JSON.parse(fs.readFileSync(path.join(evDir, MANIFEST_FILE), "utf8")) as { publicKey: string; commit: string };

  step("render: offline render of the stack with the released image");
  const renderDir = path.join(bundle, "rendered");
  const rendered = await renderStack(stack, renderDir, { "bizra:image": { reference } });

  const toolsUsed: Record<string, string> = {
    cosign: toolVersion(tools.cosign),
    syft: toolVersion(tools.syft, ["version"]),
    buildah: buildahVersion(),
    node: process.version.replace(/^v/, ""),
  };
  const manifest = writeReleaseManifest(
    bundle,
    {
      createdAt: new Date().toISOString(),
      stack,
      commit: git.commit,
      commitTime,
      source: image.labels["org.opencontainers.image.source"] ?? "",
      image: { repository, digest, reference, tag, buildArgs: image.buildArgs, labels: image.labels, base: image.base, builder: image.builder },
      sboms: { image: fileEntryOf(bundle, "sbom-image.cdx.json"), npm: fileEntryOf(bundle, "sbom-npm.cdx.json") },
      cosign: { publicKey: key.publicKeyPem, publicKeySha256: cosignKeyFingerprint(key.publicKeyPem), signatureRef, attestationRef, predicateType: SBOM_PREDICATE_TYPE },
      evidence: {
        manifest: fileEntryOf(bundle, `evidence/${MANIFEST_FILE}`),
        publicKey: evManifest.publicKey,
        commit: evManifest.commit,
        artifacts: artifactFiles(evDir).map((f) => fileEntryOf(bundle, `evidence/${f}`)),
      },
      rendered: rendered.map((f) => fileEntryOf(bundle, path.relative(bundle, f))),
      tools: toolsUsed,
    },
    evidenceKey,
  );
  const file = path.join(bundle, "release.json");
  step(`release manifest ${path.relative(REPO_ROOT, file)} (signed by ${evidenceKey.publicKeyHex.slice(0, 16)}…)`);

  if (opts.configSet !== false) {
    step(`pulumi config set --path bizra:image.reference ${reference} (Pulumi.${stack}.yaml)`);
    setImageReference(stack, reference);
  }

  const report = await verifyRelease(file, { cosignBin: tools.cosign, trustedKeys: [evidenceKey.publicKeyHex], stack, cosignPublicKey: cfg.kyverno.cosignPublicKey });
  if (!report.ok) throw new Error(`the new release does not verify:\n${formatReleaseProblems(report)}`);
  step(`release:verify passed: ${reference}`);
  return { manifest, file };
}

/**
 * CI hands the evidence seed as a secret value (`BIZRA_EVIDENCE_KEY`, 64 hex); the evidence code reads a file
 * (`BIZRA_EVIDENCE_KEY_FILE`), so the value goes to a 0600 file in a private temporary folder for this process and
 * the `npm run evidence` it starts.
 */
function materializeEvidenceKey(): void {
  const seed = process.env.BIZRA_EVIDENCE_KEY;
  if (!seed || process.env.BIZRA_EVIDENCE_KEY_FILE) return;
  if (!/^[0-9a-f]{64}$/.test(seed.trim())) throw new Error("BIZRA_EVIDENCE_KEY: not 64 lower-case hex digits (an Ed25519 seed)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-evidence-key-"));
  const file = path.join(dir, "ed25519.seed");
  fs.writeFileSync(file, `${seed.trim()}\n`, { mode: 0o600 });
  process.env.BIZRA_EVIDENCE_KEY_FILE = file;
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
}

function parseArgs(argv: string[]): ReleaseOptions {
  const [stack, ...rest] = argv;
  if (!stack || !(STACKS as readonly string[]).includes(stack)) {
    throw new Error(`usage: npm run release -- <stack> [--repository <repo>] [--releases-dir <dir>] [--no-config-set] [--allow-dirty]   (stack: ${STACKS.join(" | ")})`);
  }
  const opts: { -readonly [K in keyof ReleaseOptions]: ReleaseOptions[K] } = { stack };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--repository") opts.repository = rest[++i];
    else if (a === "--releases-dir") opts.releasesDir = path.resolve(rest[++i] ?? "");
    else if (a === "--no-config-set") opts.configSet = false;
    else if (a === "--allow-dirty") opts.allowDirty = true;
    else throw new Error(`unknown option ${a} (allowed: --repository, --releases-dir, --no-config-set, --allow-dirty)`);
  }
  return opts;
}

if (require.main === module) {
  (async () => {
    const { file, manifest } = await release(parseArgs(process.argv.slice(2)));
    console.log(`${manifest.image.reference}\n${path.relative(REPO_ROOT, file)}`);
  })().catch((err: Error) => {
    console.error(`[release] ERROR: ${err.message}`);
    process.exit(1);
  });
}
