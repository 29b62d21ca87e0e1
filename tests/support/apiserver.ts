/**
 * A real Kubernetes API server for tests: etcd + kube-apiserver on loopback, built by
 * `toolchain/kubernetes.sh` (binaries under `.toolchain/`), with throw-away certificates.
 *
 *   const api = await startApiServer();
 *   // KUBECONFIG=api.kubeconfigPath kubectl get ns   |   new KubeConfig().loadFromFile(api.kubeconfigPath)
 *   await api.stop();
 *
 * Everything lives in one temporary directory (certificates, keys, etcd data, logs, kubeconfig) that
 * `stop()` removes. `stop()` also runs on process exit and on SIGINT/SIGTERM, and a detached watchdog
 * kills both servers if the test process dies without running either (for example SIGKILL).
 * Only node builtins and the `openssl` CLI are used.
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { distinctFreePorts, hasExited, killSync, sleep, stopChild } from "./process";

export interface ApiServerOptions {
  /** kube-apiserver binary; default: env KUBE_APISERVER_BIN, else the toolchain build for versions.env. */
  apiserverBin?: string;
  /** etcd binary; default: env ETCD_BIN, else the toolchain build for versions.env. */
  etcdBin?: string;
  /** Run `toolchain/kubernetes.sh` first when a binary is missing (a cold build takes many minutes). Default: false. */
  build?: boolean;
  /** `--authorization-mode`; default "RBAC" (the admin identities are in system:masters either way). */
  authorizationMode?: "RBAC" | "AlwaysAllow";
  /** Extra kube-apiserver flags, e.g. ["--feature-gates=..."]. Later flags win. */
  extraApiServerArgs?: string[];
  /** How long to wait for etcd and for /readyz; default 180 s (slow, shared CI cores). */
  readyTimeoutMs?: number;
  /** Keep the temporary directory after stop() (for debugging); default: env BIZRA_APISERVER_KEEP === "1". */
  keepDir?: boolean;
  /** Progress messages; default: silent unless env BIZRA_APISERVER_VERBOSE === "1" (then stderr). */
  log?: (message: string) => void;
}

