/**
 * Kyverno's admission controller on the local cluster (scripts/lib/admission.ts, docs/cluster.md "Admission: Kyverno"):
 * the rendered ClusterPolicy `require-signed-images`, applied by `pulumi up` of testnet, acted on by the real
 * controller (Kyverno v1.19.1, `cmd/kyverno`) registered as the API server's webhooks, verifying cosign signatures
 * against the loopback registry inside the cluster's network namespace.
 *
 * The release, as a user runs it: `npm run release -- testnet` (in-process `release()`: node image built and pushed to
 * the release registry on the host's loopback, SBOMs, cosign sign + attest with the stack's key, evidence, signed
 * manifest; the stack file untouched, the bundle in a temporary folder), then what `npm run up:cluster -- testnet` does
 * with a stack that names it (`clusterImageChoice`, `deployedReleaseImage`): the bundle verified offline, the image
 * imported into containerd, and image, signature and SBOM attestation copied by digest into the registry inside the
 * namespace (cosign save / cosign load), where Kyverno looks for them. Both `up`s below deploy exactly that digest.
 *
 * Images (all in the registry inside the namespace, except nginx):
 *   signed          the release: its image at its digest, signed by the stack's key (.cosign-key/, `cosignPublicKey: local`)
 *   node-signed     the node image built here, pushed and signed by `npm run admission:up` (no release named)
 *   tampered        the release converted to a Docker v2s2 manifest (another digest) carrying the release's signature
 *   unsigned        the node image converted to a Docker v2s2 manifest (another digest), never signed
 *   other-key       the pause image, signed by a key generated for the test
 *   tag-only        the signed image referenced by its tag
 *   other-registry  docker.io/library/nginx:1.27
 * Audit (testnet as committed): the node pods are admitted and run the signed digest; the four others are admitted
 * and reported (PolicyViolation events naming the rule). Enforce (`bizra:kyverno.mode` override, second up): the
 * signed digest is admitted (a bare pod and a replaced node pod run it); the four are refused with Kyverno's message.
 *
 * The cluster is started and stopped here unless one of this checkout already runs (then it is used, the stack
 * destroyed and Kyverno and the registry stopped afterwards). BIZRA_CLUSTER_NETNS / BIZRA_CLUSTER_DIR select another
 * namespace and state folder (scripts/cluster.sh reads them). Skipped, with the reason, when a tool is not built;
 * BIZRA_REQUIRE_ENGINE=1 (.ci/run) turns that into a failure. Prints what it measured.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import { SIGNED_IMAGES_POLICY } from "../components/admission";
import type { ClusterPolicy } from "../components/crds/kyverno";
import { hardenedContainerSecurity, hardenedPod } from "../components/pod-security";
import {
  cosignBinary,
  cosignSign,
  cosignTag,
  kyvernoBinaries,
  kyvernoWebhooks,
  PAUSE_IMAGE_ARCHIVE,
  NODE_IMAGE_ARCHIVE,
  publishSignedNodeImage,
  pushArchive,
  stackRegistry,
  startKyverno,
  startRegistry,
  stopKyverno,
  stopRegistry,
  waitPolicyReady,
  webhookAddress,
  webhookPki,
} from "../scripts/lib/admission";
import {
  clusterEnv,
  clusterImageChoice,
  clusterRunning,
  clusterStackSettings,
  CLUSTER_SCRIPT,
  inClusterNs,
  kubectl,
  kubectlGet,
  type ClusterEnv,
} from "../scripts/lib/cluster";
import { deployedReleaseImage, ensureNodeImage, prepareCluster } from "../scripts/engine-cluster";
import {
  engineEnv,
  ensurePackDeps,
  evidenceProblems,
  policyPackArgs,
  pulumi,
  toolchainBuilt,
  toolchainEnv,
  writeStackConfigFile,
  type PulumiRun,
} from "../scripts/lib/engine";
import { readStackFile, REPO_ROOT } from "../scripts/lib/stack-config";
import { ensureLocalCosignKey, generateCosignKeyPair } from "../scripts/release/cosign-key";
import type { ReleaseManifest } from "../scripts/release/manifest";
import { ensureLoopbackRegistry, stopLoopbackRegistry } from "../scripts/release/registry";
import { release } from "../scripts/release/run";

/** The Kubernetes provider's object types, as live objects read back from the cluster. */
import K8s = k8s.types.output;
/** A `<Kind>List` answer of kubectl get. */
type List<T> = { items: T[] };

