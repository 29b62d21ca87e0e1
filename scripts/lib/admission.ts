/**
 * Admission on the local cluster (docs/cluster.md, "Admission: Kyverno"): the Kyverno admission controller and the
 * loopback registry it verifies images against, both inside the cluster's network namespace.
 *
 * - Registry: Debian's `docker-registry` on the host of the stack's `bizra:releaseRepository` (testnet:
 *   `127.0.0.1:5000`), listening inside the namespace only; storage under `<cluster state>/admission/registry/`.
 *   The kubelet's containerd, Kyverno and cosign all run in that namespace and speak plain HTTP to a loopback registry.
 * - The node image (`scripts/images.sh`) is copied there by skopeo and signed by cosign at its digest with the stack's
 *   key (`.cosign-key/`, generated on first use; `bizra:kyverno.cosignPublicKey: local` is its public half).
 * - A release (`npm run release`) is copied there from the release registry on the host's loopback, with its cosign
 *   signature and SBOM attestation, every digest kept (`publishRelease`: cosign save, then cosign load inside the
 *   namespace), so that Kyverno verifies the released digest itself.
 * - Kyverno v1.19.1's admission controller (`cmd/kyverno`, built by scripts/delivery-toolchain.sh) runs as a process
 *   in the namespace with the cluster's kubeconfig and `--serverIP <node IP>:<port>`: the webhook configurations it
 *   registers carry `clientConfig.url: https://<node IP>:<port>/...` and, as `caBundle`, a CA generated here (its
 *   serving certificate is signed by that CA; Kyverno's own certificate controller is off).
 *
 * Everything started here is found again by its pid file under `<cluster state>/admission/` and stopped by pid;
 * `stopAdmission` also removes the webhook configurations, so the cluster admits as before once Kyverno is gone.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inClusterNs, kubectl, kubectlGet, type ClusterEnv } from "./cluster";
import { runningPid as runningPidIn, startInNs as startProcessInNs, stopByPid as stopProcess, tail, waitUntil } from "./processes";
import { readStackFile, REPO_ROOT } from "./stack-config";
import { ensureLocalCosignKey, type CosignKeyPair } from "../release/cosign-key";
import { ensureLoopbackRegistry, loopbackHost } from "../release/registry";
import { cosignEnv } from "../release/tools";
import { cosignRegistryFlags } from "../release/verify";

/** Namespace of Kyverno's own objects (leases, TLS secrets, reports), as in the upstream chart. */
export const KYVERNO_NAMESPACE = "kyverno";
/** Port of the webhook server inside the cluster's network namespace (Kyverno's default). */
export const KYVERNO_WEBHOOK_PORT = 9443;
/** Secret names the upstream chart passes (`<service>.<namespace>.svc.kyverno-tls-ca|pair`). */
export const KYVERNO_CA_SECRET = `kyverno-svc.${KYVERNO_NAMESPACE}.svc.kyverno-tls-ca`;
export const KYVERNO_TLS_SECRET = `kyverno-svc.${KYVERNO_NAMESPACE}.svc.kyverno-tls-pair`;
/** Label Kyverno puts on every webhook configuration it manages. */
export const KYVERNO_WEBHOOK_LABEL = "webhook.kyverno.io/managed-by=kyverno";
const DELIVERY_TOOLCHAIN = path.join(REPO_ROOT, "scripts", "delivery-toolchain.sh");
const VERSIONS_FILE = path.join(REPO_ROOT, "scripts", "delivery-toolchain", "versions.env");
/** The node image scripts/images.sh exports (an OCI archive; `<archive>.name` holds its local name). */
export const NODE_IMAGE_ARCHIVE = path.join(REPO_ROOT, ".toolchain", "images", "import", "bizra-node.oci.tar");
/** The pause image scripts/images.sh builds (a second, unrelated image for the refusal cases). */
export const PAUSE_IMAGE_ARCHIVE = path.join(REPO_ROOT, ".toolchain", "images", "pause.oci.tar");

