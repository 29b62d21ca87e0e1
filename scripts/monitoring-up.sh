#!/usr/bin/env bash
# For operators: node-app + Prometheus on loopback, configured from the rendered ServiceMonitor and PrometheusRule,
# like tests/monitoring-e2e.test.ts does (docs/monitoring.md). Runs until Ctrl-C; stops both and removes its temp dir.
#   bash scripts/monitoring-up.sh [testnet|production]      (PROM_PORT=9090 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
stack="${1:-testnet}"
prom_port="${PROM_PORT:-9090}"
tmp="$(mktemp -d -t bizra-monitoring-XXXXXX)"
node_pid=""; prom_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

npm run --silent render -- "$stack" >/dev/null
openssl rand -hex 24 >"$tmp/signer-token"
(cd node-app && BIZRA_API_PORT=0 BIZRA_METRICS_PORT=0 BIZRA_SIGNER_PORT=0 BIZRA_HOST=127.0.0.1 \
  BIZRA_SIGNING_KEY="${BIZRA_SIGNING_KEY:-$(openssl rand -hex 32)}" \
  BIZRA_SIGNER_TOKEN_FILE="$tmp/signer-token" BIZRA_SIGNER_STATE_FILE="$tmp/signer-state.json" \
  exec node -r ts-node/register/transpile-only src/main.ts >"$tmp/node.log" 2>&1) &
node_pid=$!
for _ in $(seq 1 240); do grep -q '"node started"' "$tmp/node.log" 2>/dev/null && break; sleep 0.5; done
started="$(grep '"node started"' "$tmp/node.log")" || { cat "$tmp/node.log"; exit 1; }

STARTED="$started" STACK="$stack" OUT="$tmp" npx ts-node --transpile-only -e '
  const fs = require("fs"); const { parse, stringify } = require("yaml");
  const dir = `rendered/${process.env.STACK}`;
  const sm = parse(fs.readFileSync(fs.readdirSync(dir).filter((f) => f.startsWith("servicemonitor-")).map((f) => `${dir}/${f}`)[0], "utf8"));
  const { scrapeConfigFor } = require("./tests/support/prometheus");
  const { metricsPort } = JSON.parse(process.env.STARTED);
  const job = scrapeConfigFor(sm, `127.0.0.1:${metricsPort}`, { namespace: sm.metadata.namespace, pod: `${sm.metadata.name}-5d8c7f9b4-x2x7q`, service: sm.metadata.name });
  fs.copyFileSync(`${dir}/prometheus-rules.yaml`, `${process.env.OUT}/prometheus-rules.yaml`);
  fs.writeFileSync(`${process.env.OUT}/prometheus.yml`, stringify({ global: { evaluation_interval: "1s" }, rule_files: ["prometheus-rules.yaml"], scrape_configs: [job] }));
'
[ -s "$tmp/prometheus.yml" ] || { echo "could not write the Prometheus config" >&2; exit 1; }
promtool check config "$tmp/prometheus.yml" >/dev/null

prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
echo "node-app:   $(echo "$started" | grep -o '"apiPort":[0-9]*,"metricsPort":[0-9]*,"signerPort":[0-9]*')   (pid $node_pid, log $tmp/node.log)"
echo "signer:     Authorization: Bearer $(cat "$tmp/signer-token")"
echo "prometheus: http://127.0.0.1:$prom_port   (pid $prom_pid, config $tmp/prometheus.yml)"
echo "Ctrl-C stops both."
wait "$prom_pid"
