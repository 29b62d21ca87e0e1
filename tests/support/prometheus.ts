/**
 * Prometheus for tests: `promtool` runs, and a real Prometheus server on a loopback port.
 *
 *   const prom = await startPrometheus({ config, ruleFiles: { "rules.yaml": text } });
 *   await prom.query("up");   // instant query through the HTTP API
 *   await prom.stop();        // SIGTERM (then SIGKILL), temp dir removed
 *
 * The binaries are Debian's `prometheus` package (`scripts/setup.sh` installs it); PROMETHEUS_BIN / PROMTOOL_BIN
 * override them. Every server started here is stopped by `stop()`, and on process exit by a last-resort hook.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { freePort, stopChild, track, waitFor } from "./process";
import type { ServiceMonitor } from "../../components/crds/monitoring";

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "prometheus";
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? "promtool";

/** Throws a message that says how to install Prometheus when `bin` is not runnable. */
export function requireBinary(bin: string): string {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(`${bin} is not installed (${r.error?.message ?? r.stderr}); run scripts/setup.sh, or apt-get install prometheus`);
  }
  return (r.stdout || r.stderr).split("\n")[0] ?? "";
}

export interface PromtoolResult {
  readonly status: number | null;
  readonly output: string;
}

/** `promtool <args>` in `cwd`; returns exit status and combined output. */
export function promtool(args: string[], cwd?: string): PromtoolResult {
  const r = spawnSync(PROMTOOL_BIN, args, { cwd, encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** An active scrape target (`/api/v1/targets`), the fields the tests read. */
export interface PromTarget {
  readonly health: string;
  readonly lastError: string;
  readonly labels: Record<string, string>;
}

export interface PromAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: "pending" | "firing" | "inactive";
  readonly activeAt?: string;
  readonly value: string;
}

export interface RunningPrometheus {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Instant query; throws on an API error (e.g. a PromQL syntax error). */
  query(expr: string): Promise<PromSample[]>;
  /** Active alerts (`/api/v1/alerts`). */
  alerts(): Promise<PromAlert[]>;
  /** Scrape targets (`/api/v1/targets`, active ones). */
  targets(): Promise<PromTarget[]>;
  /** Prometheus's own log so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** prometheus.yml as an object; `rule_files` is filled in from `ruleFiles`. */
  readonly config: Record<string, unknown>;
  /** file name -> rules file text, written next to the config. */
  readonly ruleFiles?: Record<string, string>;
  /** How long to wait for `/-/ready`. */
  readonly startTimeoutMs?: number;
}

/** The `data` of a Prometheus HTTP API answer, typed by the caller as that endpoint's documented shape. */
async function getJson<Data>(url: string): Promise<Data> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const body = (await res.json()) as { status: string; data: unknown; error?: string; errorType?: string };
  if (body.status !== "success") throw new Error(`${url}: ${body.errorType}: ${body.error}`);
  return body.data as Data;
}

/** Starts Prometheus on 127.0.0.1 with a fresh TSDB in a temp dir. */
export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  requireBinary(PROMETHEUS_BIN);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-prom-"));
  const ruleFiles = Object.entries(opts.ruleFiles ?? {}).map(([name, text]) => {
    fs.writeFileSync(path.join(dir, name), text);
    return name;
  });
  const configFile = path.join(dir, "prometheus.yml");
  fs.writeFileSync(configFile, stringify({ ...opts.config, rule_files: ruleFiles }));
  const check = promtool(["check", "config", configFile]);
  if (check.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`promtool check config failed:\n${check.output}`);
  }

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let logText = "";
    const child = track(
      spawn(
        PROMETHEUS_BIN,
        [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${path.join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
          "--web.console.templates=/dev/null",
          "--web.console.libraries=/dev/null",
          "--log.level=info",
        ],
        { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
      ),
    );
    child.stdout?.on("data", (d: Buffer) => (logText += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (logText += d.toString()));
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitFor(
        "Prometheus /-/ready",
        async () => {
          if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${logText.slice(-2000)}`);
          const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(5_000) });
          return res.ok ? true : undefined;
        },
        opts.startTimeoutMs ?? 90_000,
      );
    } catch (err) {
      await stopChild(child);
      lastError = err;
      if (/address already in use/.test(logText)) continue; // lost the port race: try another port
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return {
      url,
      port,
      dir,
      async query(expr: string) {
        const data = await getJson<{ resultType: string; result: PromSample[] }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
        if (data.resultType !== "vector") throw new Error(`${expr}: expected a vector, got ${data.resultType}`);
        return data.result;
      },
      async alerts() {
        return (await getJson<{ alerts: PromAlert[] }>(`${url}/api/v1/alerts`)).alerts;
      },
      async targets() {
        return (await getJson<{ activeTargets: PromTarget[] }>(`${url}/api/v1/targets?state=active`)).activeTargets;
      },
      log: () => logText,
      stop,
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/** The scrape job the Prometheus Operator generates for the ServiceMonitor's endpoint, pointed at the test node. */
export function scrapeConfigFor(serviceMonitor: ServiceMonitor, target: string, labels: { namespace: string; pod: string; service: string }) {
  const ep = serviceMonitor.spec.endpoints[0];
  if (ep === undefined) throw new Error(`ServiceMonitor ${serviceMonitor.metadata.name} has no endpoint`);
  return {
    job_name: `serviceMonitor/${serviceMonitor.metadata.namespace}/${serviceMonitor.metadata.name}/0`,
    honor_labels: false,
    scrape_interval: ep.interval,
    scrape_timeout: ep.scrapeTimeout,
    metrics_path: ep.path,
    scheme: ep.scheme,
    // what the operator's relabelling derives from the Endpoints object: namespace, pod, service, endpoint (port
    // name), container; and `job` = the Service name
    static_configs: [{ targets: [target], labels: { ...labels, endpoint: ep.port, container: "node" } }],
    relabel_configs: [{ target_label: "job", replacement: labels.service }],
    metric_relabel_configs: (ep.metricRelabelings ?? []).map((r) => ({
      source_labels: r.sourceLabels,
      regex: r.regex,
      action: r.action,
    })),
  };
}

/** Flagger's template variables, as Flagger substitutes them for the canary. */
export function renderFlaggerQuery(query: string, vars: { namespace: string; target: string; interval: string }): string {
  return query
    .replace(/\{\{\s*namespace\s*\}\}/g, vars.namespace)
    .replace(/\{\{\s*target\s*\}\}/g, vars.target)
    .replace(/\{\{\s*interval\s*\}\}/g, vars.interval);
}