export interface ApiServer {
  /** Self-contained kubeconfig (embedded CA and admin client certificate), context "bizra-test". */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** The temporary directory holding everything below. */
  dir: string;
  /** CA that signed the serving and client certificates (PEM file). */
  caFile: string;
  /** Admin client certificate and key (CN=bizra-admin, O=system:masters). */
  clientCertFile: string;
  clientKeyFile: string;
  /** Static bearer token of the same admin user (group system:masters). */
  token: string;
  /** etcd client URL (http on loopback). */
  etcdUrl: string;
  /** Log files of the two servers. */
  logs: { etcd: string; apiserver: string };
  /** Server version as reported by /version, e.g. "v1.36.3". */
  version: string;
  /** Stops both servers (SIGTERM, then SIGKILL after 10 s) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_READY_TIMEOUT_MS = 180_000;
const TEST_TOKEN_PREFIX = "bizra-test-";

// ------------------------------------------------------------------------------------ binaries

function findRepoRoot(): string {
  const starts = [typeof __dirname === "string" ? __dirname : undefined, process.cwd()];
  for (const start of starts) {
    if (!start) continue;
    let dir = path.resolve(start);
    for (;;) {
      if (fs.existsSync(path.join(dir, "toolchain", "kubernetes", "versions.env"))) return dir;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error("apiserver: cannot find toolchain/kubernetes/versions.env above " + starts.join(" or "));
}

function readVersions(root: string): { k8s: string; etcd: string } {
  const text = fs.readFileSync(path.join(root, "toolchain", "kubernetes", "versions.env"), "utf8");
  const get = (key: string): string => {
    const m = new RegExp(`^${key}=([^\\s#]+)`, "m").exec(text);
    if (!m?.[1]) throw new Error(`apiserver: ${key} missing from versions.env`);
    return m[1].replace(/^v/, "");
  };
  return {
    k8s: (process.env.K8S_VERSION ?? get("K8S_VERSION")).replace(/^v/, ""),
    etcd: (process.env.ETCD_VERSION ?? get("ETCD_VERSION")).replace(/^v/, ""),
  };
}

/** Paths where toolchain/kubernetes.sh puts the binaries (they may not exist yet). */
export function toolchainBinaries(): { apiserverBin: string; etcdBin: string; buildScript: string } {
  const root = findRepoRoot();
  const v = readVersions(root);
  const tc = process.env.K8S_TOOLCHAIN_DIR ?? path.join(root, ".toolchain");
  return {
    apiserverBin: process.env.KUBE_APISERVER_BIN ?? path.join(tc, `k8s-v${v.k8s}`, "bin", "kube-apiserver"),
    etcdBin: process.env.ETCD_BIN ?? path.join(tc, `etcd-v${v.etcd}`, "bin", "etcd"),
    buildScript: path.join(root, "toolchain", "kubernetes.sh"),
  };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[], opts: { cwd?: string; inheritStderr?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    if (opts.inheritStderr) {
      const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", process.stderr, "inherit"] });
      child.on("error", reject);
      child.on("exit", (code, signal) =>
        code === 0 ? resolve("") : reject(new Error(`${cmd} ${args.join(" ")} failed: ${signal ?? `exit ${code}`}`)),
      );
      return;
    }
    execFile(cmd, args, { cwd: opts.cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function resolveBinaries(opts: ApiServerOptions): Promise<{ apiserverBin: string; etcdBin: string }> {
  const tc = toolchainBinaries();
  const apiserverBin = opts.apiserverBin ?? tc.apiserverBin;
  const etcdBin = opts.etcdBin ?? tc.etcdBin;
  if (isExecutable(apiserverBin) && isExecutable(etcdBin)) return { apiserverBin, etcdBin };
  if (opts.build) {
    await run("bash", [tc.buildScript], { inheritStderr: true });
    if (isExecutable(apiserverBin) && isExecutable(etcdBin)) return { apiserverBin, etcdBin };
  }
  const missing = [apiserverBin, etcdBin].filter((f) => !isExecutable(f));
  throw new Error(
    `apiserver: missing ${missing.join(" and ")}; build them with \`bash toolchain/kubernetes.sh\` ` +
      "(or pass { build: true }, or set KUBE_APISERVER_BIN / ETCD_BIN)",
  );
}

// ------------------------------------------------------------------------------- certificates

async function openssl(dir: string, args: string[]): Promise<void> {
  await run("openssl", args, { cwd: dir });
}

async function makeCertificates(dir: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bizra-test-ca",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const leaf = async (name: string, subj: string, ext: string): Promise<void> => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    await openssl(dir, ["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
    await openssl(dir, [
      "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
      "-out", `${name}.crt`, "-days", "2", "-sha256", "-extfile", `${name}.ext`,
    ]);
  };
  await leaf(
    "apiserver",
    "/CN=kube-apiserver",
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" +
      "extendedKeyUsage=serverAuth\n" +
      "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default," +
      "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n",
  );
  await leaf(
    "admin",
    "/O=system:masters/CN=bizra-admin",
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" +
      "extendedKeyUsage=clientAuth\n",
  );
  // Service-account token signing key pair.
  await openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "sa.key"]);
  await openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  for (const f of fs.readdirSync(dir)) if (f.endsWith(".key")) fs.chmodSync(path.join(dir, f), 0o600);
}

// ------------------------------------------------------------------------------------ helpers

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

interface HttpResult {
  status: number;
  body: string;
}

function httpsGet(url: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }, timeoutMs = 5000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...tls, timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

function httpGet(url: string, timeoutMs = 3000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = net.connect({ host: u.hostname, port: Number(u.port) }, () => {
      req.write(`GET ${u.pathname} HTTP/1.0\r\nHost: ${u.host}\r\n\r\n`);
    });
    let data = "";
    req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
    req.on("data", (c: Buffer) => (data += c.toString("utf8")));
    req.on("end", () => {
      const m = /^HTTP\/\d\.\d (\d+)/.exec(data);
      resolve({ status: m ? Number(m[1]) : 0, body: data.slice(data.indexOf("\r\n\r\n") + 4) });
    });
    req.on("error", reject);
  });
}

// ------------------------------------------------------------------ process tracking & cleanup

interface Running {
  children: ChildProcess[];
  watchdog?: ChildProcess;
  dir: string;
  keepDir: boolean;
}

const live = new Set<Running>();
let hooksInstalled = false;

