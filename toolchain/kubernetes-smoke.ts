/**
 * Standalone smoke test of tests/support/apiserver.ts (run by toolchain/kubernetes-smoke.sh):
 * start etcd + kube-apiserver, create a namespace with curl and the admin client certificate, read it back
 * with curl (client cert), with the bearer token, and with kubectl if present, then stop and check that
 * the processes and the temporary directory are gone.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import { startApiServer } from "../tests/support/apiserver";

function curl(args: string[]): string {
  return execFileSync("curl", ["-sS", "--fail-with-body", ...args], { encoding: "utf8" });
}

/** Processes whose command line mentions `dir` (etcd, kube-apiserver, the watchdog), zombies excluded. */
function serverProcesses(dir: string): { pid: number; args: string }[] {
  const out = execFileSync("ps", ["-eo", "pid=,stat=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .flatMap((line) => {
      const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
      // the three groups are not optional: a match has all of them
      return m ? [{ pid: Number(m[1]), stat: m[2]!, args: m[3]! }] : [];
    })
    .filter((p) => p.args.includes(dir) && !p.stat.startsWith("Z") && !p.args.startsWith("ps "))
    .map(({ pid, args }) => ({ pid, args }));
}

function which(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const api = await startApiServer({ log: (m) => console.log(`[apiserver] ${m}`) });
  console.log(`started in ${Date.now() - t0} ms: server=${api.server} version=${api.version}`);
  console.log(`kubeconfig=${api.kubeconfigPath}`);
  const before = serverProcesses(api.dir);
  console.log(`processes using ${api.dir}:\n${before.map((p) => `  ${p.pid} ${p.args.slice(0, 90)}`).join("\n")}`);
  try {
    const cert = ["--cacert", api.caFile, "--cert", api.clientCertFile, "--key", api.clientKeyFile];
    const name = "bizra-smoke";
    const created = JSON.parse(
      curl([
        ...cert, "-X", "POST", "-H", "Content-Type: application/json",
        "--data", JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { smoke: "yes" } } }),
        `${api.server}/api/v1/namespaces`,
      ]),
    ) as { metadata: { name: string; uid: string } };
    console.log(`created namespace ${created.metadata.name} uid=${created.metadata.uid}`);

    const read = JSON.parse(curl([...cert, `${api.server}/api/v1/namespaces/${name}`])) as {
      metadata: { name: string; uid: string; labels?: Record<string, string> };
      status: { phase: string };
    };
    console.log(`read back (client cert): name=${read.metadata.name} phase=${read.status.phase} labels=${JSON.stringify(read.metadata.labels)}`);
    if (read.metadata.uid !== created.metadata.uid) throw new Error("uid mismatch");

    const viaToken = JSON.parse(
      curl(["--cacert", api.caFile, "-H", `Authorization: Bearer ${api.token}`, `${api.server}/api/v1/namespaces/${name}`]),
    ) as { metadata: { uid: string } };
    console.log(`read back (bearer token): uid matches=${viaToken.metadata.uid === created.metadata.uid}`);
    if (viaToken.metadata.uid !== created.metadata.uid) throw new Error("uid mismatch via token");

    const whoami = curl([
      ...cert, "-X", "POST", "-H", "Content-Type: application/json",
      "--data", JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
      `${api.server}/apis/authentication.k8s.io/v1/selfsubjectreviews`,
    ]);
    const user = (JSON.parse(whoami) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    console.log(`whoami: ${user.username} groups=${user.groups.join(",")}`);

    const anon = execFileSync(
      "curl",
      ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", api.caFile, `${api.server}/api/v1/namespaces`],
      { encoding: "utf8" },
    );
    console.log(`anonymous list namespaces -> HTTP ${anon} (RBAC denies)`);
    if (anon !== "403") throw new Error(`expected 403 for anonymous, got ${anon}`);

    if (which("kubectl")) {
      const out = execFileSync("kubectl", ["--kubeconfig", api.kubeconfigPath, "get", "namespace", name, "--show-labels"], {
        encoding: "utf8",
      });
      console.log(`kubectl get namespace:\n${out.trimEnd()}`);
      const ver = execFileSync("kubectl", ["--kubeconfig", api.kubeconfigPath, "version"], { encoding: "utf8" });
      console.log(`kubectl version:\n${ver.trimEnd()}`);
    } else {
      console.log("kubectl not installed; skipped");
    }
  } finally {
    const t1 = Date.now();
    await api.stop();
    console.log(`stopped in ${Date.now() - t1} ms`);
  }
  const left = serverProcesses(api.dir);
  console.log(`server processes before stop: ${before.length}, left after stop: ${left.length}`);
  console.log(`temp dir removed: ${!fs.existsSync(api.dir)}`);
  if (left.length > 0 || fs.existsSync(api.dir)) throw new Error("stop() left processes or files behind");
  console.log("SMOKE OK");
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
