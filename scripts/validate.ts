/**
 * `npm run validate -- <stack> [--window 15m] [--prometheus URL] [--out DIR] [--config FILE]`
 *
 * Post-deploy SLA validation of a deployed stack: asks its Prometheus about every SLO of the stack's table over the
 * window, writes a signed report (evidence bundle format: `post-deploy.json` + `manifest.json`, plus `report.html`
 * whose BLAKE3 digest the signed artifact carries) into `evidence/post-deploy/<stack>/`, prints the verdict and the
 * report path. Exit 0 go, 1 no-go (each failing SLO named), 2 could not judge (no data, Prometheus unreachable), 64
 * for a bad command line. `--config FILE`: a stack file (`config: {bizra:...}`) whose keys override
 * `Pulumi.<stack>.yaml`, e.g. to judge against a candidate SLO table.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseStackConfig } from "../components/config";
import { DASHBOARD_RATE_WINDOW } from "../components/dashboard";
import { ARTIFACT_SCHEMA, blake3Hex, gitInfo, loadEvidenceKey, machineInfo, signEvidence, writeArtifact, type EvidenceKey } from "@bizra/evidence";
import { offlineStackConfig, REPO_ROOT } from "./lib/stack-config";
import {
  EXIT_CODES,
  measureSlos,
  overallVerdict,
  parseWindow,
  reportCharts,
  type OverallVerdict,
  type SloRow,
} from "./lib/post-deploy";
import { prometheusApi, PrometheusQueryError, PrometheusUnreachable } from "./lib/prometheus-api";
import { reportHtml, type ChartData } from "./lib/report-html";

export const REPORT_ARTIFACT = "post-deploy.json";
export const REPORT_HTML = "report.html";
export const REPORT_KIND = "post-deploy";
export const USAGE = "usage: npm run validate -- <stack> [--window 15m] [--prometheus URL] [--out DIR] [--config FILE]";

/** `evidence/post-deploy/<stack>`: a bundle of its own beside the release evidence. */
export function defaultReportDir(stack: string): string {
  return path.join(REPO_ROOT, "evidence", REPORT_KIND, stack);
}