function cleanupSync(r: Running): void {
  for (const c of r.children) killSync(c, "SIGKILL");
  killSync(r.watchdog, "SIGKILL");
  if (!r.keepDir) fs.rmSync(r.dir, { recursive: true, force: true });
  live.delete(r);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const r of [...live]) cleanupSync(r);
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = (): void => {
      for (const r of [...live]) cleanupSync(r);
      // Keep the default behaviour (terminate) unless someone else (e.g. mocha) handles the signal.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

/** Detached shell that kills the servers and removes the directory if this process dies first. */
function startWatchdog(r: Running): ChildProcess | undefined {
  const pids = r.children.map((c) => c.pid).filter((p): p is number => p !== undefined);
  const script =
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; ` +
    `kill -TERM ${pids.join(" ")} 2>/dev/null; sleep 5; kill -KILL ${pids.join(" ")} 2>/dev/null; ` +
    (r.keepDir ? "" : `rm -rf '${r.dir.replace(/'/g, "'\\''")}'`);
  try {
    const wd = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
    wd.on("error", () => undefined);
    wd.unref();
    return wd;
  } catch {
    return undefined;
  }
}

function startProcess(bin: string, args: string[], logFile: string): ChildProcess {
  const fd = fs.openSync(logFile, "a");
  try {
    const child = spawn(bin, args, { stdio: ["ignore", fd, fd], env: { ...process.env } });
    child.on("error", (err) => fs.appendFileSync(logFile, `\n[spawn error] ${err.message}\n`));
    // The servers must not keep the test process alive: if nobody calls stop(), the process still
    // exits and the exit hook kills them.
    child.unref();
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------- kubeconfig

function kubeconfigYaml(server: string, dir: string): string {
  const b64 = (f: string): string => fs.readFileSync(path.join(dir, f)).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: bizra-test",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64("ca.crt")}`,
    "users:",
    "- name: bizra-admin",
    "  user:",
    `    client-certificate-data: ${b64("admin.crt")}`,
    `    client-key-data: ${b64("admin.key")}`,
    "contexts:",
    "- name: bizra-test",
    "  context:",
    "    cluster: bizra-test",
    "    user: bizra-admin",
    "current-context: bizra-test",
    "",
  ].join("\n");
}

// -------------------------------------------------------------------------------------- start

/** Starts etcd and kube-apiserver on free loopback ports; resolves once /readyz answers "ok". */
export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const log =
    opts.log ?? (process.env.BIZRA_APISERVER_VERBOSE === "1" ? (m: string) => process.stderr.write(`[apiserver] ${m}\n`) : () => undefined);
  const timeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const { apiserverBin, etcdBin } = await resolveBinaries(opts);

  let lastError: unknown;
  // A free port can be taken between probing and binding; retry the whole start a couple of times then.
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(apiserverBin, etcdBin, opts, timeoutMs, log);
    } catch (err) {
      lastError = err;
      if (!(err instanceof Error && /address already in use/i.test(err.message))) throw err;
      log(`port clash on attempt ${attempt}; retrying`);
    }
  }
  throw lastError;
}

