/**
 * `pulumi up` of a stack against the local single-node cluster (docs/cluster.md), with both policy packs:
 *
 *   npm run cluster:up                       start the cluster (scripts/cluster.sh up)
 *   npm run up:cluster -- <stack>            deploy; the provider waits until pods are Ready, the Deployment is
 *                                            available, the Service has endpoints and the validator Job completed
 *   npm run destroy:cluster -- <stack>       remove the stack's objects from the cluster
 *   npm run cluster:image -- <stack> [--export]
 *                                            which image `up:cluster` deploys, without a cluster: prints
 *                                            `release <reference>` (with --export also the OCI archive it imports, copied
 *                                            from the registry) or `local <why>`
 *
 * The node image (`clusterImageChoice`, scripts/lib/cluster.ts):
 *   - a release: once `npm run release -- <stack>` or `npm run release:use -- <stack>` set the stack's
 *     `bizra:image.reference`, exactly that digest, if a bundle in releases/<stack>/ names it and verifies. It is
 *     copied by digest from the release registry (`scripts/images.sh export`) and imported into the cluster's
 *     containerd as <repository>:<commit> and <repository>@sha256:<digest>; while `npm run admission:up` runs the
 *     registry inside the cluster's namespace, also copied there with its cosign signature and SBOM attestation
 *     (digests kept), where Kyverno verifies it;
 *   - while the stack file names the unreleased placeholder digest: the image `scripts/images.sh node` built here
 *     (docker.io/local/bizra-node@sha256:<digest>), built and imported when missing; while `npm run admission:up`
 *     runs the registry inside the cluster's namespace, the same image from there, signed with the stack's key.
 * The stack config is a generated copy of Pulumi.<stack>.yaml in .pulumi-local/cluster-config/ plus
 * `kubernetes:kubeconfig`, `bizra:image.reference` = that digest and `bizra:allowedRegistries` = the stack's own plus
 * docker.io/local; state lives in .pulumi-local/cluster-state (file://).
 * The engine runs inside the cluster's network namespace (the API server listens only there).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  engineEnv,
  ensurePackDeps,
  evidenceProblems,
  LOCAL_DIR,
  policyPackArgs,
  pulumi,
  toolchainEnv,
  writeStackConfigFile,
} from "./lib/engine";
import {
  builtNodeImage,
  CRD_DIR,
  clusterEnv,
  clusterImageChoice,
  clusterRunning,
  clusterStackSettings,
  IMAGES_SCRIPT,
  installCrds,
  kubectl,
  CLUSTER_SCRIPT,
  type ClusterEnv,
  type ClusterImageChoice,
} from "./lib/cluster";
import { cosignBinary, publishedNodeImage, publishRelease, publishSignedNodeImage, runningPid, stackRegistry } from "./lib/admission";
import { readStackFile, REPO_ROOT, STACKS } from "./lib/stack-config";
import { ensureLoopbackRegistry, loopbackHost } from "./release/registry";

export const CLUSTER_BACKEND_DIR = path.join(LOCAL_DIR, "cluster-state");

const say = (s: string): void => console.error(`[${path.basename(__filename, ".ts")}] ${s}`);

function fail(msg: string, code = 1): never {
  say(`ERROR: ${msg}`);
  process.exit(code);
}

/** Image references the cluster's containerd holds (namespace k8s.io). */
function clusterImages(cluster: ClusterEnv): string[] {
  const r = spawnSync("nsenter", [`--net=${cluster.NETNS_FILE}`, "--", "ctr", "-a", cluster["CTR_ADDRESS"]!, "-n", "k8s.io", "images", "ls", "-q"], { encoding: "utf8" });
  return r.stdout.split("\n");
}

function importIntoCluster(archive: string, name: string, log: (s: string) => void): void {
  log(`importing ${name} into the cluster's containerd`);
  const i = spawnSync("bash", [CLUSTER_SCRIPT, "import-image", archive, name], { stdio: ["ignore", process.stderr, "inherit"] });
  if (i.status !== 0) throw new Error("scripts/cluster.sh import-image failed");
}

/** The node image built here, building it and importing it into the running cluster when needed. */
export function ensureNodeImage(cluster: ClusterEnv, log: (s: string) => void = say): string {
  let ref = builtNodeImage();
  if (!ref) {
    log("building the node image: scripts/images.sh node (buildah; minutes the first time)");
    const b = spawnSync("bash", [IMAGES_SCRIPT, "node"], { cwd: REPO_ROOT, stdio: ["ignore", process.stderr, "inherit"] });
    if (b.status !== 0) throw new Error("scripts/images.sh node failed; see above");
    ref = builtNodeImage();
    if (!ref) throw new Error("scripts/images.sh node wrote no usable .toolchain/images/node.ref");
  }
  if (!clusterImages(cluster).includes(ref)) {
    const archive = path.join(REPO_ROOT, ".toolchain", "images", "import", "bizra-node.oci.tar");
    importIntoCluster(archive, fs.readFileSync(`${archive}.name`, "utf8").trim(), log);
  }
  return ref;
}

