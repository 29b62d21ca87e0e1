/**
 * Cluster DNS on the single-node cluster (scripts/cluster.sh, docs/cluster.md "Cluster DNS"): CoreDNS, started by
 * `cluster.sh up` as a component in the cluster's network namespace, answers the pods' resolver.
 *
 * Pods of the node image (the one scripts/images.sh built; it has node) resolve with the system resolver
 * (`dns.lookup`, getaddrinfo, the pod's /etc/resolv.conf written by the kubelet):
 *   - `<svc>.<ns>.svc.cluster.local` and `<svc>.<ns>` from another namespace, `<svc>` from the Service's own namespace:
 *     the Service's ClusterIP as the API server has it; an HTTP request by that name reaches the pod behind it;
 *   - a headless Service: its pod's address; `kubernetes.default`: the API Service's ClusterIP;
 *   - `<svc>` from another namespace and a name outside the cluster: ENOTFOUND (NXDOMAIN; nothing is forwarded);
 *   - a deleted Service stops resolving (CoreDNS watches the API);
 * and the kubelet reports no MissingClusterDNS event.
 *
 * The test starts its own cluster, in a network namespace and state folder of its own (BIZRA_CLUSTER_NETNS,
 * BIZRA_CLUSTER_DIR), so a cluster already running on the machine (netns bizra-cluster) is left alone; it stops it and
 * checks that no namespace, mount or process of it is left. Skipped (with the reason) only when the toolchains or the
 * node image are not built or the user is not root; BIZRA_REQUIRE_ENGINE=1 (.ci/run) turns that into a failure.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { clusterEnv, CLUSTER_SCRIPT, kubectl, kubectlGet, NODE_IMAGE_REF_FILE, inClusterNs, type ClusterEnv, type ClusterSelect } from "../scripts/lib/cluster";
import { REPO_ROOT } from "../scripts/lib/stack-config";

const log = (s: string): void => console.error(`      [cluster-dns] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** This checkout's own test cluster: a namespace name no other checkout uses, a git-ignored state folder. */
const SELECT: Required<ClusterSelect> = {
  BIZRA_CLUSTER_NETNS: `bizra-dnstest-${createHash("sha256").update(REPO_ROOT).digest("hex").slice(0, 8)}`,
  BIZRA_CLUSTER_DIR: path.join(REPO_ROOT, ".cluster-dns-test"),
};
const SERVER_NS = "dns-test-server";
const CLIENT_NS = "dns-test-client";
const SVC = "dns-echo";
const HEADLESS = "dns-echo-headless";
const SERVER_PORT = 8080;
/** A real name a forwarding resolver would answer: NXDOMAIN for it shows nothing leaves the cluster's DNS. */
const OUTSIDE_NAME = "registry.npmjs.org";

function clusterScript(args: string[], timeoutMs: number) {
  return spawnSync("bash", [CLUSTER_SCRIPT, ...args], { encoding: "utf8", env: { ...process.env, ...SELECT }, timeout: timeoutMs });
}

function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return "the cluster needs root (network namespaces, mounts, containerd)";
  const k8s = spawnSync("bash", [path.join(REPO_ROOT, "toolchain", "kubernetes.sh"), "paths"], { encoding: "utf8" });
  if (k8s.status !== 0) return `Kubernetes components or CoreDNS not built (run bash toolchain/kubernetes.sh): ${k8s.stdout.trim().replace(/\n/g, ", ")}`;
  for (const cmd of ["containerd", "runc", "ctr", "nsenter", "ip", "iptables"]) {
    if (spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status !== 0) return `${cmd} is not installed (scripts/setup.sh installs it)`;
  }
  if (!fs.existsSync(NODE_IMAGE_REF_FILE)) return `no node image (${path.relative(REPO_ROOT, NODE_IMAGE_REF_FILE)} missing; run bash scripts/images.sh all)`;
  return undefined;
}