const STACK = "testnet";
const AWAIT_TIMEOUT_S = 600;
type Case = "signed" | "node-signed" | "tampered" | "unsigned" | "other-key" | "tag-only" | "other-registry";
const REFUSED = ["tampered", "unsigned", "other-key", "tag-only", "other-registry"] as const;
/** What Kyverno says for each refused case: the rule, and its message (Kyverno's wording, v1.19.1). */
const EXPECTED: Record<(typeof REFUSED)[number], { rule: string; message: RegExp }> = {
  tampered: { rule: "verify-cosign-signature", message: /no matching signatures: invalid or missing digest in claim/ },
  unsigned: { rule: "verify-cosign-signature", message: /no signatures found|no matching signatures/ },
  "other-key": { rule: "verify-cosign-signature", message: /no matching signatures|invalid signature/ },
  "tag-only": { rule: "verify-cosign-signature", message: /missing digest/ },
  "other-registry": { rule: "allowed-registries", message: /images must come from/ },
};

const log = (s: string): void => console.error(`      [cluster-admission] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secondsSince = (t0: number) => ((Date.now() - t0) / 1000).toFixed(1);

function missingTools(): string | undefined {
  const k8s = spawnSync("bash", [path.join(REPO_ROOT, "toolchain", "kubernetes.sh"), "paths"], { encoding: "utf8" });
  if (k8s.status !== 0)
    return `Kubernetes components not built (run bash toolchain/kubernetes.sh): ${k8s.stdout.trim().replace(/\n/g, ", ")}`;
  if (!toolchainBuilt()) return "Pulumi engine toolchain not built (run bash toolchain/pulumi.sh)";
  const kyverno = kyvernoBinaries();
  if ("missing" in kyverno) return kyverno.missing;
  const cosign = cosignBinary();
  if ("missing" in cosign) return cosign.missing;
  for (const cmd of [
    "containerd",
    "runc",
    "ctr",
    "buildah",
    "skopeo",
    "mmdebstrap",
    "docker-registry",
    "openssl",
    "go",
  ]) {
    if (spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status !== 0)
      return `${cmd} is not installed (scripts/setup.sh installs it)`;
  }
  return undefined;
}

function failureLines(out: string): string {
  const lines = out.split("\n");
  const hits = lines.flatMap((l, i) =>
    /error|violat|mandatory|failed|timed out|denied/i.test(l) ? lines.slice(i, i + 6) : [],
  );
  return (hits.length ? hits.join("\n") : lines.slice(-60).join("\n")).slice(-8000);
}

describe("cluster admission: Kyverno's admission controller acts on require-signed-images (testnet, Audit and Enforce)", function () {
  this.timeout(30 * 60_000);
  let cluster: ClusterEnv;
  let startedHere = false;
  let kyvernoStarted = false;
  let registryStarted = false;
  let deployed = false;
  let env: NodeJS.ProcessEnv;
  let tmp: string;
  let configFile: string;
  let namespace: string;
  let appName: string;
  let releaseFile: string;
  let releaseManifest: ReleaseManifest;
  let releasesDir: string;
  let hostRegistryRoot: string | undefined;
  const images = {} as Record<Case, string>;
  const measured: string[] = [];
  /** A live object or list, read as the given type; fails naming the query when absent. */
  const live = <T>(args: string[]): T =>
    kubectlGet<T>(cluster, args) ?? assert.fail(`kubectl get ${args.join(" ")}: not found`);
  /** The failure actions of the live ClusterPolicy's rules (validate and verifyImages). */
  const failureActions = (): string[] => {
    const policy = live<ClusterPolicy>(["clusterpolicy", SIGNED_IMAGES_POLICY]);
    return [
      ...new Set(
        policy.spec.rules
          .flatMap((r) => [r.validate?.failureAction, ...(r.verifyImages ?? []).map((v) => v.failureAction)])
          .filter((a) => a !== undefined),
      ),
    ];
  };

  const writeConfig = (mode: "Audit" | "Enforce"): void => {
    writeStackConfigFile(
      STACK,
      {
        ...clusterStackSettings(cluster, images.signed, STACK),
        "bizra:awaitTimeoutSeconds": AWAIT_TIMEOUT_S,
        "bizra:kyverno": { ...(readStackFile(STACK)["bizra:kyverno"] as Record<string, unknown>), mode },
      },
      configFile,
    );
  };
  const engine = (args: string[]): PulumiRun =>
    pulumi([...args, "--stack", STACK, "--config-file", configFile, "--non-interactive"], env, {
      capture: true,
      netns: cluster.NETNS_FILE,
      timeoutMs: 20 * 60_000,
    });
  const up = (): number => {
    const t0 = Date.now();
    deployed = true;
    const r = engine(["up", "--yes", "--skip-preview", ...policyPackArgs()]);
    assert.equal(
      r.status,
      0,
      `pulumi up failed (exit ${r.status}):\n${failureLines(r.output)}\n--- kyverno log:\n${kyvernoLogTail()}`,
    );
    return (Date.now() - t0) / 1000;
  };
  const kyvernoLogTail = () => {
    const f = path.join(cluster.LOGS, "kyverno.log");
    return fs.existsSync(f)
      ? fs
          .readFileSync(f, "utf8")
          .split("\n")
          .filter((l) => /error|fail/i.test(l))
          .slice(-20)
          .join("\n")
      : "(no kyverno log)";
  };

  /** A bare pod in the stack's namespace running `image` (hardened like the stack's pods: the namespace enforces the restricted Pod Security level). */
  const podManifest = (name: string, image: string) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { "bizra.test/admission": "true" } },
    spec: {
      ...hardenedPod("default"),
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: "probe",
          image,
          imagePullPolicy: "IfNotPresent",
          command: ["node", "-e", "setTimeout(() => {}, 3600e3)"],
          securityContext: hardenedContainerSecurity(),
          resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
        },
      ],
    },
  });
  /** `kubectl create` of a test pod: whether the API server admitted it, its message, the request's seconds. */
  const createPod = (c: Case, opts: { dryRun?: boolean } = {}) => {
    const t0 = Date.now();
    const r = inClusterNs(
      cluster,
      cluster.KUBECTL,
      ["create", "-o", "name", ...(opts.dryRun ? ["--dry-run=server"] : []), "-f", "-"],
      {
        input: JSON.stringify(podManifest(`admission-${c}`, images[c])),
        timeoutMs: 90_000,
      },
    );
    return { admitted: r.status === 0, message: `${r.stdout}${r.stderr}`.trim(), seconds: (Date.now() - t0) / 1000 };
  };
  const deleteTestPods = () =>
    kubectl(
      cluster,
      [
        "delete",
        "pods",
        "-n",
        namespace,
        "-l",
        "bizra.test/admission=true",
        "--grace-period=0",
        "--force",
        "--ignore-not-found",
        "--wait=true",
      ],
      { timeoutMs: 120_000 },
    );
  const policyViolations = (pod: string): string[] => {
    const ev = live<List<K8s.core.v1.Event>>([
      "events",
      "-n",
      namespace,
      "--field-selector",
      `involvedObject.name=${pod},reason=PolicyViolation`,
    ]);
    return ev.items.map((e) => e.message);
  };

  /** Deletes one node pod; the ReplicaSet's replacement goes through admission again. Returns it once Ready. */
  const replaceNodePod = async (): Promise<{
    name: string;
    seconds: number;
    annotations: Record<string, string>;
    image: string;
    imageID: string;
  }> => {
    const dep = live<K8s.apps.v1.Deployment>(["deployment", appName, "-n", namespace]);
    const selector = Object.entries(dep.spec.selector.matchLabels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const before = live<List<K8s.core.v1.Pod>>(["pods", "-n", namespace, "-l", selector]).items.map(
      (p) => p.metadata.name,
    );
    const t0 = Date.now();
    kubectl(cluster, [
      "delete",
      "pod",
      "-n",
      namespace,
      before[0] ?? assert.fail(`no node pod matches ${selector}`),
      "--wait=false",
    ]);
    for (;;) {
      const pods = live<List<K8s.core.v1.Pod>>(["pods", "-n", namespace, "-l", selector]).items;
      const fresh = pods.find((p) => !before.includes(p.metadata.name));
      if (fresh?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) {
        return {
          name: fresh.metadata.name,
          seconds: (Date.now() - t0) / 1000,
          annotations: fresh.metadata.annotations ?? {},
          image: fresh.spec.containers[0]?.image ?? "",
          imageID: fresh.status.containerStatuses?.[0]?.imageID ?? "",
        };
      }
      assert.ok(
        Date.now() - t0 < 300_000,
        `the replacement node pod is not Ready after 300 s: ${JSON.stringify(fresh?.status ?? "not created")}`,
      );
      await sleep(1000);
    }
  };

  /**
   * The release converted to a Docker v2s2 manifest (same layers, another digest) under `:tampered`, with the
   * release's signature manifest put under the tag cosign looks up for the new digest: a modified image that carries
   * a genuine signature of the stack's key (over the release's digest).
   */
  const tamperedRelease = (host: string, repository: string, releaseRef: string): string => {
    const digestFile = path.join(tmp, "tampered.digest");
    const c = inClusterNs(
      cluster,
      "skopeo",
      [
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        "--digestfile",
        digestFile,
        `docker://${releaseRef}`,
        `docker://${repository}:tampered`,
      ],
      { timeoutMs: 300_000 },
    );
    assert.equal(c.status, 0, `skopeo copy of the release to :tampered: ${c.stderr}`);
    const digest = fs.readFileSync(digestFile, "utf8").trim();
    const manifests = `http://${host}/v2/${repository.slice(host.length + 1)}/manifests`;
    const oci = "application/vnd.oci.image.manifest.v1+json";
    const sig = inClusterNs(cluster, "curl", [
      "-sf",
      "-H",
      `Accept: ${oci}`,
      `${manifests}/${cosignTag(releaseRef.split("@")[1]!, "sig")}`,
    ]);
    assert.equal(sig.status, 0, `the release's signature manifest: ${sig.stderr}`);
    const put = inClusterNs(
      cluster,
      "curl",
      [
        "-sf",
        "-X",
        "PUT",
        "-H",
        `Content-Type: ${oci}`,
        "--data-binary",
        "@-",
        `${manifests}/${cosignTag(digest, "sig")}`,
      ],
      { input: sig.stdout },
    );
    assert.equal(put.status, 0, `PUT of the signature under the tampered digest: ${put.stderr}`);
    return `${repository}@${digest}`;
  };

  before(async function () {
    const missing = missingTools();
    if (missing) {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1")
        throw new Error(`BIZRA_REQUIRE_ENGINE=1 (set by .ci/run) but ${missing}`);
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
    const t0 = Date.now();
    if (clusterRunning()) {
      log("a cluster of this checkout already runs: using it (and leaving it running)");
    } else {
      const upc = spawnSync("bash", [CLUSTER_SCRIPT, "up"], {
        stdio: ["ignore", "ignore", "inherit"],
        timeout: 15 * 60_000,
      });
      assert.equal(upc.status, 0, "scripts/cluster.sh up failed (see its messages above)");
      startedHere = true;
      measured.push(`cluster up: ${secondsSince(t0)} s`);
    }
    cluster = clusterEnv();
    ensureNodeImage(cluster, log);
    const file = readStackFile(STACK);
    namespace = String(file["bizra:namespace"]);
    appName = String(file["bizra:appName"]);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-cluster-admission-"));

    // Registry inside the namespace, the signed node image and the refusal cases.
    const cosign = (cosignBinary() as { cosign: string }).cosign;
    const { host, repository } = stackRegistry(STACK);
    const t1 = Date.now();
    await startRegistry(cluster, host);
    registryStarted = true;
    images["node-signed"] = publishSignedNodeImage(cluster, STACK, cosign).reference;
    images.unsigned = pushArchive(cluster, NODE_IMAGE_ARCHIVE, `${repository}:unsigned`, { format: "v2s2" });
    images["other-key"] = pushArchive(cluster, PAUSE_IMAGE_ARCHIVE, `${repository}:other-key`);
    const other = generateCosignKeyPair("");
    fs.writeFileSync(path.join(tmp, "other.key"), other.privatePem, { mode: 0o600 });
    cosignSign(cluster, cosign, { key: path.join(tmp, "other.key"), password: "" }, images["other-key"]);
    images["other-registry"] = "docker.io/library/nginx:1.27";
    assert.notEqual(
      images.unsigned.split("@")[1],
      images["node-signed"].split("@")[1],
      "the unsigned image must have a digest of its own",
    );
    measured.push(
      `registry ${host} inside ${cluster.NETNS}, node image pushed and signed, unsigned/other-key pushed: ${secondsSince(t1)} s`,
    );
    // Kyverno's admission controller.
    const started = await startKyverno(
      cluster,
      (kyvernoBinaries() as { admissionController: string }).admissionController,
    );
    kyvernoStarted = true;
    measured.push(
      `Kyverno admission controller: CRDs, namespace, TLS secrets ${started.prepareSeconds.toFixed(1)} s; process start to readiness ${started.readySeconds.toFixed(1)} s`,
    );

    ensurePackDeps(log);
    if (evidenceProblems().length > 0) {
      const t2 = Date.now();
      const r = spawnSync("npm", ["run", "evidence"], {
        cwd: REPO_ROOT,
        stdio: ["ignore", "ignore", "inherit"],
        timeout: 15 * 60_000,
      });
      assert.equal(r.status, 0, "npm run evidence failed");
      measured.push(
        `evidence for this commit (npm run evidence; once per commit, shared with the other engine tests): ${secondsSince(t2)} s`,
      );
    }

    // The release (npm run release -- testnet) to the release registry on the host's loopback: one started here on
    // a temporary storage unless one answers there already (then the release goes to it, as `npm run release` does).
    const t3 = Date.now();
    const hostRegistry = await ensureLoopbackRegistry(host, path.join(tmp, "host-registry"));
    if (hostRegistry.pid !== undefined) hostRegistryRoot = path.join(tmp, "host-registry");
    releasesDir = path.join(tmp, "releases");
    const released = await release({ stack: STACK, allowDirty: true, configSet: false, releasesDir, log });
    releaseFile = released.file;
    releaseManifest = released.manifest;
    measured.push(
      `npm run release -- ${STACK} (image build and push, SBOMs, sign, attest, render, manifest, verify): ${secondsSince(t3)} s`,
    );

    // What up:cluster does with a stack that names the release: the bundle verified, the image imported, and image,
    // signature and attestation copied into the registry inside the namespace.
    const t4 = Date.now();
    const choice = clusterImageChoice(STACK, { reference: releaseManifest.image.reference, releasesDir });
    assert.equal(choice.source, "release", JSON.stringify(choice));
    if (choice.source !== "release") return;
    images.signed = await deployedReleaseImage(cluster, STACK, choice, log);
    images["tag-only"] = `${choice.repository}:${choice.tag}`;
    measured.push(
      `release into the cluster (bundle check, containerd import, cosign save + load of image, signature, attestation): ${secondsSince(t4)} s`,
    );
    images.tampered = tamperedRelease(host, repository, images.signed);
    assert.notEqual(
      images.tampered.split("@")[1],
      images.signed.split("@")[1],
      "the tampered image must have a digest of its own",
    );
    for (const c of Object.keys(images) as Case[]) log(`${c}: ${images[c]}`);
    prepareCluster(cluster, STACK);
    configFile = path.join(tmp, `Pulumi.${STACK}.yaml`);
    env = engineEnv(toolchainEnv(), path.join(tmp, "backend"));
    const select = pulumi(
      ["stack", "select", "--create", STACK, "--secrets-provider", "passphrase", "--non-interactive"],
      env,
      { capture: true },
    );
    assert.equal(select.status, 0, select.output);
  });

  after(async function () {
    if (!cluster) return;
    try {
      if (deployed && !startedHere) {
        deleteTestPods();
        const d = engine(["destroy", "--yes", "--skip-preview"]);
        if (d.status !== 0) log(`cleanup destroy failed:\n${failureLines(d.output)}`);
      }
    } finally {
      if (kyvernoStarted) await stopKyverno(cluster);
      if (registryStarted) await stopRegistry(cluster);
      if (hostRegistryRoot) stopLoopbackRegistry(stackRegistry(STACK).host, hostRegistryRoot);
      if (startedHere) {
        const t0 = Date.now();
        const down = spawnSync("bash", [CLUSTER_SCRIPT, "down"], {
          stdio: ["ignore", "ignore", "inherit"],
          timeout: 5 * 60_000,
        });
        assert.equal(down.status, 0, "scripts/cluster.sh down failed");
        const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
        assert.doesNotMatch(
          netns,
          new RegExp(`^${cluster.NETNS}\\b`, "m"),
          `network namespace ${cluster.NETNS} left behind`,
        );
        measured.push(`cluster down: ${secondsSince(t0)} s; no namespace ${cluster.NETNS} left`);
      }
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      if (measured.length) console.log(`    measured:\n${measured.map((m) => `      ${m}`).join("\n")}`);
    }
  });

  it("the release verifies (npm run release:verify) and up:cluster refuses a bundle whose manifest was edited", function () {
    const r = spawnSync("npm", ["run", "--silent", "release:verify", "--", releaseFile], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(r.stdout.startsWith(`release:verify OK: ${releaseManifest.image.reference}`), r.stdout);
    const edited = path.join(tmp, "edited", STACK, "bundle");
    fs.cpSync(path.dirname(releaseFile), edited, { recursive: true });
    const m = JSON.parse(fs.readFileSync(path.join(edited, "release.json"), "utf8")) as ReleaseManifest;
    fs.writeFileSync(path.join(edited, "release.json"), JSON.stringify({ ...m, commit: "0".repeat(40) }, null, 2));
    assert.throws(
      () =>
        clusterImageChoice(STACK, {
          reference: releaseManifest.image.reference,
          releasesDir: path.join(tmp, "edited"),
        }),
      /no release bundle .* names that digest and verifies[\s\S]*\[bad-signature\]/,
    );
  });

  it("Audit (testnet as committed): up through the webhooks; the node pods run the released digest, verified by Kyverno", async function () {
    writeConfig("Audit");
    const seconds = up();
    assert.deepEqual(failureActions(), ["Audit"], "testnet's ClusterPolicy is in Audit");
    // The key Kyverno verifies with is the public half of the stack's generated key pair (`cosignPublicKey: local`).
    const keys = live<ClusterPolicy>(["clusterpolicy", SIGNED_IMAGES_POLICY]).spec.rules.flatMap((r) =>
      (r.verifyImages ?? []).flatMap((v) => v.attestors.flatMap((a) => a.entries.map((e) => e.keys.publicKeys.trim()))),
    );
    assert.deepEqual(keys, [ensureLocalCosignKey().publicKeyPem.trim()], "the policy's key is .cosign-key/cosign.pub");
    const readyS = await waitPolicyReady(cluster, SIGNED_IMAGES_POLICY);

    // The webhooks point at the controller's address inside the namespace, trusted through the CA generated here.
    const hooks = kyvernoWebhooks(cluster);
    const ca = fs.readFileSync(webhookPki(cluster, cluster.NODE_IP).caCrt).toString("base64");
    const resource = hooks.filter((h) => /resource/.test(h.name));
    assert.ok(resource.length > 0, `no resource webhooks registered: ${JSON.stringify(hooks.map((h) => h.name))}`);
    for (const h of hooks) {
      assert.ok(h.url?.startsWith(`https://${webhookAddress(cluster)}/`), `${h.name}/${h.webhook}: url ${h.url}`);
      assert.equal(h.caBundle, ca, `${h.name}/${h.webhook}: caBundle is not the generated CA`);
    }

    // A node pod replaced now is admitted through the policy (up may have created the first ones before Kyverno registered it).
    const fresh = await replaceNodePod();
    assert.equal(fresh.image, images.signed, "the node pod runs exactly the signed digest");
    assert.ok(fresh.imageID.endsWith(images.signed.split("@")[1] ?? "-"), `the kubelet ran ${fresh.imageID}`);
    const verified = JSON.parse(fresh.annotations["kyverno.io/verify-images"] ?? "{}") as Record<string, string>;
    assert.equal(
      verified[images.signed],
      "pass",
      `Kyverno's verify-images annotation on ${fresh.name}: ${JSON.stringify(fresh.annotations)}`,
    );
    measured.push(
      `up (Audit): ${seconds.toFixed(1)} s; ClusterPolicy Ready ${readyS.toFixed(1)} s after; ${hooks.length} webhooks at https://${webhookAddress(cluster)}/...; ` +
        `a replaced node pod Ready in ${fresh.seconds.toFixed(1)} s, annotated verify-images pass`,
    );
  });

  it("Audit: tampered, unsigned, other key, tag-only and another registry are admitted and reported (PolicyViolation events)", async function () {
    const timings: string[] = [];
    for (const c of REFUSED) {
      const r = createPod(c);
      assert.ok(r.admitted, `${c}: refused in Audit: ${r.message}`);
      timings.push(`${c} ${r.seconds.toFixed(1)} s`);
    }
    const signed = createPod("signed");
    assert.ok(signed.admitted, `signed: ${signed.message}`);
    const t0 = Date.now();
    const reported: Record<string, string[]> = {};
    for (const c of REFUSED) {
      for (;;) {
        const msgs = policyViolations(`admission-${c}`).filter((m) =>
          m.includes(`${SIGNED_IMAGES_POLICY}/${EXPECTED[c].rule}`),
        );
        if (msgs.some((m) => EXPECTED[c].message.test(m))) {
          reported[c] = msgs;
          break;
        }
        assert.ok(
          Date.now() - t0 < 90_000,
          `${c}: no PolicyViolation event for rule ${EXPECTED[c].rule} matching ${EXPECTED[c].message} after 90 s; events: ${JSON.stringify(policyViolations(`admission-${c}`))}`,
        );
        await sleep(1000);
      }
    }
    assert.deepEqual(policyViolations("admission-signed"), [], "the signed digest has no violation");
    for (const c of REFUSED) log(`audit ${c}: ${reported[c]![0]}`);
    measured.push(
      `Audit: ${REFUSED.length} pods admitted (create: ${timings.join(", ")}); their PolicyViolation events within ${secondsSince(t0)} s`,
    );
    deleteTestPods();
  });

  it("Enforce (bizra:kyverno.mode override): the release and the signed node image are admitted; tampered, unsigned, other key, tag-only and another registry are refused", async function () {
    writeConfig("Enforce");
    const seconds = up();
    assert.deepEqual(failureActions(), ["Enforce"], "the override put the ClusterPolicy in Enforce");
    // Kyverno's policy cache follows the informer: wait (bounded) until a dry-run of a refused case is refused.
    const t0 = Date.now();
    while (createPod("tag-only", { dryRun: true }).admitted) {
      assert.ok(
        Date.now() - t0 < 60_000,
        "Kyverno still admits the tag-only pod 60 s after the Enforce policy was applied",
      );
      await sleep(1000);
    }
    const switchS = (Date.now() - t0) / 1000;

    const timings: string[] = [];
    for (const c of REFUSED) {
      const r = createPod(c);
      assert.ok(!r.admitted, `${c}: admitted in Enforce`);
      assert.match(
        r.message,
        /admission webhook "[^"]*kyverno[^"]*" denied the request/,
        `${c}: not refused by Kyverno: ${r.message}`,
      );
      assert.ok(
        r.message.includes(SIGNED_IMAGES_POLICY) && r.message.includes(EXPECTED[c].rule),
        `${c}: the message does not name ${SIGNED_IMAGES_POLICY}/${EXPECTED[c].rule}: ${r.message}`,
      );
      assert.match(r.message, EXPECTED[c].message, `${c}: ${r.message}`);
      log(`enforce ${c}: ${r.message.replace(/\s+/g, " ")}`);
      timings.push(`${c} refused in ${r.seconds.toFixed(1)} s`);
    }
    const signed = createPod("signed");
    assert.ok(signed.admitted, `signed: refused in Enforce: ${signed.message}`);
    timings.push(`signed (the release) admitted in ${signed.seconds.toFixed(1)} s`);
    const nodeSigned = createPod("node-signed");
    assert.ok(nodeSigned.admitted, `node-signed: refused in Enforce: ${nodeSigned.message}`);
    timings.push(`node-signed admitted in ${nodeSigned.seconds.toFixed(1)} s`);
    const fresh = await replaceNodePod();
    assert.equal(fresh.image, images.signed);
    assert.equal(
      (JSON.parse(fresh.annotations["kyverno.io/verify-images"] ?? "{}") as Record<string, string>)[images.signed],
      "pass",
    );
    measured.push(
      `up (Enforce): ${seconds.toFixed(1)} s; enforced ${switchS.toFixed(1)} s after; ${timings.join(", ")}; a replaced node pod Ready in ${fresh.seconds.toFixed(1)} s`,
    );
    deleteTestPods();
  });
});
