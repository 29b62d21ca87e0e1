/**
 * End to end on a single-node cluster built here (scripts/cluster.sh, docs/cluster.md): etcd, kube-apiserver,
 * controller-manager, scheduler, kube-proxy, kubelet, containerd + runc + the CNI bridge, inside a network namespace.
 *
 * For the testnet stack, with the real Kubernetes provider and both policy packs, the node image built by buildah
 * (scripts/images.sh, exactly its digest):
 *   1. `pulumi up` returns only when the real state is reached: node pods Ready through their probes, the Deployment
 *      available, the Service's endpoints populated, the validator Job complete, the hold gate running;
 *   2. a second `up` reports no changes;
 *   3. a config change (log level) rolls the pods out while a bounded client inside the namespace sends requests to
 *      the Service: zero failed requests;
 *   4. a broken release (an image whose readiness never passes) makes `up` fail within bounded time with the
 *      provider's await message; restoring the image recovers;
 *   5. `pulumi refresh` shows an out-of-band edit as drift;
 *   6. `destroy` leaves no object behind.
 * The cluster is started and stopped by the test (unless one already runs: then it is used and left running); after
 * the stop, no network namespace or mount of it remains. Prints what it measured.
 *
 * Skipped (with the reason) only when the toolchains are not built; .ci/run sets BIZRA_REQUIRE_ENGINE=1, which turns
 * that into a failure.
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  clusterEnv,
  clusterRunning,
  clusterStackSettings,
  CLUSTER_SCRIPT,
  kubectl,
  kubectlGet,
  type ClusterEnv,
} from "../scripts/lib/cluster";
import { ensureNodeImage, prepareCluster } from "../scripts/engine-cluster";
import { engineEnv, ensurePackDeps, evidenceProblems, policyPackArgs, pulumi, toolchainBuilt, toolchainEnv, writeStackConfigFile, type PulumiRun } from "../scripts/lib/engine";
import { readStackFile, REPO_ROOT } from "../scripts/lib/stack-config";
import * as k8s from "@pulumi/kubernetes";

/** The Kubernetes provider's object types, as live objects read back from the cluster. */
import K8s = k8s.types.output;
/** A `<Kind>List` answer of kubectl get. */
type List<T> = { items: T[] };

const STACK = "testnet";
/** The await bound of a normal up, and the shorter one of the broken release (bizra:awaitTimeoutSeconds). */
const AWAIT_TIMEOUT_S = 600;
const BROKEN_AWAIT_TIMEOUT_S = 60;
/** How long the rollout client may run at most (it stops when the up is over). */
const CLIENT_MAX_S = 900;

const log = (s: string): void => console.error(`      [cluster-e2e] ${s}`);

function missingToolchain(): string | undefined {
  const k8s = spawnSync("bash", [path.join(REPO_ROOT, "toolchain", "kubernetes.sh"), "paths"], { encoding: "utf8" });
  if (k8s.status !== 0) return `Kubernetes components not built (run bash toolchain/kubernetes.sh): ${k8s.stdout.trim().replace(/\n/g, ", ")}`;
  if (!toolchainBuilt()) return "Pulumi engine toolchain not built (run bash toolchain/pulumi.sh)";
  for (const cmd of ["containerd", "runc", "ctr", "buildah", "skopeo", "mmdebstrap", "docker-registry"]) {
    if (spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status !== 0) return `${cmd} is not installed (scripts/setup.sh installs it)`;
  }
  return undefined;
}