/** The Node.js script a client pod runs: lookups of NAMES (JSON), then a GET of URL; one `RESULT {json}` line. */
const CLIENT_SCRIPT = `
const dns = require("node:dns").promises;
const fs = require("node:fs");
const http = require("node:http");
const names = JSON.parse(process.env.NAMES);
const gone = process.env.UNTIL_GONE || "";
const lookup = (n) => dns.lookup(n, { all: true, family: 4 }).then(
  (a) => ({ addresses: a.map((x) => x.address).sort() }), (e) => ({ code: e.code }));
(async () => {
  const out = { resolvConf: fs.readFileSync("/etc/resolv.conf", "utf8"), lookups: {} };
  // UNTIL_GONE: a name expected to stop resolving; asked once a second, at most 60 times, until it does.
  if (gone) for (let i = 0; i < 60; i++) { out.lookups[gone] = await lookup(gone); if (out.lookups[gone].code) break; await new Promise((r) => setTimeout(r, 1000)); }
  for (const n of names) out.lookups[n] = await lookup(n);
  if (process.env.URL) out.http = await new Promise((resolve) => {
    const req = http.get(process.env.URL, { timeout: 20000 }, (res) => {
      let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("timeout", () => req.destroy(new Error("no answer")));
    req.on("error", (e) => resolve({ error: e.code || e.message }));
  });
  console.log("RESULT " + JSON.stringify(out));
})();
`;

interface ClientResult {
  resolvConf: string;
  lookups: Record<string, { addresses?: string[]; code?: string }>;
  http?: { status?: number; body?: string; error?: string };
}