/** File stem under .toolchain/images/import/ of a stack's released image (cluster.sh imports it again at each start). */
export const releaseImportStem = (stack: string): string => `release-${stack}`;

/**
 * Copies a release's image by digest from its registry into an OCI archive named <repository>:<tag>
 * (`scripts/images.sh export`: the manifest, so the digest, unchanged) and returns the archive. A loopback registry
 * that does not answer is started on its storage under .registry/.
 */
export async function exportReleaseImage(stack: string, release: Extract<ClusterImageChoice, { source: "release" }>, log: (s: string) => void = say): Promise<string> {
  const host = loopbackHost(release.repository);
  if (host) await ensureLoopbackRegistry(host);
  const stem = releaseImportStem(stack);
  log(`copying ${release.reference} from its registry: scripts/images.sh export (stem ${stem})`);
  const e = spawnSync("bash", [IMAGES_SCRIPT, "export", release.reference, `${release.repository}:${release.tag}`, stem], { cwd: REPO_ROOT, stdio: ["ignore", process.stderr, "inherit"] });
  if (e.status !== 0) throw new Error(`scripts/images.sh export ${release.reference} failed; see above`);
  return path.join(REPO_ROOT, ".toolchain", "images", "import", `${stem}.oci.tar`);
}

/** The released image in the running cluster: exported from the registry and imported unless containerd has it. */
export async function ensureReleaseImage(cluster: ClusterEnv, stack: string, release: Extract<ClusterImageChoice, { source: "release" }>, log: (s: string) => void = say): Promise<string> {
  if (!clusterImages(cluster).includes(release.reference)) {
    importIntoCluster(await exportReleaseImage(stack, release, log), `${release.repository}:${release.tag}`, log);
    if (!clusterImages(cluster).includes(release.reference)) throw new Error(`after the import the cluster's containerd has no image ${release.reference}`);
  }
  return release.reference;
}

/**
 * The released image a deployment of `stack` uses: imported into the cluster's containerd by digest and, while the
 * admission registry runs inside the cluster's namespace (`npm run admission:up`), copied there with its signature
 * and SBOM attestation (`publishRelease`: digests kept), so that Kyverno verifies the release where its reference
 * points. Returns the reference (exactly the release's).
 */
export async function deployedReleaseImage(cluster: ClusterEnv, stack: string, release: Extract<ClusterImageChoice, { source: "release" }>, log: (s: string) => void = say): Promise<string> {
  await ensureReleaseImage(cluster, stack, release, log);
  if (runningPid(cluster, "registry") !== undefined) {
    const cosign = cosignBinary();
    if ("missing" in cosign) throw new Error(cosign.missing);
    log(`the admission registry runs: copying ${release.reference} with its signature and SBOM attestation into it (cosign save, cosign load inside ${cluster.NETNS})`);
    const p = await publishRelease(cluster, cosign.cosign, release);
    log(`served inside ${cluster.NETNS}: image ${p.image}, signature ${p.signature}, attestation ${p.attestation}`);
  }
  return release.reference;
}

/**
 * The image a deployment of `stack` uses: the node image built here; while the admission registry runs inside the
 * cluster's namespace (`npm run admission:up`), that image from the registry, signed with the stack's key (pushed and
 * signed again when the node image changed), so that Kyverno verifies what runs.
 */
export function deployedNodeImage(cluster: ClusterEnv, stack: string, log: (s: string) => void = say): string {
  const local = ensureNodeImage(cluster, log);
  if (runningPid(cluster, "registry") === undefined) return local;
  try {
    stackRegistry(stack);
  } catch {
    return local; // the stack's releases do not go to a loopback registry
  }
  const published = publishedNodeImage(cluster);
  if (published) return published.reference;
  const cosign = cosignBinary();
  if ("missing" in cosign) throw new Error(cosign.missing);
  log("the node image changed: pushing it to the admission registry and signing it (stack key)");
  return publishSignedNodeImage(cluster, stack, cosign.cosign).reference;
}

/** CRDs and the namespaces the program expects to exist (it creates only its own; the dashboard goes to monitoring). */
export function prepareCluster(cluster: ClusterEnv, stack: string): void {
  installCrds(cluster);
  const monitoring = String((readStackFile(stack)["bizra:monitoringNamespace"] as string | undefined) ?? "monitoring");
  kubectl(cluster, ["apply", "--server-side", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: monitoring } }) });
}

