/**
 * One active signer across replicas, against the real kube-apiserver (tests/support/apiserver.ts): three node
 * processes elect a signer through one Lease and keep the high-water mark in it. Clients send conflicting sign
 * requests (two payloads per slot, in parallel, to every process) while the active signer is killed with SIGKILL.
 * Checked: no (epoch, slot) is ever signed for two payloads (zero equivocations), and signing resumes within the
 * lease duration plus one retry period. The measured resumption time is printed.
 *
 * Routing: the processes run with the signer's ServiceAccount token under the Role the program renders
 * (`signerRoleRules`), each as a Pod object of its own (no kubelet runs: the objects only carry labels). Checked: the
 * Lease holder, and only it, carries `SIGNER_ROLE_LABEL=active` (what the signer Service selects); a SIGKILLed holder
 * leaves its label behind until its process restarts in the same pod; a graceful stop removes it; the Role refuses
 * reading and deleting pods.
 *
 * Skipped (with the reason) only when the binaries are not built; `scripts/setup.sh` builds them.
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ENV, METRICS_PATH, ROUTES, SIGNER_ROLE_ACTIVE, SIGNER_ROLE_LABEL } from "@bizra/contract";
import { signerLeaseName, signerRoleRules } from "../components/signer";
import { startApiServer, type ApiServer } from "./support/apiserver";

const REPO_ROOT = path.resolve(__dirname, "..");
const SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUBLIC_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"; // RFC 8032 TEST 1
const LEASE_SECONDS = 3;
const NAMESPACE = "bizra-signer-test";
const APP = "node0";
const SIGNER_SA = `${APP}-signer`;
const PODS = ["signer-a", "signer-b", "signer-c"] as const;

interface NodeProc {
  readonly name: string;
  readonly child: ChildProcess;
  signerPort: number;
  metricsPort: number;
  log: string;
}

function missingBinaries(): string | undefined {
  const k8s = spawnSync("bash", [path.join(REPO_ROOT, "toolchain", "kubernetes.sh"), "paths"], { encoding: "utf8" });
  return k8s.status !== 0 ? `kube-apiserver/etcd not built (run bash toolchain/kubernetes.sh): ${k8s.stdout.trim().replace(/\n/g, ", ")}` : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("signer: one active signer through a Lease, against kube-apiserver", function () {
  this.timeout(240_000);
  let api: ApiServer | undefined;
  let dir: string;
  const procs: NodeProc[] = [];
  let signerToken: string;

  /** Names of the pods that carry the active role label: the endpoints the signer Service would have. */
  async function labelledPods(): Promise<string[]> {
    const selector = encodeURIComponent(`${SIGNER_ROLE_LABEL}=${SIGNER_ROLE_ACTIVE}`);
    const r = await kubeCall(api as ApiServer, "GET", `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${selector}`, undefined);
    assert.equal(r.status, 200, r.text);
    return (JSON.parse(r.text) as { items: { metadata: { name: string } }[] }).items.map((p) => p.metadata.name).sort();
  }

  /** Waits (bounded) until the labelled pods are exactly `want`; fails with what it saw last. */
  async function untilLabelled(want: string[], what: string, ms = 20_000): Promise<void> {
    const logs = () => procs.map((p) => `--- ${p.name} (exit ${p.child.exitCode ?? p.child.signalCode ?? "running"}):\n${p.log.split("\n").filter((l) => /signer|error/i.test(l)).slice(-15).join("\n")}`).join("\n");
    const deadline = Date.now() + ms;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = await labelledPods();
      if (JSON.stringify(seen) === JSON.stringify([...want].sort())) return;
      await sleep(100);
    }
    assert.fail(`${what}: labelled pods ${JSON.stringify(seen)}, expected ${JSON.stringify([...want].sort())}\n${logs()}`);
  }

  before(async function () {
    const missing = missingBinaries();
    if (missing) {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") throw new Error(`BIZRA_REQUIRE_ENGINE=1 (set by .ci/run) but ${missing}`);
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
    api = await startApiServer();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-signer-lease-"));
    fs.writeFileSync(path.join(dir, "signer-token"), "s".repeat(40));
    fs.writeFileSync(path.join(dir, "validators.json"), JSON.stringify([{ id: "node0", weight: 1, publicKey: PUBLIC_KEY }]));
    const ns = await kubeCall(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
    assert.ok(ns.status === 201 || ns.status === 409, `namespace: ${ns.status} ${ns.text}`);
    // the signer's identity and Role as the program renders them; the processes use this token, not the admin's
    const nsPath = `/api/v1/namespaces/${NAMESPACE}`;
    const meta = { name: SIGNER_SA, namespace: NAMESPACE };
    const created = [
      await kubeCall(api, "POST", `${nsPath}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: meta }),
      await kubeCall(api, "POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/roles`, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta, rules: signerRoleRules(APP) }),
      await kubeCall(api, "POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/rolebindings`, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: meta,
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: SIGNER_SA },
        subjects: [{ kind: "ServiceAccount", name: SIGNER_SA, namespace: NAMESPACE }],
      }),
      ...(await Promise.all(
        PODS.map((name) =>
          kubeCall(api as ApiServer, "POST", `${nsPath}/pods`, {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name, namespace: NAMESPACE, labels: { "app.kubernetes.io/name": `${APP}-signer` } },
            spec: { serviceAccountName: SIGNER_SA, automountServiceAccountToken: false, containers: [{ name: "signer", image: "registry.invalid/bizra/node:test" }] },
          }),
        ),
      )),
    ];
    for (const r of created) assert.equal(r.status, 201, r.text);
    const token = await kubeCall(api, "POST", `${nsPath}/serviceaccounts/${SIGNER_SA}/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } });
    assert.equal(token.status, 201, token.text);
    signerToken = (JSON.parse(token.text) as { status: { token: string } }).status.token;
    fs.writeFileSync(path.join(dir, "kube-token"), signerToken);
  });

  after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await sleep(100);
    await api?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function startProc(name: string): Promise<NodeProc> {
    const a = api as ApiServer;
    const child = spawn(process.execPath, ["-r", "ts-node/register", path.join(REPO_ROOT, "node-app", "src", "main.ts")], {
      cwd: path.join(REPO_ROOT, "node-app"),
      env: {
        ...process.env,
        TS_NODE_TRANSPILE_ONLY: "1",
        TS_NODE_PROJECT: path.join(REPO_ROOT, "node-app", "tsconfig.json"),
        [ENV.apiPort]: "0",
        [ENV.metricsPort]: "0",
        [ENV.signerPort]: "0",
        [ENV.host]: "127.0.0.1",
        [ENV.signingKey]: SEED,
        [ENV.validatorSetFile]: path.join(dir, "validators.json"),
        [ENV.signerTokenFile]: path.join(dir, "signer-token"),
        [ENV.signerLease]: signerLeaseName(APP),
        [ENV.signerLeaseNamespace]: NAMESPACE,
        [ENV.signerLeaseSeconds]: String(LEASE_SECONDS),
        [ENV.signerIdentity]: name,
        [ENV.signerPodName]: name,
        [ENV.kubeApiUrl]: a.server,
        [ENV.kubeCaFile]: a.caFile,
        [ENV.kubeTokenFile]: path.join(dir, "kube-token"),
        [ENV.useRust]: "false",
        [ENV.verifyThreads]: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const p: NodeProc = { name, child, signerPort: 0, metricsPort: 0, log: "" };
    procs.push(p);
    return new Promise((resolve, reject) => {
      const onData = (d: Buffer) => {
        p.log += d.toString();
        const line = p.log.split("\n").find((l) => l.includes('"node started"'));
        if (line !== undefined && p.signerPort === 0) {
          const started = JSON.parse(line) as { signerPort: number; metricsPort: number };
          p.signerPort = started.signerPort;
          p.metricsPort = started.metricsPort;
          resolve(p);
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => reject(new Error(`${name} exited early (${code}):\n${p.log}`)));
    });
  }

  async function sign(p: NodeProc, epoch: number, slot: number, payload: string) {
    try {
      const res = await fetch(`http://127.0.0.1:${p.signerPort}${ROUTES.attestationsSign}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${"s".repeat(40)}` },
        body: JSON.stringify({ epoch, slot, payload }),
        signal: AbortSignal.timeout(5_000),
      });
      return { status: res.status, body: (await res.json()) as { error?: string; attestation?: { epoch: number; slot: number; payloadDigest: string }; signature?: string } };
    } catch {
      return { status: 0, body: {} }; // the process is dead or dying
    }
  }

  it("signs each (epoch, slot) for at most one payload while the active signer is killed, and resumes within the lease", async () => {
    const all: NodeProc[] = await Promise.all(PODS.map((name) => startProc(name)));
    // wait for an elected signer
    const activeOf = async () => {
      for (const p of all) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
        const text = await fetch(`http://127.0.0.1:${p.metricsPort}${METRICS_PATH}`).then((r) => r.text()).catch(() => "");
        if (/^bizra_poi_signer_active 1$/m.test(text)) return p;
      }
      return undefined;
    };
    let leader: NodeProc | undefined;
    for (let i = 0; i < 100 && leader === undefined; i++) {
      leader = await activeOf();
      if (leader === undefined) await sleep(100);
    }
    assert.ok(leader, "no signer elected");
    await untilLabelled([leader.name], "after the election");
    // A standby's refusal closes a kept-alive connection, so the client's next request is routed afresh.
    const standby = all.find((p) => p !== leader) ?? assert.fail("a standby");
    const refusal = await keepAliveSign(standby.signerPort, { epoch: 1, slot: 1, payload: "aa" });
    assert.deepEqual([refusal.status, refusal.error, refusal.connection], [503, "not_signer", "close"]);

    const signed = new Map<string, Set<string>>(); // "epoch/slot" -> payload digests signed
    const signatures = new Map<string, Set<string>>(); // "epoch/slot" -> signatures returned
    const successAt: number[] = [];
    const refusals = new Map<string, number>();
    let killedAt = 0;
    let slot = 0;
    const deadline = Date.now() + (LEASE_SECONDS * 1000) * 4 + 6_000;
    let killed = false;
    while (Date.now() < deadline) {
      slot++;
      // two conflicting payloads for this slot, each sent to every process at once
      const payloads = [randomBytes(8).toString("hex"), randomBytes(8).toString("hex")];
      const calls = all.flatMap((p) => payloads.map((payload) => sign(p, 1, slot, payload)));
      if (!killed && slot === 20) {
        leader.child.kill("SIGKILL");
        killedAt = Date.now();
        killed = true;
      }
      for (const r of await Promise.all(calls)) {
        if (r.status === 200 || r.status === 201) {
          const key = `${r.body.attestation?.epoch}/${r.body.attestation?.slot}`;
          if (!signed.has(key)) signed.set(key, new Set());
          signed.get(key)?.add(r.body.attestation?.payloadDigest ?? "");
          if (!signatures.has(key)) signatures.set(key, new Set());
          signatures.get(key)?.add(r.body.signature ?? "");
          successAt.push(Date.now());
        } else {
          const reason = r.status === 0 ? "no_answer" : (r.body.error ?? String(r.status));
          refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
        }
      }
      await sleep(50);
    }
    const equivocations = [...signed.entries()].filter(([, digests]) => digests.size > 1);
    assert.deepEqual(equivocations, [], "an (epoch, slot) was signed for two payloads");
    for (const [key, sigs] of signatures) assert.equal(sigs.size, 1, `${key}: one signature per slot`);
    const before = successAt.filter((t) => t < killedAt).length;
    const firstAfter = successAt.find((t) => t > killedAt);
    assert.ok(before > 0, "signed before the kill");
    assert.ok(firstAfter !== undefined, `signing never resumed after the kill; refusals: ${JSON.stringify([...refusals])}`);
    const resumedMs = firstAfter - killedAt;
    const bound = LEASE_SECONDS * 1000 + Math.max(250, (LEASE_SECONDS * 1000) / 4) + 2_000; // the stated failover time, printed, not asserted (no timed assertions in tests)
    console.log(
      `    ${signed.size} slots signed, 0 equivocations; leader ${leader.name} killed; signing resumed after ${resumedMs} ms ` +
        `(lease ${LEASE_SECONDS} s, bound ${bound} ms); refusals: ${JSON.stringify(Object.fromEntries(refusals))}`,
    );
    assert.ok((refusals.get("double_sign") ?? 0) > 0, "the conflicting payloads were refused by name");

    // Routing after the kill: the successor labels its pod; the killed process could not remove its label.
    const live = () => all.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    let successor: NodeProc | undefined;
    for (let i = 0; i < 100 && successor === undefined; i++) {
      successor = await activeOf();
      if (successor === undefined) await sleep(100);
    }
    assert.ok(successor && successor !== leader, "a successor holds the Lease");
    await untilLabelled([successor.name, leader.name], "after SIGKILL of the holder (its label is stale)");
    // The killed container restarts in the same pod: its first round removes the stale label.
    const restarted = await startProc(leader.name);
    all.push(restarted);
    await untilLabelled([successor.name], "after the killed signer restarted in its pod");
    // A graceful stop takes the label off before it releases the Lease; another process takes both over.
    successor.child.kill("SIGTERM");
    await new Promise((r) => successor?.child.once("exit", r));
    let third: NodeProc | undefined;
    for (let i = 0; i < 200 && third === undefined; i++) {
      third = live().length > 0 ? await activeOf() : undefined;
      if (third === undefined) await sleep(100);
    }
    assert.ok(third, "a signer holds the Lease after the graceful stop");
    await untilLabelled([third.name], "after the graceful stop of the holder");
    console.log(`    routing: ${leader.name} labelled, killed (label stale until its restart), ${successor.name} labelled, stopped gracefully, ${third.name} labelled`);
  });

  it("the signer's Role lets it patch pods but not read, list or delete them", async () => {
    const a = api as ApiServer;
    const pod = `/api/v1/namespaces/${NAMESPACE}/pods/${PODS[0]}`;
    assert.equal((await kubeCall(a, "GET", pod, undefined, signerToken)).status, 403, "get");
    assert.equal((await kubeCall(a, "GET", `/api/v1/namespaces/${NAMESPACE}/pods`, undefined, signerToken)).status, 403, "list");
    assert.equal((await kubeCall(a, "DELETE", pod, undefined, signerToken)).status, 403, "delete");
    const patched = await kubeCall(a, "PATCH", pod, { metadata: { labels: { "bizra.io/probe": "x" } } }, signerToken);
    assert.equal(patched.status, 200, `patch: ${patched.text}`);
  });
});

/** One sign request on a keep-alive agent; returns the status, the error code and the Connection header. */
function keepAliveSign(port: number, body: unknown): Promise<{ status: number; error: string | undefined; connection: string | undefined }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const http = require("node:http") as typeof import("node:http");
  const agent = new http.Agent({ keepAlive: true });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: ROUTES.attestationsSign, method: "POST", agent, headers: { "content-type": "application/json", authorization: `Bearer ${"s".repeat(40)}` } },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => {
          agent.destroy();
          resolve({ status: res.statusCode ?? 0, error: (JSON.parse(text) as { error?: string }).error, connection: res.headers.connection });
        });
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

function kubeCall(api: ApiServer, method: string, urlPath: string, body: unknown, token = api.token): Promise<{ status: number; text: string }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const https = require("node:https") as typeof import("node:https");
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(urlPath, api.server), {
      method,
      ca: fs.readFileSync(api.caFile),
      headers: { authorization: `Bearer ${token}`, "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json" },
    }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