describe("cluster DNS: CoreDNS answers pods for Service names (own cluster, own network namespace)", function () {
  this.timeout(20 * 60_000);
  let cluster: ClusterEnv;
  let image: string;
  let started = false;
  let clients = 0;
  let failed = false;

  const apply = (obj: unknown): void => void kubectl(cluster, ["apply", "-f", "-"], { input: JSON.stringify(obj) });

  /** Runs a client pod in NS to completion and returns what it printed. */
  async function runClient(ns: string, env: Record<string, string>): Promise<ClientResult> {
    const name = `dns-client-${++clients}`;
    apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns },
      spec: {
        restartPolicy: "Never",
        containers: [{
          name: "client",
          image,
          imagePullPolicy: "IfNotPresent",
          command: ["node", "-e", CLIENT_SCRIPT],
          env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
        }],
      },
    });
    let phase = "";
    for (let i = 0; i < 180 && phase !== "Succeeded" && phase !== "Failed"; i++) {
      await sleep(1000);
      phase = String(kubectlGet<{ status?: { phase?: string } }>(cluster, ["pod", name, "-n", ns])?.status?.phase ?? "");
    }
    const logs = inClusterNs(cluster, cluster.KUBECTL, ["logs", "-n", ns, name]).stdout;
    assert.equal(phase, "Succeeded", `client pod ${ns}/${name} ended in phase '${phase}'; its log:\n${logs}\n${kubectl(cluster, ["describe", "pod", "-n", ns, name])}`);
    const line = logs.split("\n").find((l) => l.startsWith("RESULT "));
    assert.ok(line, `client pod ${ns}/${name} printed no RESULT line:\n${logs}`);
    return JSON.parse(line.slice("RESULT ".length)) as ClientResult;
  }

  before(async function () {
    const missing = missingPrerequisite();
    if (missing) {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") throw new Error(`BIZRA_REQUIRE_ENGINE=1 (set by .ci/run) but ${missing}`);
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
    if (fs.existsSync(`/run/netns/${SELECT.BIZRA_CLUSTER_NETNS}`)) {
      log(`namespace ${SELECT.BIZRA_CLUSTER_NETNS} left by an earlier run of this test: stopping that cluster first`);
      const down = clusterScript(["down"], 5 * 60_000);
      assert.equal(down.status, 0, `scripts/cluster.sh down failed:\n${down.stderr}`);
    }
    const t0 = Date.now();
    const up = clusterScript(["up"], 15 * 60_000);
    started = true;
    assert.equal(up.status, 0, `scripts/cluster.sh up (${SELECT.BIZRA_CLUSTER_NETNS}) failed:\n${up.stderr.slice(-6000)}`);
    log(`cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s (namespace ${SELECT.BIZRA_CLUSTER_NETNS})`);
    cluster = clusterEnv(SELECT);
    image = fs.readFileSync(NODE_IMAGE_REF_FILE, "utf8").trim();
    const images = inClusterNs(cluster, "ctr", ["-a", cluster["CTR_ADDRESS"]!, "-n", "k8s.io", "images", "ls", "-q"]).stdout.split("\n");
    assert.ok(images.includes(image), `${image} (node.ref) is not in the cluster's containerd; scripts/images.sh writes it with the archive cluster.sh imports (rerun bash scripts/images.sh all)`);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") failed = true;
  });

  after(function () {
    if (!started) return;
    if (failed && cluster) log(`CoreDNS log (tail):\n${fs.readFileSync(path.join(cluster.LOGS, "coredns.log"), "utf8").split("\n").slice(-40).join("\n")}`);
    // What the pods left outside the state folder: their network namespaces and CNI result cache entries.
    const containers = cluster ? spawnSync("ctr", ["-a", cluster["CTR_ADDRESS"]!, "-n", "k8s.io", "containers", "ls", "-q"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean) : [];
    const podNetns = (() => {
      try {
        const db = fs.readFileSync(path.join(SELECT.BIZRA_CLUSTER_DIR, "containerd", "root", "io.containerd.metadata.v1.bolt", "meta.db"), "latin1");
        return [...new Set(db.match(/cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? [])];
      } catch {
        return [];
      }
    })();
    const down = clusterScript(["down"], 5 * 60_000);
    assert.equal(down.status, 0, `scripts/cluster.sh down failed:\n${down.stderr}`);
    assert.deepEqual(podNetns.filter((n) => fs.existsSync(`/run/netns/${n}`)), [], "pod network namespaces left behind");
    const cniCache = fs.existsSync("/var/lib/cni/results") ? fs.readdirSync("/var/lib/cni/results") : [];
    assert.deepEqual(cniCache.filter((f) => containers.some((c) => f.includes(c))), [], "CNI result cache entries of the test's pods left behind");
    assert.doesNotMatch(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout, new RegExp(`^${SELECT.BIZRA_CLUSTER_NETNS}\\b`, "m"), "network namespace left behind");
    const mounts = fs.readFileSync("/proc/self/mounts", "utf8").split("\n").filter((l) => l.includes(SELECT.BIZRA_CLUSTER_DIR + "/"));
    assert.deepEqual(mounts, [], "mounts left behind under the cluster's state folder");
    const left = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes(SELECT.BIZRA_CLUSTER_DIR + "/");
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, [], `processes of the test cluster left behind: ${left.join(", ")}`);
    assert.equal(clusterScript(["status"], 60_000).status, 3, "cluster.sh status still reports the test cluster after down");
  });

  it("runs CoreDNS as a cluster component: status lists it, the kubelet hands its address to pods", function () {
    const status = clusterScript(["status"], 60_000);
    assert.equal(status.status, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /^coredns: running \(pid \d+\)$/m);
    assert.match(cluster["DNS_IP"] ?? "", /^\d+\.\d+\.\d+\.\d+$/, "cluster.sh env prints DNS_IP");
    const kubeletConfig = fs.readFileSync(path.join(cluster.STATE, "run", "kubelet.yaml"), "utf8");
    assert.match(kubeletConfig, new RegExp(`^clusterDNS: \\[${cluster["DNS_IP"]!.replace(/\./g, "\\.")}\\]$`, "m"));
  });

  it("resolves Service names for pods, serves HTTP by name, answers NXDOMAIN for everything else, follows deletions", async function () {
    const domain = cluster["CLUSTER_DOMAIN"]!;
    for (const ns of [SERVER_NS, CLIENT_NS]) apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    // Pods are admitted once the controller-manager has made the namespace's default ServiceAccount.
    for (const ns of [SERVER_NS, CLIENT_NS]) {
      for (let i = 0; i < 60 && !kubectlGet(cluster, ["serviceaccount", "default", "-n", ns]); i++) await sleep(1000);
    }
    const labels = { app: SVC };
    apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: SVC, namespace: SERVER_NS, labels },
      spec: {
        containers: [{
          name: "echo",
          image,
          imagePullPolicy: "IfNotPresent",
          command: ["node", "-e", `require("node:http").createServer((q, s) => s.end("echo:" + require("node:os").hostname())).listen(${SERVER_PORT})`],
          ports: [{ containerPort: SERVER_PORT }],
          readinessProbe: { httpGet: { path: "/", port: SERVER_PORT }, periodSeconds: 1 },
        }],
      },
    });
    apply({ apiVersion: "v1", kind: "Service", metadata: { name: SVC, namespace: SERVER_NS }, spec: { selector: labels, ports: [{ port: 80, targetPort: SERVER_PORT }] } });
    apply({ apiVersion: "v1", kind: "Service", metadata: { name: HEADLESS, namespace: SERVER_NS }, spec: { clusterIP: "None", selector: labels, ports: [{ port: SERVER_PORT }] } });
    kubectl(cluster, ["wait", "-n", SERVER_NS, "--for=condition=Ready", `pod/${SVC}`, "--timeout=180s"], { timeoutMs: 200_000 });

    const serviceIp = String(kubectlGet<{ spec: { clusterIP: string } }>(cluster, ["service", SVC, "-n", SERVER_NS])?.spec.clusterIP);
    const podIp = String(kubectlGet<{ status: { podIP: string } }>(cluster, ["pod", SVC, "-n", SERVER_NS])?.status.podIP);
    const apiIp = String(kubectlGet<{ spec: { clusterIP: string } }>(cluster, ["service", "kubernetes", "-n", "default"])?.spec.clusterIP);
    const fqdn = `${SVC}.${SERVER_NS}.svc.${domain}`;
    const nsQualified = `${SVC}.${SERVER_NS}`;
    const headless = `${HEADLESS}.${SERVER_NS}.svc.${domain}`;

    // From another namespace.
    const other = await runClient(CLIENT_NS, { NAMES: JSON.stringify([fqdn, nsQualified, headless, "kubernetes.default", SVC, OUTSIDE_NAME]), URL: `http://${fqdn}/` });
    assert.match(other.resolvConf, new RegExp(`^nameserver ${cluster["DNS_IP"]!.replace(/\./g, "\\.")}$`, "m"), other.resolvConf);
    assert.match(other.resolvConf, new RegExp(`^search ${CLIENT_NS}\\.svc\\.${domain} svc\\.${domain} ${domain}\\b`, "m"), other.resolvConf);
    assert.deepEqual(other.lookups[fqdn], { addresses: [serviceIp] }, `${fqdn}`);
    assert.deepEqual(other.lookups[nsQualified], { addresses: [serviceIp] }, `${nsQualified} (search list)`);
    assert.deepEqual(other.lookups[headless], { addresses: [podIp] }, `${headless} (headless: the pod's address)`);
    assert.deepEqual(other.lookups["kubernetes.default"], { addresses: [apiIp] }, "kubernetes.default");
    assert.deepEqual(other.lookups[SVC], { code: "ENOTFOUND" }, `${SVC} from namespace ${CLIENT_NS} must not resolve`);
    assert.deepEqual(other.lookups[OUTSIDE_NAME], { code: "ENOTFOUND" }, `${OUTSIDE_NAME}: NXDOMAIN, nothing forwarded`);
    assert.deepEqual(other.http, { status: 200, body: `echo:${SVC}` }, `GET http://${fqdn}/`);

    // From the Service's own namespace: the bare name.
    const own = await runClient(SERVER_NS, { NAMES: JSON.stringify([SVC]), URL: `http://${SVC}/` });
    assert.deepEqual(own.lookups[SVC], { addresses: [serviceIp] }, `${SVC} from its own namespace`);
    assert.deepEqual(own.http, { status: 200, body: `echo:${SVC}` }, `GET http://${SVC}/`);

    // A deleted Service stops resolving; the headless one still does.
    kubectl(cluster, ["delete", "service", SVC, "-n", SERVER_NS, "--wait=true"]);
    const after = await runClient(CLIENT_NS, { UNTIL_GONE: fqdn, NAMES: JSON.stringify([headless]) });
    assert.deepEqual(after.lookups[fqdn], { code: "ENOTFOUND" }, `${fqdn} after the Service was deleted`);
    assert.deepEqual(after.lookups[headless], { addresses: [podIp] }, `${headless} after the other Service was deleted`);

    type EventList = { items: { involvedObject?: { namespace?: string; name?: string }; message?: string }[] };
    const events = kubectlGet<EventList>(cluster, ["events", "-A", "--field-selector", "reason=MissingClusterDNS"]);
    assert.deepEqual((events?.items ?? []).map((e) => `${e.involvedObject?.namespace}/${e.involvedObject?.name}: ${e.message}`), [], "MissingClusterDNS events");
  });
});

describe("cluster DNS: toolchain input", function () {
  it("rejects a malformed COREDNS_VERSION, naming the variable and the allowed form", function () {
    const r = spawnSync("bash", [path.join(REPO_ROOT, "toolchain", "kubernetes.sh"), "paths"], { encoding: "utf8", env: { ...process.env, COREDNS_VERSION: "latest" } });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /bad COREDNS_VERSION 'latest' \(1\.MINOR\.PATCH\)/);
  });
});
