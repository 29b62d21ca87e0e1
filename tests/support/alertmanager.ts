/**
 * Alertmanager for tests: Debian's `prometheus-alertmanager` on loopback, configured from the AlertmanagerConfig the
 * program renders the way Prometheus Operator merges one into its Alertmanager (pkg/alertmanager/amcfg.go): the
 * object's route becomes a child of the top route with a `namespace="<ns>"` matcher and `continue: true`, and
 * receiver names are prefixed `<namespace>/<name>/`. ALERTMANAGER_BIN overrides the binary.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import type { AlertmanagerConfig, AlertmanagerRoute } from "../../components/crds/monitoring";
import { freePort, stopChild, track, waitFor } from "./process";
import { requireBinary } from "./prometheus";

export const ALERTMANAGER_BIN = process.env.ALERTMANAGER_BIN ?? "prometheus-alertmanager";

/** `alertmanager.yml` (as an object) for one AlertmanagerConfig, as the operator generates it. */
export function operatorAlertmanagerConfig(amc: AlertmanagerConfig): Record<string, unknown> {
  const prefix = `${amc.metadata.namespace}/${amc.metadata.name}/`;
  const convert = (r: AlertmanagerRoute, top: boolean): Record<string, unknown> => ({
    receiver: prefix + r.receiver,
    ...(r.groupBy ? { group_by: r.groupBy } : {}),
    ...(r.groupWait ? { group_wait: r.groupWait } : {}),
    ...(r.groupInterval ? { group_interval: r.groupInterval } : {}),
    ...(r.repeatInterval ? { repeat_interval: r.repeatInterval } : {}),
    matchers: [
      ...(top ? [`namespace="${amc.metadata.namespace}"`] : []),
      ...(r.matchers ?? []).map((m) => `${m.name}${m.matchType}${JSON.stringify(m.value)}`),
    ],
    ...(top || r.continue ? { continue: true } : {}),
    ...(r.routes ? { routes: r.routes.map((c) => convert(c, false)) } : {}),
  });
  return {
    route: { receiver: "null", group_by: ["alertname"], routes: [convert(amc.spec.route, true)] },
    receivers: [
      { name: "null" },
      ...amc.spec.receivers.map((r) => ({
        name: prefix + r.name,
        webhook_configs: (r.webhookConfigs ?? []).map((w) => ({ url: w.url, send_resolved: w.sendResolved ?? true })),
      })),
    ],
  };
}

export interface RunningAlertmanager {
  readonly url: string;
  readonly port: number;
  log(): string;
  stop(): Promise<void>;
}

/** Starts Alertmanager on 127.0.0.1 (clustering off) with `config`; checks it with amtool-equivalent `--config.file` load. */
export async function startAlertmanager(config: Record<string, unknown>): Promise<RunningAlertmanager> {
  requireBinary(ALERTMANAGER_BIN);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-am-"));
  const configFile = path.join(dir, "alertmanager.yml");
  fs.writeFileSync(configFile, stringify(config));
  const port = await freePort();
  let logText = "";
  const child = track(
    spawn(ALERTMANAGER_BIN, [`--config.file=${configFile}`, `--storage.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address="], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
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
      "Alertmanager /-/ready",
      async () => {
        if (child.exitCode !== null) throw new Error(`alertmanager exited with ${child.exitCode}:\n${logText.slice(-2000)}`);
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(5_000) });
        return res.ok ? true : undefined;
      },
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, log: () => logText, stop };
}