/** The lines of an engine run that say what went wrong, else its tail. */
function failureLines(out: string): string {
  const lines = out.split("\n");
  const hits = lines.flatMap((l, i) => (/error|violat|mandatory|failed|timed out/i.test(l) ? lines.slice(i, i + 6) : []));
  return (hits.length ? hits.join("\n") : lines.slice(-60).join("\n")).slice(-8000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("cluster e2e: testnet on a single-node cluster built here, real provider, both policy packs", function () {
  this.timeout(90 * 60_000);
  let cluster: ClusterEnv;
  let startedHere = false;
  let env: NodeJS.ProcessEnv;
  let tmp: string;
  let configFile: string;
  let image: string;
  let namespace: string;
  let appName: string;
  let deployed = false;
  const measured: string[] = [];
  /** A live object or list, read as the provider's output type of its kind; fails naming the query when absent. */
  const live = <T>(args: string[]): T => kubectlGet<T>(cluster, args) ?? assert.fail(`kubectl get ${args.join(" ")}: not found`);

  const writeConfig = (extra: Record<string, unknown> = {}): void => {
    writeStackConfigFile(STACK, { ...clusterStackSettings(cluster, image, STACK), "bizra:awaitTimeoutSeconds": AWAIT_TIMEOUT_S, ...extra }, configFile);
  };
  const engine = (args: string[], timeoutMs = 30 * 60_000): PulumiRun =>
    pulumi([...args, "--stack", STACK, "--config-file", configFile, "--non-interactive"], env, { capture: true, netns: cluster.NETNS_FILE, timeoutMs });
  const ok = (args: string[]): PulumiRun => {
    const r = engine(args);
    assert.equal(r.status, 0, `pulumi ${args.join(" ")} failed (exit ${r.status}):\n${failureLines(r.output)}`);
    return r;
  };

  before(async function () {
    const missing = missingToolchain();
    if (missing) {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") throw new Error(`BIZRA_REQUIRE_ENGINE=1 (set by .ci/run) but ${missing}`);
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
    const t0 = Date.now();
    if (clusterRunning()) {
      log("a cluster of this checkout already runs: using it (and leaving it running)");
    } else {
      const up = spawnSync("bash", [CLUSTER_SCRIPT, "up"], { stdio: ["ignore", "ignore", "inherit"], timeout: 15 * 60_000 });
      assert.equal(up.status, 0, "scripts/cluster.sh up failed (see its messages above)");
      startedHere = true;
      measured.push(`cluster up (etcd ... kubelet, node Ready): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    cluster = clusterEnv();
    const t1 = Date.now();
    image = ensureNodeImage(cluster, log);
    measured.push(`node image ${image} ready in the cluster: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    ensurePackDeps(log);
    if (evidenceProblems().length > 0) {
      const r = spawnSync("npm", ["run", "evidence"], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "inherit"], timeout: 15 * 60_000 });
      assert.equal(r.status, 0, "npm run evidence failed");
    }
    prepareCluster(cluster, STACK);
    const file = readStackFile(STACK);
    namespace = String(file["bizra:namespace"]);
    appName = String(file["bizra:appName"]);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-cluster-e2e-"));
    configFile = path.join(tmp, `Pulumi.${STACK}.yaml`);
    writeConfig();
    env = engineEnv(toolchainEnv(), path.join(tmp, "backend"));
    const select = pulumi(["stack", "select", "--create", STACK, "--secrets-provider", "passphrase", "--non-interactive"], env, { capture: true });
    assert.equal(select.status, 0, select.output);
  });

  after(async function () {
    if (deployed) {
      const d = engine(["destroy", "--yes", "--skip-preview"]);
      if (d.status !== 0) log(`cleanup destroy failed:\n${failureLines(d.output)}`);
    }
    if (startedHere) {
      const down = spawnSync("bash", [CLUSTER_SCRIPT, "down"], { stdio: ["ignore", "ignore", "inherit"], timeout: 5 * 60_000 });
      assert.equal(down.status, 0, "scripts/cluster.sh down failed");
      const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
      assert.doesNotMatch(netns, new RegExp(`^${cluster.NETNS}\\b`, "m"), `network namespace ${cluster.NETNS} left behind`);
      const mounts = fs.readFileSync("/proc/self/mounts", "utf8").split("\n").filter((l) => l.includes(cluster.STATE));
      assert.deepEqual(mounts, [], "mounts left behind under the cluster state folder");
      measured.push(`cluster down: no namespace ${cluster.NETNS}, no mount under ${cluster.STATE}`);
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    if (measured.length) console.log(`    measured:\n${measured.map((m) => `      ${m}`).join("\n")}`);
  });

  it("up waits for the real state: pods Ready, Deployment available, endpoints, validator Job complete, hold gate running", function () {
    const t0 = Date.now();
    deployed = true;
    const up = ok(["up", "--yes", "--skip-preview", ...policyPackArgs()]);
    const seconds = (Date.now() - t0) / 1000;
    for (const pack of ["bizra-quality-gates", "bizra-k8s-hardening"]) assert.ok(up.output.includes(pack), `policy pack ${pack} not in the output of pulumi up`);

    // Right after up returns: no polling, the provider has awaited all of this.
    const dep = live<K8s.apps.v1.Deployment>(["deployment", appName, "-n", namespace]);
    assert.equal(dep.status.availableReplicas, dep.spec.replicas, `Deployment available replicas: ${JSON.stringify(dep.status)}`);
    assert.equal(dep.status.updatedReplicas, dep.spec.replicas);
    const pods = live<List<K8s.core.v1.Pod>>(["pods", "-n", namespace, "-l", Object.entries(dep.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(",")]);
    const ready = pods.items.filter((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    assert.equal(ready.length, dep.spec.replicas, `Ready node pods: ${ready.length} of ${pods.items.length}`);
    for (const p of ready) assert.equal(p.spec.containers[0]?.image, image, "the pod runs exactly the built digest");
    const ep = live<K8s.core.v1.Endpoints>(["endpoints", appName, "-n", namespace]);
    const addresses = (ep.subsets ?? []).flatMap((s) => s.addresses ?? []);
    assert.equal(addresses.length, dep.spec.replicas, `Service endpoints: ${JSON.stringify(ep.subsets)}`);
    const jobs = live<List<K8s.batch.v1.Job>>(["jobs", "-n", namespace]);
    assert.ok(jobs.items.length >= 1, "no validator Job");
    for (const j of jobs.items) assert.equal(j.status.succeeded, 1, `Job ${j.metadata.name} not complete: ${JSON.stringify(j.status)}`);
    // The other Deployments: the signer and the hold gate.
    const others = live<List<K8s.apps.v1.Deployment>>(["deployments", "-n", namespace]).items.filter((d) => d.metadata.name !== appName);
    const names = others.map((d) => String(d.metadata.name));
    assert.ok(names.some((n) => n.endsWith("-hold-gate")), `no hold-gate Deployment among ${names.join(", ")}`);
    assert.ok(names.some((n) => n.endsWith("-signer")), `no signer Deployment among ${names.join(", ")}`);
    for (const g of others) assert.equal(g.status.availableReplicas, g.spec.replicas, `${g.metadata.name}: ${JSON.stringify(g.status)}`);
    measured.push(`up (first, both packs): ${seconds.toFixed(1)} s; ${ready.length} node pods Ready, ${addresses.length} endpoints, ${jobs.items.length} Job(s) complete, available: ${names.join(", ")}`);
  });

  it("a second up reports no changes", function () {
    const t0 = Date.now();
    const again = ok(["up", "--yes", "--skip-preview", "--expect-no-changes", ...policyPackArgs()]);
    assert.doesNotMatch(again.output, /^\s+[~+-]\s+kubernetes:/m, "the second up changed something");
    measured.push(`up (second, no changes): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it("a log-level change rolls out with zero failed requests to the Service", async function () {
    const svc = live<K8s.core.v1.Service>(["service", appName, "-n", namespace]);
    const port = svc.spec.ports.find((p) => p.name === "http" || p.port === Number(readStackFile(STACK)["bizra:apiPort"]))?.port ?? svc.spec.ports[0]?.port;
    const url = `http://${svc.spec.clusterIP}:${port}/v1/consensus/head`;
    const before = live<K8s.apps.v1.Deployment>(["deployment", appName, "-n", namespace]);
    const stopFile = path.join(tmp, "client.stop");
    const outFile = path.join(tmp, "client.json");
    const client = spawn(
      "nsenter",
      [`--net=${cluster.NETNS_FILE}`, "--", process.execPath, path.join(REPO_ROOT, "node_modules", "ts-node", "dist", "bin.js"), "--transpile-only",
        path.join(REPO_ROOT, "tests", "support", "rollout-client.ts"), url, stopFile, String(CLIENT_MAX_S), outFile],
      { stdio: "ignore" },
    );
    const exited = new Promise<number | null>((resolve) => client.on("exit", (code) => resolve(code)));
    await sleep(5000); // the client is sending before the rollout starts
    writeConfig({ "bizra:logLevel": "debug" });
    const t0 = Date.now();
    const up = engine(["up", "--yes", "--skip-preview", ...policyPackArgs()]);
    const seconds = (Date.now() - t0) / 1000;
    await sleep(3000);
    fs.writeFileSync(stopFile, "");
    const code = await exited;
    assert.equal(up.status, 0, `pulumi up failed:\n${failureLines(up.output)}`);
    assert.equal(code, 0, "the rollout client failed");
    const summary = JSON.parse(fs.readFileSync(outFile, "utf8")) as { total: number; ok: number; failed: number; failures: Record<string, number>; firstFailure?: string; seconds: number };
    const afterDep = live<K8s.apps.v1.Deployment>(["deployment", appName, "-n", namespace]);
    assert.ok(
      afterDep.metadata.generation > before.metadata.generation,
      `the Deployment's pod template did not change: generation ${before.metadata.generation} -> ${afterDep.metadata.generation}; client ${JSON.stringify(summary)}; up:\n${up.output.slice(-3000)}`,
    );
    assert.equal(afterDep.status.updatedReplicas, afterDep.spec.replicas);
    assert.ok(summary.total > 0, "the client sent no request");
    measured.push(
      `rollout (bizra:logLevel info -> debug): up ${seconds.toFixed(1)} s; client ${summary.total} requests to ${url} in ${summary.seconds.toFixed(1)} s, ` +
        `${summary.failed} failed${summary.failed ? ` ${JSON.stringify(summary.failures)} first ${summary.firstFailure}` : ""}`,
    );
    assert.equal(summary.failed, 0, `failed requests during the rollout: ${JSON.stringify(summary)}`);
  });

  it("a broken release (readiness never passes) fails up within the await bound, with the provider's message; the good image recovers", function () {
    // The pause image: it runs, listens on nothing, so the readiness probe never passes.
    const images = spawnSync("nsenter", [`--net=${cluster.NETNS_FILE}`, "--", "ctr", "-a", cluster["CTR_ADDRESS"]!, "-n", "k8s.io", "images", "ls", "-q"], { encoding: "utf8" }).stdout;
    const broken = images.split("\n").find((l) => /^docker\.io\/local\/pause@sha256:[0-9a-f]{64}$/.test(l));
    assert.ok(broken, "the pause image is not in the cluster's containerd");
    writeConfig({ "bizra:logLevel": "debug", "bizra:image": { reference: broken }, "bizra:awaitTimeoutSeconds": BROKEN_AWAIT_TIMEOUT_S });
    const t0 = Date.now();
    const up = engine(["up", "--yes", "--skip-preview", ...policyPackArgs()]);
    const seconds = (Date.now() - t0) / 1000;
    assert.notEqual(up.status, 0, "up of a release whose readiness never passes succeeded");
    const message = up.output.split("\n").filter((l) => /timed out|Minimum number of live Pods|unready|not attained/i.test(l)).map((l) => l.trim());
    assert.ok(message.length > 0, `no await message from the provider:\n${failureLines(up.output)}`);
    assert.ok(seconds < BROKEN_AWAIT_TIMEOUT_S * 5 + 300, `up took ${seconds} s with an await bound of ${BROKEN_AWAIT_TIMEOUT_S} s`);
    const dep = live<K8s.apps.v1.Deployment>(["deployment", appName, "-n", namespace]);
    assert.ok(dep.status.availableReplicas >= 1, "the old pods kept serving during the broken rollout (maxUnavailable 0)");
    measured.push(`broken release: up failed after ${seconds.toFixed(1)} s (bound ${BROKEN_AWAIT_TIMEOUT_S} s per awaited object): ${[...new Set(message)].slice(0, 3).join(" | ")}`);
    writeConfig({ "bizra:logLevel": "debug" });
    const t1 = Date.now();
    ok(["up", "--yes", "--skip-preview", ...policyPackArgs()]);
    measured.push(`recovery to the good image: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  });

  it("refresh shows an out-of-band edit as drift", function () {
    kubectl(cluster, ["scale", `deployment/${appName}`, "-n", namespace, "--replicas=3"]);
    const r = ok(["refresh", "--preview-only", "--diff"]);
    assert.match(r.output, /~ +kubernetes:apps\/v1:Deployment/, `refresh shows no change of the Deployment:\n${r.output.slice(-4000)}`);
    assert.match(r.output, /replicas\s*:\s*2\s*=>\s*3/, "the drift names the field");
    measured.push("refresh after `kubectl scale --replicas=3`: the Deployment shows replicas 2 => 3");
  });

  it("destroy leaves no object behind", async function () {
    const exported = pulumi(["stack", "export", "--stack", STACK], env, { capture: true });
    assert.equal(exported.status, 0, exported.output);
    const state = JSON.parse(exported.output.slice(exported.output.indexOf("{"))) as { deployment: { resources: { type: string; outputs?: { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } } }[] } };
    const objects = state.deployment.resources
      .flatMap((r) => {
        const o = r.outputs;
        const name = o?.metadata?.name;
        if (!r.type.startsWith("kubernetes:") || r.type.startsWith("pulumi:providers:") || !o || !name) return [];
        return [{ apiVersion: o.apiVersion, kind: o.kind, metadata: { name, namespace: o.metadata?.namespace } }];
      });
    assert.ok(objects.length >= 15, `the state holds ${objects.length} Kubernetes objects`);
    const t0 = Date.now();
    ok(["destroy", "--yes", "--skip-preview"]);
    deployed = false;
    const seconds = (Date.now() - t0) / 1000;
    const left = objects.filter((o) => kubectl(cluster, ["get", "--ignore-not-found", "-o", "name", "-f", "-"], { input: JSON.stringify(o) }).trim() !== "");
    assert.deepEqual(left.map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`), [], "destroy left objects behind");
    measured.push(`destroy: ${seconds.toFixed(1)} s; ${objects.length} objects gone (namespace ${namespace} included)`);
  });
});