export function kyvernoVersion(): string {
  const m = /^KYVERNO_VERSION=([^\s#]+)/m.exec(fs.readFileSync(VERSIONS_FILE, "utf8"));
  if (!m) throw new Error(`${VERSIONS_FILE} has no KYVERNO_VERSION`);
  return m[1]!;
}

/** Where this module keeps its state for a cluster: `<cluster state>/admission/`. */
export function admissionDir(cluster: ClusterEnv): string {
  return path.join(cluster.STATE, "admission");
}

/** Paths of the Kyverno binaries (`scripts/delivery-toolchain.sh paths kyverno`); undefined plus the reason when not built. */
export function kyvernoBinaries(): { cli: string; admissionController: string } | { missing: string } {
  const r = spawnSync("bash", [DELIVERY_TOOLCHAIN, "paths", "kyverno"], { encoding: "utf8" });
  const cli = /^KYVERNO_KYVERNO_BIN=(.+)$/m.exec(r.stdout ?? "")?.[1];
  const admissionController = /^KYVERNO_KYVERNO_ADMISSION_CONTROLLER_BIN=(.+)$/m.exec(r.stdout ?? "")?.[1];
  if (r.status !== 0 || !cli || !admissionController) {
    return {
      missing: `Kyverno v${kyvernoVersion()} is not built (run \`bash scripts/delivery-toolchain.sh build kyverno\`; scripts/setup.sh does)`,
    };
  }
  return { cli, admissionController };
}

/** The registry host (`127.0.0.1:5000`) and repository of a stack's releases, from `bizra:releaseRepository`. */
export function stackRegistry(stack: string): { host: string; repository: string } {
  const repository = String(readStackFile(stack)["bizra:releaseRepository"] ?? "");
  const host = loopbackHost(repository);
  if (!host)
    throw new Error(
      `bizra:releaseRepository of ${stack} (${JSON.stringify(repository)}) is not on a loopback registry (127.0.0.1:<port>/...): the cluster's registry runs on loopback inside its namespace`,
    );
  return { host, repository };
}

// ------------------------------------------------------------------------------------------------ processes

/** The pid of this module's process `name` (`<admission>/<name>.pid`) if it is alive, else undefined. */
export function runningPid(cluster: ClusterEnv, name: string): number | undefined {
  return runningPidIn(admissionDir(cluster), name);
}

function startInNs(cluster: ClusterEnv, name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  return startProcessInNs(cluster, name, cmd, args, { dir: admissionDir(cluster), env });
}

function stopByPid(cluster: ClusterEnv, name: string): Promise<boolean> {
  return stopProcess(admissionDir(cluster), name);
}

function nsCurl(cluster: ClusterEnv, args: string[]): { status: number | null; stdout: string } {
  const r = inClusterNs(cluster, "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", ...args], {
    timeoutMs: 10_000,
  });
  return { status: r.status, stdout: r.stdout };
}

// ------------------------------------------------------------------------------------------------ registry

/** Starts docker-registry on `host` inside the namespace (unless it already runs there). */
export async function startRegistry(cluster: ClusterEnv, host: string): Promise<void> {
  if (runningPid(cluster, "registry") !== undefined) return;
  if (spawnSync("sh", ["-c", "command -v docker-registry"], { stdio: "ignore" }).status !== 0) {
    throw new Error("docker-registry is not installed (Debian package docker-registry; scripts/setup.sh installs it)");
  }
  const dir = path.join(admissionDir(cluster), "registry");
  fs.mkdirSync(path.join(dir, "data"), { recursive: true });
  const config = path.join(dir, "config.yml");
  fs.writeFileSync(
    config,
    [
      "version: 0.1",
      "log: { level: warn }",
      "storage:",
      `  filesystem: { rootdirectory: ${JSON.stringify(path.join(dir, "data"))} }`,
      "  delete: { enabled: true }",
      "http:",
      `  addr: ${host}`,
      "",
    ].join("\n"),
  );
  startInNs(cluster, "registry", "docker-registry", ["serve", config]);
  const log = path.join(cluster.LOGS, "registry.log");
  await waitUntil(
    `docker-registry on http://${host}/v2/ inside ${cluster.NETNS}`,
    30_000,
    () => (nsCurl(cluster, [`http://${host}/v2/`]).stdout === "200" ? true : undefined),
    () => (runningPid(cluster, "registry") === undefined ? `docker-registry exited:\n${tail(log)}` : undefined),
  );
}

export async function stopRegistry(cluster: ClusterEnv): Promise<boolean> {
  return stopByPid(cluster, "registry");
}

/** skopeo copy of an OCI archive to `ref` (a tag) inside the namespace; returns `repo@sha256:...`. */
export function pushArchive(
  cluster: ClusterEnv,
  archive: string,
  ref: string,
  opts: { format?: "oci" | "v2s2" } = {},
): string {
  if (!fs.existsSync(archive))
    throw new Error(`no image archive ${archive}: build it with \`bash scripts/images.sh all\``);
  const digestFile = path.join(admissionDir(cluster), `digest-${process.pid}`);
  const r = inClusterNs(
    cluster,
    "skopeo",
    [
      "copy",
      "--quiet",
      "--dest-tls-verify=false",
      "--digestfile",
      digestFile,
      ...(opts.format ? ["--format", opts.format] : []),
      `oci-archive:${archive}`,
      `docker://${ref}`,
    ],
    { timeoutMs: 300_000 },
  );
  if (r.status !== 0)
    throw new Error(`skopeo copy ${archive} -> ${ref} failed: ${(r.stderr || String(r.error)).trim()}`);
  const digest = fs.readFileSync(digestFile, "utf8").trim();
  fs.rmSync(digestFile, { force: true });
  if (!/^sha256:[0-9a-f]{64}$/.test(digest))
    throw new Error(`skopeo wrote no digest for ${ref} (got ${JSON.stringify(digest)})`);
  return `${ref.replace(/:[^:/]+$/, "")}@${digest}`;
}

/** cosign sign of `ref` (by digest) inside the namespace, without a transparency log (none is reachable). */
export function cosignSign(
  cluster: ClusterEnv,
  cosign: string,
  key: Pick<CosignKeyPair, "key" | "password">,
  ref: string,
): void {
  if (!/@sha256:[0-9a-f]{64}$/.test(ref))
    throw new Error(`cosign sign: ${ref} is not a digest reference; only digests are signed`);
  const r = spawnSync(
    "nsenter",
    [
      `--net=${cluster.NETNS_FILE}`,
      "--",
      cosign,
      "sign",
      "--key",
      key.key,
      "--tlog-upload=false",
      ...cosignRegistryFlags(ref),
      ref,
    ],
    {
      encoding: "utf8",
      env: cosignEnv(key.password),
      timeout: 120_000,
    },
  );
  if (r.status !== 0)
    throw new Error(
      `cosign sign ${ref} failed: ${(r.stderr || String(r.error)).trim().split("\n").slice(-5).join("\n")}`,
    );
}

/** cosign from toolchain/supply-chain.sh (built by scripts/setup.sh), or the reason it is missing. */
export function cosignBinary(): { cosign: string } | { missing: string } {
  const r = spawnSync("bash", [path.join(REPO_ROOT, "toolchain", "supply-chain.sh"), "paths", "cosign"], {
    encoding: "utf8",
  });
  const cosign = /^COSIGN_BIN=(.+)$/m.exec(r.stdout ?? "")?.[1];
  return r.status === 0 && cosign
    ? { cosign }
    : { missing: "cosign is not built (run `bash toolchain/supply-chain.sh build cosign`; scripts/setup.sh does)" };
}

/**
 * The node image of scripts/images.sh in the stack's registry inside the namespace, signed at its digest with the
 * stack's key (`.cosign-key/`, generated on first use). Returns the digest reference and the tag it was pushed as.
 */
export function publishSignedNodeImage(
  cluster: ClusterEnv,
  stack: string,
  cosign: string,
  key: CosignKeyPair = ensureLocalCosignKey(),
): PublishedImage {
  const { repository } = stackRegistry(stack);
  const source = nodeImageName();
  const tagged = `${repository}:${source.slice(source.lastIndexOf(":") + 1)}`;
  const reference = pushArchive(cluster, NODE_IMAGE_ARCHIVE, tagged);
  cosignSign(cluster, cosign, key, reference);
  const published = { reference, tagged, source };
  fs.writeFileSync(path.join(admissionDir(cluster), "node.json"), `${JSON.stringify(published, null, 2)}\n`);
  return published;
}

export interface PublishedImage {
  /** `<registry>/<repository>@sha256:...`, signed. */
  readonly reference: string;
  /** The same image by tag. */
  readonly tagged: string;
  /** The local name of the archive it came from (`docker.io/local/bizra-node:<inputs hash>`). */
  readonly source: string;
}

function nodeImageName(): string {
  return fs.readFileSync(`${NODE_IMAGE_ARCHIVE}.name`, "utf8").trim();
}

/**
 * The signed node image `publishSignedNodeImage` recorded, while the registry runs and the record is of the node image
 * scripts/images.sh exported last; else undefined.
 */
export function publishedNodeImage(cluster: ClusterEnv): PublishedImage | undefined {
  const f = path.join(admissionDir(cluster), "node.json");
  if (
    runningPid(cluster, "registry") === undefined ||
    !fs.existsSync(f) ||
    !fs.existsSync(`${NODE_IMAGE_ARCHIVE}.name`)
  )
    return undefined;
  const p = JSON.parse(fs.readFileSync(f, "utf8")) as PublishedImage;
  return p.source === nodeImageName() ? p : undefined;
}

// ------------------------------------------------------------------------------------------------ releases

/** What `cosign save` wrote for a release: the digests of its image, signature and attestation manifests. */
export interface SavedRelease {
  readonly image: string;
  readonly signature: string;
  readonly attestation: string;
}

/** A release copied into the registry inside the namespace, digests unchanged. */
export interface PublishedRelease extends SavedRelease {
  /** `<repository>@sha256:...`: the release's reference, now served inside the namespace too. */
  readonly reference: string;
  /** `<repository>:<tag>` (the release's commit tag) inside the namespace. */
  readonly tagged: string;
}

/** The digests `cosign save` recorded in `<dir>/index.json`, by the kind cosign annotates each manifest with. */
export function savedRelease(dir: string): SavedRelease {
  const index = JSON.parse(fs.readFileSync(path.join(dir, "index.json"), "utf8")) as {
    manifests?: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const of = (kind: string, what: string): string => {
    const m = (index.manifests ?? []).filter((e) => e.annotations?.["kind"] === `dev.cosignproject.cosign/${kind}`);
    if (m.length !== 1)
      throw new Error(
        `cosign save wrote ${m.length} ${what} manifests to ${dir}/index.json (expected 1): the release's ${what} is not in its registry`,
      );
    return m[0]!.digest;
  };
  return {
    image: of("image", "image"),
    signature: of("sigs", "signature"),
    attestation: of("atts", "SBOM attestation"),
  };
}

/** Digest the registry inside the namespace serves for `name` at `tagOrDigest` (HEAD), or undefined when absent. */
export function nsManifestDigest(
  cluster: ClusterEnv,
  host: string,
  name: string,
  tagOrDigest: string,
): string | undefined {
  const r = inClusterNs(cluster, "curl", [
    "-s",
    "-I",
    "--max-time",
    "10",
    "-H",
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json",
    `http://${host}/v2/${name}/manifests/${tagOrDigest}`,
  ]);
  if (!/^HTTP\/\S+ 200/m.test(r.stdout)) return undefined;
  return /^docker-content-digest:\s*(\S+)/im.exec(r.stdout)?.[1];
}

/** cosign's tag for a digest's signature (`sig`) or attestation (`att`) manifest: `sha256-<hex>.<suffix>`. */
export const cosignTag = (digest: string, suffix: "sig" | "att"): string => `${digest.replace(":", "-")}.${suffix}`;

/**
 * Copies a release (`npm run release`: its image, its cosign signature and its SBOM attestation) from the release
 * registry on the host into the registry inside the namespace, which listens on the same loopback address, so that
 * Kyverno finds the signature and attestation where the release's reference points. Both registries have one address,
 * so no single process reaches both: `cosign save` on the host writes the three to an OCI layout under
 * `<admission>/`, `cosign load` inside the namespace pushes them (manifests byte for byte: every digest is kept). The
 * digests served inside the namespace are then checked against the saved ones.
 */
export async function publishRelease(
  cluster: ClusterEnv,
  cosign: string,
  release: { readonly reference: string; readonly repository: string; readonly tag: string },
): Promise<PublishedRelease> {
  const host = loopbackHost(release.repository);
  const digest = release.reference.slice(release.reference.lastIndexOf("@") + 1);
  if (!host || !/^sha256:[0-9a-f]{64}$/.test(digest) || release.reference !== `${release.repository}@${digest}`)
    throw new Error(
      `release ${release.reference}: not <loopback host:port>/<name>@sha256:<digest> of repository ${release.repository}`,
    );
  if (nsCurl(cluster, [`http://${host}/v2/`]).stdout !== "200")
    throw new Error(
      `no registry answers on http://${host}/v2/ inside ${cluster.NETNS}: the release's registry address must be the admission registry's (the host of the stack's bizra:releaseRepository; npm run admission:up starts it)`,
    );
  await ensureLoopbackRegistry(host);
  const dir = path.join(admissionDir(cluster), `release-${digest.slice(7, 19)}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const flags = cosignRegistryFlags(release.reference);
  const cosignRun = (netns: boolean, args: string[]): void => {
    const r = spawnSync(
      netns ? "nsenter" : cosign,
      netns ? [`--net=${cluster.NETNS_FILE}`, "--", cosign, ...args] : args,
      {
        encoding: "utf8",
        env: cosignEnv(""),
        timeout: 300_000,
      },
    );
    if (r.status !== 0)
      throw new Error(
        `cosign ${args.slice(0, 1).join(" ")} ${netns ? `inside ${cluster.NETNS}` : "on the host"} failed: ${(r.stderr || String(r.error)).trim().split("\n").slice(-5).join("\n")}`,
      );
  };
  try {
    cosignRun(false, ["save", ...flags, "--dir", dir, release.reference]);
    const saved = savedRelease(dir);
    if (saved.image !== digest) throw new Error(`cosign save wrote image ${saved.image}, the release is ${digest}`);
    const tagged = `${release.repository}:${release.tag}`;
    cosignRun(true, ["load", ...flags, "--dir", dir, tagged]);
    const name = release.repository.slice(host.length + 1);
    const served = {
      image: nsManifestDigest(cluster, host, name, digest),
      tag: nsManifestDigest(cluster, host, name, release.tag),
      signature: nsManifestDigest(cluster, host, name, cosignTag(digest, "sig")),
      attestation: nsManifestDigest(cluster, host, name, cosignTag(digest, "att")),
    };
    const expected = { image: digest, tag: digest, signature: saved.signature, attestation: saved.attestation };
    for (const k of Object.keys(expected) as Array<keyof typeof expected>) {
      if (served[k] !== expected[k])
        throw new Error(
          `after cosign load, the registry inside ${cluster.NETNS} serves ${k} ${served[k] ?? "nothing"} for ${release.reference}, expected ${expected[k]}`,
        );
    }
    const published: PublishedRelease = { reference: release.reference, tagged, ...saved };
    fs.writeFileSync(path.join(admissionDir(cluster), "release.json"), `${JSON.stringify(published, null, 2)}\n`);
    return published;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The release `publishRelease` copied last into the registry inside the namespace, or undefined. */
export function publishedRelease(cluster: ClusterEnv): PublishedRelease | undefined {
  const f = path.join(admissionDir(cluster), "release.json");
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, "utf8")) as PublishedRelease) : undefined;
}

// ------------------------------------------------------------------------------------------------ Kyverno

/** The CRD files of the Kyverno release (its Go module's config/crds/), from the Go module cache. */
export function kyvernoCrdFiles(version = kyvernoVersion()): string[] {
  // Outside any module (a fresh folder): `go mod download -json` says where the module is unpacked.
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-kyverno-crds-"));
  const r = spawnSync("go", ["mod", "download", "-json", `github.com/kyverno/kyverno@v${version}`], {
    encoding: "utf8",
    cwd,
    env: { ...process.env, GOFLAGS: "-mod=mod", GOWORK: "off", GOTOOLCHAIN: "local" },
    timeout: 600_000,
  });
  fs.rmSync(cwd, { recursive: true, force: true });
  const dir = r.status === 0 ? (JSON.parse(r.stdout) as { Dir?: string }).Dir : undefined;
  if (!dir) throw new Error(`go mod download github.com/kyverno/kyverno@v${version} failed: ${r.stderr}`);
  const root = path.join(dir, "config", "crds");
  const files = fs
    .readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => path.join(root, f));
  if (files.length === 0) throw new Error(`no CRDs under ${root}`);
  return files.sort();
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.slice(0, 2).join(" ")} failed: ${r.stderr}`);
}

/**
 * A CA and a serving certificate for `ip` (EC P-256, 30 days, like the cluster's own PKI), in
 * `<admission>/pki/`; kept across restarts while the files exist.
 */
export function webhookPki(cluster: ClusterEnv, ip: string): { caCrt: string; crt: string; key: string } {
  const dir = path.join(admissionDir(cluster), "pki");
  const files = {
    caCrt: path.join(dir, "ca.crt"),
    crt: path.join(dir, "webhook.crt"),
    key: path.join(dir, "webhook.key"),
  };
  if (
    Object.values(files).every((f) => fs.existsSync(f)) &&
    fs.readFileSync(path.join(dir, "webhook.ip"), "utf8").trim() === ip
  )
    return files;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "30",
      "-subj",
      "/CN=bizra-kyverno-webhook-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  fs.writeFileSync(
    path.join(dir, "webhook.ext"),
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${ip}\n`,
  );
  openssl(["req", "-new", ...ec, "-keyout", "webhook.key", "-out", "webhook.csr", "-subj", `/CN=${ip}`], dir);
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "webhook.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "webhook.crt",
      "-days",
      "30",
      "-sha256",
      "-extfile",
      "webhook.ext",
    ],
    dir,
  );
  for (const f of ["webhook.csr", "webhook.ext"]) fs.rmSync(path.join(dir, f));
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".key"))) fs.chmodSync(path.join(dir, f), 0o600);
  fs.writeFileSync(path.join(dir, "webhook.ip"), `${ip}\n`);
  return files;
}

const b64 = (file: string) => fs.readFileSync(file).toString("base64");

/** The webhook address the API server calls: `<node IP>:<port>` inside the namespace. */
export function webhookAddress(cluster: ClusterEnv): string {
  return `${cluster.NODE_IP}:${KYVERNO_WEBHOOK_PORT}`;
}

export interface StartedKyverno {
  readonly pid: number;
  readonly log: string;
  /** Seconds from the process start until its readiness endpoint answered 200. */
  readonly readySeconds: number;
  /** Seconds spent on CRDs, namespace and TLS secrets before the start. */
  readonly prepareSeconds: number;
}

/**
 * Kyverno's CRDs, its namespace and TLS secrets (CA from `webhookPki`), then the admission controller itself inside
 * the namespace; resolves when its readiness endpoint answers 200 over TLS verified against that CA.
 */
export async function startKyverno(cluster: ClusterEnv, binary: string): Promise<StartedKyverno> {
  const running = runningPid(cluster, "kyverno");
  if (running !== undefined)
    throw new Error(`Kyverno already runs for this cluster (pid ${running}); stop it first (npm run admission:down)`);
  const t0 = Date.now();
  const crdFiles = kyvernoCrdFiles();
  kubectl(
    cluster,
    ["apply", "--server-side", "--force-conflicts", "-o", "name", ...crdFiles.flatMap((f) => ["-f", f])],
    {
      timeoutMs: 300_000,
    },
  );
  // Polled: a `kubectl wait` right after the apply once failed on a freshly started cluster.
  await waitUntil("Kyverno's CRDs Established", 120_000, () => {
    const list = kubectlGet<{
      items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }>;
    }>(cluster, ["crd"]);
    const kyvernos = (list?.items ?? []).filter((c) => /kyverno\.io$|wgpolicyk8s\.io$/.test(c.metadata.name));
    const pending = kyvernos.filter(
      (c) => !c.status?.conditions?.some((k) => k.type === "Established" && k.status === "True"),
    );
    return kyvernos.length >= crdFiles.length && pending.length === 0 ? true : undefined;
  });
  const pki = webhookPki(cluster, cluster.NODE_IP);
  const objects = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: KYVERNO_NAMESPACE } },
    // The CA secret holds the certificate only (the form Kyverno documents for a CA it did not make).
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: KYVERNO_CA_SECRET, namespace: KYVERNO_NAMESPACE },
      type: "Opaque",
      data: { "rootCA.crt": b64(pki.caCrt) },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: KYVERNO_TLS_SECRET, namespace: KYVERNO_NAMESPACE },
      type: "kubernetes.io/tls",
      data: { "tls.crt": b64(pki.crt), "tls.key": b64(pki.key) },
    },
  ];
  kubectl(cluster, ["apply", "--server-side", "--force-conflicts", "-f", "-"], {
    input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
  });
  const prepareSeconds = (Date.now() - t0) / 1000;

  const home = path.join(admissionDir(cluster), "kyverno-home");
  fs.mkdirSync(home, { recursive: true });
  const env = {
    ...process.env,
    HOME: home,
    KYVERNO_NAMESPACE,
    KYVERNO_POD_NAME: "kyverno-admission-controller",
    KYVERNO_DEPLOYMENT: "kyverno-admission-controller",
    KYVERNO_SERVICEACCOUNT_NAME: "kyverno-admission-controller",
    KYVERNO_SVC: "kyverno-svc",
    // ConfigMaps of Kyverno's configuration (the chart's names); absent, Kyverno runs on its defaults.
    INIT_CONFIG: "kyverno",
    METRICS_CONFIG: "kyverno-metrics",
  };
  const t1 = Date.now();
  const pid = startInNs(
    cluster,
    "kyverno",
    binary,
    [
      `--kubeconfig=${cluster.KUBECONFIG}`,
      `--serverIP=${webhookAddress(cluster)}`,
      `--webhookServerPort=${KYVERNO_WEBHOOK_PORT}`,
      `--caSecretName=${KYVERNO_CA_SECRET}`,
      `--tlsSecretName=${KYVERNO_TLS_SECRET}`,
      "--disableCertManagerController=true",
      "--disableMetrics=true",
      "--controllerRuntimeMetricsAddress=0",
      "--admissionReports=true",
      "--loggingFormat=json",
      "--v=2",
    ],
    env,
  );
  const log = path.join(cluster.LOGS, "kyverno.log");
  await waitUntil(
    `Kyverno's readiness on https://${webhookAddress(cluster)}/health/readiness`,
    180_000,
    () =>
      nsCurl(cluster, ["--cacert", pki.caCrt, `https://${webhookAddress(cluster)}/health/readiness`]).stdout === "200"
        ? true
        : undefined,
    () =>
      runningPid(cluster, "kyverno") === undefined
        ? `the Kyverno admission controller exited:\n${tail(log)}`
        : undefined,
  );
  return { pid, log, readySeconds: (Date.now() - t1) / 1000, prepareSeconds };
}

/** The webhook configurations Kyverno registered: `kind/name url` per webhook. */
export function kyvernoWebhooks(
  cluster: ClusterEnv,
): Array<{ kind: string; name: string; webhook: string; url?: string; caBundle?: string; failurePolicy?: string }> {
  const out: Array<{
    kind: string;
    name: string;
    webhook: string;
    url?: string;
    caBundle?: string;
    failurePolicy?: string;
  }> = [];
  for (const kind of ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]) {
    const list = kubectlGet<{
      items: Array<{
        metadata: { name: string };
        webhooks?: Array<{ name: string; failurePolicy?: string; clientConfig: { url?: string; caBundle?: string } }>;
      }>;
    }>(cluster, [kind, "-l", KYVERNO_WEBHOOK_LABEL]);
    for (const item of list?.items ?? []) {
      for (const w of item.webhooks ?? [])
        out.push({
          kind,
          name: item.metadata.name,
          webhook: w.name,
          url: w.clientConfig.url,
          caBundle: w.clientConfig.caBundle,
          failurePolicy: w.failurePolicy,
        });
    }
  }
  return out;
}

