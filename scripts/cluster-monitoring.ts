/**
 * The local cluster's monitoring stack (docs/cluster-monitoring.md): the Prometheus Operator and the Prometheus it
 * runs, which scrapes the program's ServiceMonitors and loads its PrometheusRules.
 *
 *   npm run cluster:monitoring -- up      build/import the images, apply, wait until Prometheus answers; prints its URL
 *   npm run cluster:monitoring -- url     the URL (http://<ClusterIP>:9090, reachable inside the cluster's namespace)
 *   npm run cluster:monitoring -- down    remove it
 *
 * Then, e.g.: scripts/cluster.sh exec npm run validate -- testnet --prometheus "$(npm run -s cluster:monitoring -- url)"
 */
import * as path from "node:path";
import { clusterEnv, clusterRunning } from "./lib/cluster";
import { deployMonitoring, prometheusUrl, removeMonitoring, waitForPrometheus } from "./lib/cluster-monitoring";

const say = (s: string): void => console.error(`[${path.basename(__filename, ".ts")}] ${s}`);
const USAGE = "usage: npm run cluster:monitoring -- up|url|down";

async function main(): Promise<number> {
  const mode = process.argv[2];
  if (!mode || !["up", "url", "down"].includes(mode) || process.argv.length > 3) {
    say(USAGE);
    return 64;
  }
  if (!clusterRunning()) {
    say("no local cluster runs: start it with `npm run cluster:up`");
    return 1;
  }
  const cluster = clusterEnv();
  if (mode === "url") {
    console.log(prometheusUrl(cluster));
    return 0;
  }
  if (mode === "down") {
    removeMonitoring(cluster);
    say("monitoring stack removed");
    return 0;
  }
  const t0 = Date.now();
  const deployed = deployMonitoring(cluster, { log: say });
  const url = await waitForPrometheus(cluster, deployed.namespace);
  say(`Prometheus ready in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${url} (inside network namespace ${cluster.NETNS})`);
  console.log(url);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`ERROR: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