async function run(mode: "up" | "destroy", stack: string): Promise<void> {
  const t0 = Date.now();
  if (!clusterRunning()) fail("no local cluster runs: start it with `npm run cluster:up`");
  const cluster = clusterEnv();
  const env = engineEnv(toolchainEnv(), CLUSTER_BACKEND_DIR);
  const choice = clusterImageChoice(stack);
  if (choice.source === "release") say(`image: the release ${choice.reference} (verified bundle ${path.relative(REPO_ROOT, choice.bundle)})`);
  else say(`image: the one built here (${choice.why})`);
  // destroy needs the reference in the config only; up needs the image in the cluster's containerd.
  const image = choice.source === "release" ? (mode === "up" ? await deployedReleaseImage(cluster, stack, choice) : choice.reference) : deployedNodeImage(cluster, stack);
  const configFile = writeStackConfigFile(stack, clusterStackSettings(cluster, image, stack), path.join(LOCAL_DIR, "cluster-config", `Pulumi.${stack}.yaml`));
  const ns = { netns: cluster.NETNS_FILE };
  const login = pulumi(["login", env["PULUMI_BACKEND_URL"]!], env, { capture: true });
  if (login.status !== 0) fail(`pulumi login failed:\n${login.output}`);
  const select = pulumi(["stack", "select", "--create", stack, "--secrets-provider", "passphrase", "--non-interactive"], env, { capture: true });
  if (select.status !== 0) fail(`pulumi stack select --create ${stack} failed:\n${select.output}`);
  const common = ["--stack", stack, "--config-file", configFile, "--non-interactive"];
  if (mode === "destroy") {
    const d = pulumi(["destroy", "--yes", ...common], env, ns);
    if (d.status !== 0) fail(`pulumi destroy exited ${d.status}`, d.status ?? 1);
    say(`destroyed ${stack} on the local cluster in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return;
  }
  ensurePackDeps(say);
  const problems = evidenceProblems();
  if (problems.length > 0) {
    say(`evidence/ is not usable for this commit (${problems.length} problems): npm run evidence`);
    const r = spawnSync("npm", ["run", "evidence"], { cwd: REPO_ROOT, stdio: ["ignore", process.stderr, "inherit"] });
    if (r.status !== 0) fail("npm run evidence failed; see above");
  }
  say(`CRDs from ${path.relative(REPO_ROOT, CRD_DIR)} and the monitoring namespace`);
  prepareCluster(cluster, stack);
  say(`pulumi up --yes with both policy packs: ${stack}, image ${image}, kubeconfig ${cluster.KUBECONFIG} (inside ${cluster.NETNS})`);
  const u = pulumi(["up", "--yes", "--skip-preview", ...common, ...policyPackArgs()], env, ns);
  if (u.status !== 0) fail(`pulumi up exited ${u.status}`, u.status ?? 1);
  const namespace = String(readStackFile(stack)["bizra:namespace"]);
  say(`up of ${stack} done in ${((Date.now() - t0) / 1000).toFixed(0)} s; pods in ${namespace}:`);
  console.log(kubectl(cluster, ["get", "pods,deployments,jobs,endpoints", "-n", namespace, "-o", "wide"]));
}

/** `cluster:image`: the choice `up` makes, printed; with `export`, the archive `up` would import, written. */
async function image(stack: string, exportArchive: boolean): Promise<void> {
  const choice = clusterImageChoice(stack);
  if (choice.source === "local") {
    console.log(`local ${choice.why}`);
    return;
  }
  console.log(`release ${choice.reference}${exportArchive ? ` ${await exportReleaseImage(stack, choice)}` : ""}`);
}

if (require.main === module) {
  const [mode, stack, ...rest] = process.argv.slice(2);
  if (!mode || !["up", "destroy", "image"].includes(mode) || !stack || !(STACKS as readonly string[]).includes(stack)) {
    fail(`usage: npm run up:cluster|destroy:cluster -- <stack>, npm run cluster:image -- <stack> [--export]   (stack: ${STACKS.join(" | ")})`, 2);
  }
  if (mode === "image") {
    const unknown = rest.filter((a) => a !== "--export");
    if (unknown.length > 0) fail(`unknown option ${unknown[0]} (allowed: --export)`, 2);
    image(stack, rest.includes("--export")).catch((err: Error) => fail(err.message));
  } else {
    run(mode as "up" | "destroy", stack).catch((err: Error) => fail(err.message));
  }
}
