/**
 * Alert routing end to end: the AlertmanagerConfig the program renders (`bizra:alerting`), merged the way Prometheus
 * Operator merges it, loaded into a real Alertmanager (Debian `prometheus-alertmanager`, loopback); a real Prometheus
 * evaluating the rendered rules against a real node sends its alerts there. A replayed attestation raises the
 * critical `ReplayAttackDetected`, which must reach the paging webhook (a loopback HTTP server) and not the ticket one.
 * Every process and server started here is stopped in `after`.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { stringify } from "yaml";
import { SEVERITY_RECEIVERS } from "../components/alertmanager";
import type { AlertmanagerConfig } from "../components/crds/monitoring";
import { ROUTES } from "@bizra/contract";
import { kubernetesObjects, runProgram } from "../scripts/lib/mock-runtime";
import { ofKind, type KubeObject } from "../scripts/lib/kube-kinds";
import { nodeServiceMonitor, nth, single } from "./support/stack";
import { offlineStackConfig } from "../scripts/lib/stack-config";
import { ALERTMANAGER_BIN, operatorAlertmanagerConfig, startAlertmanager, type RunningAlertmanager } from "./support/alertmanager";
import { loopbackNodeEnv, postJson, signAttestation, startNodeProcess, type NodeProcess, type VerifyAnswer } from "./support/node-app";
import { stopChild, waitFor } from "./support/process";
import { PROMETHEUS_BIN, requireBinary, scrapeConfigFor, startPrometheus, type RunningPrometheus } from "./support/prometheus";

const STACK = "testnet";

interface Delivery {
  readonly path: string;
  readonly body: { status: string; alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[] };
}

describe("alert routing end to end: Prometheus -> Alertmanager -> webhook, by severity", function () {
  this.timeout(300_000);
  const deliveries: Delivery[] = [];
  let receiver: http.Server | undefined;
  let node: NodeProcess | undefined;
  let prom: RunningPrometheus | undefined;
  let am: RunningAlertmanager | undefined;
  let amc: AlertmanagerConfig;
  let objects: KubeObject[];
  let hookBase: string;

  before(async () => {
    requireBinary(PROMETHEUS_BIN);
    requireBinary(ALERTMANAGER_BIN);
    receiver = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        deliveries.push({ path: req.url ?? "", body: JSON.parse(body) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => (receiver as http.Server).listen(0, "127.0.0.1", r));
    hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const run = await runProgram(
      STACK,
      offlineStackConfig(STACK, {
        // short group timings so the test sees a delivery within seconds; the defaults are 30s / 5m / 4h
        "bizra:alerting": { criticalWebhookUrl: `${hookBase}/page`, warningWebhookUrl: `${hookBase}/ticket`, groupWait: "1s", groupInterval: "1s" },
      }),
    );
    objects = kubernetesObjects(run);
    amc = single(ofKind(objects, "AlertmanagerConfig"), "AlertmanagerConfig (rendered when bizra:alerting is set)");
  });

  after(async () => {
    if (node) await stopChild(node.child);
    if (prom) await prom.stop();
    if (am) await am.stop();
    if (receiver) await new Promise<void>((r) => (receiver as http.Server).close(() => r()));
  });

  it("routes by severity: critical to the paging receiver, warning (and anything else) to the ticket receiver", async () => {
    const { route, receivers } = amc.spec;
    assert.equal(route.receiver, SEVERITY_RECEIVERS.warning);
    assert.deepEqual(
      route.routes?.map((r) => [r.matchers?.map((m) => `${m.name}${m.matchType}${m.value}`), r.receiver]),
      [
        [["severity=critical"], "page"],
        [["severity=warning"], "ticket"],
      ],
    );
    assert.deepEqual(receivers.map((r) => [r.name, r.webhookConfigs?.[0]?.url]), [
      ["page", `${hookBase}/page`],
      ["ticket", `${hookBase}/ticket`],
    ]);
    const without = kubernetesObjects(await runProgram(STACK, offlineStackConfig(STACK)));
    assert.equal(without.filter((o) => o.kind === "AlertmanagerConfig").length, 0, "no bizra:alerting, no routing object");
  });

  it("a replayed attestation's critical alert reaches the paging webhook, not the ticket webhook", async () => {
    am = await startAlertmanager(operatorAlertmanagerConfig(amc));
    const sm = nodeServiceMonitor(ofKind(objects, "ServiceMonitor"));
    const rule = single(ofKind(objects, "PrometheusRule"), "PrometheusRule");
    const ns = sm.metadata.namespace ?? assert.fail("the ServiceMonitor has a namespace");
    node = await startNodeProcess(loopbackNodeEnv());
    prom = await startPrometheus({
      config: {
        global: { scrape_interval: nth(sm.spec.endpoints, 0, "ServiceMonitor endpoint").interval, evaluation_interval: "1s" },
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${am.port}`] }] }] },
        scrape_configs: [scrapeConfigFor(sm, `127.0.0.1:${node.metricsPort}`, { namespace: ns, pod: `${sm.metadata.name}-5d8c7f9b4-x2x7q`, service: sm.metadata.name })],
      },
      ruleFiles: { "prometheus-rules.yaml": stringify(rule.spec) },
    });
    const p = prom;
    await waitFor("the node target to be scraped", async () => ((await p.targets()).some((t) => t.health === "up") ? true : undefined), 90_000);

    const signed = await signAttestation(node, 1);
    const attestation = { encoding: signed.body.encoding, signature: signed.body.signature };
    assert.equal((await postJson<VerifyAnswer>(node.apiPort, ROUTES.attestationsVerify, attestation)).body.valid, true);
    const replay = await postJson<VerifyAnswer>(node.apiPort, ROUTES.attestationsVerify, attestation);
    assert.deepEqual([replay.body.valid, replay.body.reason], [false, "replayed"]);

    const paged = await waitFor(
      "ReplayAttackDetected delivered to the paging webhook",
      async () => deliveries.find((d) => d.path === "/page" && d.body.alerts.some((a) => a.labels.alertname === "ReplayAttackDetected")),
      120_000,
    );
    const alert = paged.body.alerts.find((a) => a.labels.alertname === "ReplayAttackDetected")!;
    assert.equal(alert.status, "firing");
    assert.equal(alert.labels.severity, "critical");
    assert.equal(alert.labels.namespace, ns);
    assert.match(alert.annotations.runbook_url ?? "", /docs\/runbooks\.md#replayattackdetected$/);
    const ticketed = deliveries.filter((d) => d.path === "/ticket").flatMap((d) => d.body.alerts.map((a) => a.labels.alertname));
    assert.ok(!ticketed.includes("ReplayAttackDetected"), `the ticket webhook got ${ticketed.join(", ")}`);
  });
});