export interface ValidateArgs {
  readonly stack: string;
  readonly window: string;
  readonly prometheus?: string;
  readonly out?: string;
  readonly config?: string;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): ValidateArgs {
  let stack: string | undefined;
  let window = "15m";
  let prometheus: string | undefined;
  let out: string | undefined;
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === "--window") window = value();
    else if (a === "--prometheus") prometheus = value();
    else if (a === "--out") out = value();
    else if (a === "--config") config = value();
    else if (a.startsWith("--")) throw new UsageError(`unknown option ${a}\n${USAGE}`);
    else if (stack === undefined) stack = a;
    else throw new UsageError(`one stack only (found ${stack} and ${a})\n${USAGE}`);
  }
  if (stack === undefined) throw new UsageError(`no stack given\n${USAGE}`);
  if (!fs.existsSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`))) {
    const stacks = fs.readdirSync(REPO_ROOT).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);
    throw new UsageError(`no stack file Pulumi.${stack}.yaml; stacks: ${stacks.join(", ")}\n${USAGE}`);
  }
  try {
    parseWindow(window);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (prometheus !== undefined && !/^https?:\/\/\S+$/.test(prometheus)) throw new UsageError(`--prometheus: found ${JSON.stringify(prometheus)}; allowed: an http(s) URL\n${USAGE}`);
  if (config !== undefined && !fs.existsSync(config)) throw new UsageError(`--config: no file ${config}\n${USAGE}`);
  return { stack, window, ...(prometheus !== undefined ? { prometheus } : {}), ...(out !== undefined ? { out } : {}), ...(config !== undefined ? { config } : {}) };
}

export interface ValidateResult {
  readonly verdict: OverallVerdict;
  readonly exitCode: 0 | 1 | 2;
  readonly reasons: readonly string[];
  readonly rows: readonly SloRow[];
  readonly dir: string;
  readonly htmlFile: string;
}

/** Runs the validation and writes the signed report. */
export async function validate(args: ValidateArgs, opts: { key?: EvidenceKey; now?: Date } = {}): Promise<ValidateResult> {
  const overrides = args.config ? ((parse(fs.readFileSync(args.config, "utf8")) as { config?: Record<string, unknown> } | null)?.config ?? {}) : {};
  const raw = offlineStackConfig(args.stack, overrides);
  const { signingKeyValue: _secret, ...cfg } = parseStackConfig(args.stack, raw.values, raw.secretKeys);
  const prometheusUrl = args.prometheus ?? cfg.canary.prometheusAddress;
  const windowSeconds = parseWindow(args.window);
  const end = opts.now ?? new Date();
  const endSec = Math.floor(end.getTime() / 1000);
  const start = new Date((endSec - windowSeconds) * 1000);
  const selector = `namespace="${cfg.namespace}"`;
  // the node's API: its Service is the scrape job (the signer's Service is another job)
  const apiSelector = `${selector}, job="${cfg.appName}"`;
  const api = prometheusApi(prometheusUrl);
  const started = Date.now();

  let rows: SloRow[] = [];
  let verdict: OverallVerdict;
  let reasons: string[];
  const charts: ChartData[] = [];
  try {
    rows = await measureSlos(api, cfg.slos, selector, args.window, endSec, apiSelector);
    ({ verdict, reasons } = overallVerdict(rows));
    const step = Math.max(5, Math.floor(windowSeconds / 120));
    for (const chart of reportCharts(cfg.slos, selector, cfg.appName, cfg.namespace, DASHBOARD_RATE_WINDOW)) {
      const series = [];
      for (const q of chart.queries) series.push(await api.range(q.query, endSec - windowSeconds, endSec, step));
      charts.push({ chart, series });
    }
  } catch (err) {
    if (!(err instanceof PrometheusUnreachable || err instanceof PrometheusQueryError)) throw err;
    verdict = "could-not-judge";
    reasons = [err.message];
  }

  const dir = path.resolve(args.out ?? defaultReportDir(args.stack));
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.endsWith(".json") || f === REPORT_HTML) fs.rmSync(path.join(dir, f));
  const git = gitInfo();
  const html = await reportHtml({ stack: args.stack, verdict, reasons, prometheusUrl, window: args.window, start, end: new Date(endSec * 1000), commit: git.commit, rows, charts });
  const htmlFile = path.join(dir, REPORT_HTML);
  fs.writeFileSync(htmlFile, html);
  const exitCode = EXIT_CODES[verdict];
  writeArtifact(dir, REPORT_ARTIFACT, {
    schema: ARTIFACT_SCHEMA,
    kind: REPORT_KIND,
    title: `Post-deploy SLA validation of ${args.stack}`,
    method:
      `npm run validate -- ${args.stack} --window ${args.window}: one instant query per SLO of the stack's table to ${prometheusUrl} at the end ` +
      `of the window (rates and quantiles over the whole window, selector ${selector}; the API SLOs ${apiSelector}), judged against the table; charts from range queries.`,
    createdAt: new Date().toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    machine: machineInfo(),
    git,
    gates: [],
    results: {
      stack: args.stack,
      verdict,
      exitCode,
      reasons,
      prometheusUrl,
      selector,
      apiSelector,
      window: args.window,
      windowSeconds,
      start: start.toISOString(),
      end: new Date(endSec * 1000).toISOString(),
      slos: rows,
      html: { file: REPORT_HTML, blake3: blake3Hex(new Uint8Array(fs.readFileSync(htmlFile))) },
    },
  });
  signEvidence(dir, { key: opts.key ?? loadEvidenceKey(), git });
  return { verdict, exitCode, reasons, rows, dir, htmlFile };
}

async function main(): Promise<number> {
  let args: ValidateArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return 64;
    }
    throw err;
  }
  const r = await validate(args);
  const label = { go: "GO", "no-go": "NO-GO", "could-not-judge": "COULD NOT JUDGE" }[r.verdict];
  for (const row of r.rows) process.stdout.write(`  ${row.verdict.padEnd(7)} ${row.id.padEnd(22)} ${row.reason}\n`);
  process.stdout.write(`${label}: ${args.stack}${r.reasons.length > 0 ? `\n${r.reasons.map((x) => `  - ${x}`).join("\n")}` : ""}\n`);
  process.stdout.write(`report: ${r.htmlFile}\nsigned: ${path.join(r.dir, "manifest.json")}\n`);
  return r.exitCode;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`validate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}