/** Waits until Kyverno reports the ClusterPolicy ready for admission (its `Ready` condition). */
export async function waitPolicyReady(cluster: ClusterEnv, name: string, timeoutMs = 120_000): Promise<number> {
  const t0 = Date.now();
  await waitUntil(
    `ClusterPolicy ${name} Ready`,
    timeoutMs,
    () => {
      const p = kubectlGet<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(cluster, [
        "clusterpolicy",
        name,
      ]);
      return p?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
    },
    () =>
      runningPid(cluster, "kyverno") === undefined
        ? `the Kyverno admission controller exited:\n${tail(path.join(cluster.LOGS, "kyverno.log"))}`
        : undefined,
  );
  return (Date.now() - t0) / 1000;
}

/**
 * Stops the admission controller and removes the webhook configurations it registered (their failure policy would
 * otherwise refuse requests to a server that is gone). Returns whether a controller was running.
 */
export async function stopKyverno(cluster: ClusterEnv): Promise<boolean> {
  const stopped = await stopByPid(cluster, "kyverno");
  if (fs.existsSync(cluster.NETNS_FILE)) {
    kubectl(cluster, [
      "delete",
      "validatingwebhookconfigurations,mutatingwebhookconfigurations",
      "-l",
      KYVERNO_WEBHOOK_LABEL,
      "--ignore-not-found",
      "--wait=false",
    ]);
  }
  return stopped;
}