async function startOnce(
  apiserverBin: string,
  etcdBin: string,
  opts: ApiServerOptions,
  timeoutMs: number,
  log: (m: string) => void,
): Promise<ApiServer> {
  const keepDir = opts.keepDir ?? process.env.BIZRA_APISERVER_KEEP === "1";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-apiserver-"));
  const running: Running = { children: [], dir, keepDir };
  installExitHooks();
  live.add(running);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // API server first (it talks to etcd), then etcd.
      for (const child of [...running.children].reverse()) await stopChild(child);
      if (running.watchdog) await stopChild(running.watchdog, 0);
      if (!keepDir) fs.rmSync(dir, { recursive: true, force: true });
      live.delete(running);
      log(`stopped; ${keepDir ? "kept" : "removed"} ${dir}`);
    })();
    return stopping;
  };

  try {
    const started = Date.now();
    const deadline = started + timeoutMs;
    await makeCertificates(dir);
    const token = TEST_TOKEN_PREFIX + Math.random().toString(36).slice(2) + Date.now().toString(36);
    fs.writeFileSync(path.join(dir, "tokens.csv"), `${token},bizra-admin,bizra-admin,"system:masters"\n`, { mode: 0o600 });
    log(`certificates in ${dir} (${Date.now() - started} ms)`);

    const [etcdClientPort, etcdPeerPort, apiPort] = await distinctFreePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const logs = { etcd: path.join(dir, "etcd.log"), apiserver: path.join(dir, "kube-apiserver.log") };

    // ---- etcd (plain http, loopback only, no fsync: test data is disposable)
    const etcd = startProcess(
      etcdBin,
      [
        "--name=bizra-test",
        `--data-dir=${path.join(dir, "etcd-data")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=bizra-test=${peerUrl}`,
        "--initial-cluster-state=new",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      logs.etcd,
    );
    running.children.push(etcd);
    running.watchdog = startWatchdog(running);
    for (;;) {
      if (hasExited(etcd)) throw new Error(`apiserver: etcd exited early (${etcd.exitCode ?? etcd.signalCode}):\n${tail(logs.etcd)}`);
      const h = await httpGet(`${etcdUrl}/health`).catch(() => undefined);
      if (h && h.status === 200 && /"health":\s*"true"/.test(h.body)) break;
      if (Date.now() > deadline) throw new Error(`apiserver: etcd not healthy within ${timeoutMs} ms:\n${tail(logs.etcd)}`);
      await sleep(200);
    }
    log(`etcd healthy at ${etcdUrl} (${Date.now() - started} ms)`);

    // ---- kube-apiserver
    const f = (name: string): string => path.join(dir, name);
    const apiserver = startProcess(
      apiserverBin,
      [
        `--etcd-servers=${etcdUrl}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${f("apiserver-certs")}`,
        `--tls-cert-file=${f("apiserver.crt")}`,
        `--tls-private-key-file=${f("apiserver.key")}`,
        `--client-ca-file=${f("ca.crt")}`,
        `--token-auth-file=${f("tokens.csv")}`,
        `--authorization-mode=${opts.authorizationMode ?? "RBAC"}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${f("sa.pub")}`,
        `--service-account-signing-key-file=${f("sa.key")}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        "--allow-privileged=true",
        // Endpoints may not hold loopback addresses, so the "kubernetes" Service endpoint sync would fail every 10 s.
        "--endpoint-reconciler-type=none",
        // No controller manager runs, so nothing would create the default ServiceAccount in new namespaces.
        "--disable-admission-plugins=ServiceAccount",
        "--profiling=false",
        "--v=0",
        ...(opts.extraApiServerArgs ?? []),
      ],
      logs.apiserver,
    );
    running.children.push(apiserver);
    killSync(running.watchdog, "SIGKILL");
    running.watchdog = startWatchdog(running);

    const server = `https://127.0.0.1:${apiPort}`;
    const tls = { ca: fs.readFileSync(f("ca.crt")), cert: fs.readFileSync(f("admin.crt")), key: fs.readFileSync(f("admin.key")) };
    let last = "";
    for (;;) {
      if (hasExited(apiserver)) {
        throw new Error(
          `apiserver: kube-apiserver exited early (${apiserver.exitCode ?? apiserver.signalCode}):\n${tail(logs.apiserver)}`,
        );
      }
      const r = await httpsGet(`${server}/readyz`, tls).catch((e: Error) => ({ status: 0, body: e.message }));
      if (r.status === 200 && r.body.trim() === "ok") break;
      last = `${r.status} ${r.body.slice(0, 500)}`;
      if (Date.now() > deadline) {
        throw new Error(`apiserver: /readyz not ok within ${timeoutMs} ms (last: ${last}):\n${tail(logs.apiserver)}`);
      }
      await sleep(300);
    }
    const versionResp = await httpsGet(`${server}/version`, tls);
    const version = (JSON.parse(versionResp.body) as { gitVersion?: string }).gitVersion ?? "unknown";
    log(`kube-apiserver ${version} ready at ${server} (${Date.now() - started} ms)`);

    const kubeconfigPath = f("kubeconfig");
    fs.writeFileSync(kubeconfigPath, kubeconfigYaml(server, dir), { mode: 0o600 });

    return {
      kubeconfigPath,
      server,
      dir,
      caFile: f("ca.crt"),
      clientCertFile: f("admin.crt"),
      clientKeyFile: f("admin.key"),
      token,
      etcdUrl,
      logs,
      version,
      stop,
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await stop().catch(() => undefined);
    throw new Error(message);
  }
}
