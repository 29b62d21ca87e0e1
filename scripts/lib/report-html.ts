/**
 * The post-deploy report as one self-contained HTML page: verdict, one row per SLO, and charts drawn with
 * Vega-Lite (compiled to Vega, rendered to SVG in Node, inlined). No script, no external resource.
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { ChartDefinition, OverallVerdict, SloRow } from "./post-deploy";
import type { RangeSeries } from "./prometheus-api";

export interface ChartData {
  readonly chart: ChartDefinition;
  /** One entry per query, in the chart's order. */
  readonly series: readonly (readonly RangeSeries[])[];
}

export interface ReportPage {
  readonly stack: string;
  readonly verdict: OverallVerdict;
  readonly reasons: readonly string[];
  readonly prometheusUrl: string;
  readonly window: string;
  readonly start: Date;
  readonly end: Date;
  readonly commit: string;
  readonly rows: readonly SloRow[];
  readonly charts: readonly ChartData[];
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

const AXIS_FORMAT: Record<string, { title: string; scale: number; format: string }> = {
  seconds: { title: "milliseconds", scale: 1000, format: ",.3~f" },
  per_second: { title: "per second", scale: 1, format: ",.3~s" },
  ratio: { title: "percent", scale: 100, format: ",.2~f" },
  percent: { title: "percent", scale: 1, format: ",.0f" },
  basis_points: { title: "basis points", scale: 1, format: ",.0f" },
};

/** Rows `{time, series, value}` of one chart (NaN and infinite points dropped). */
export function chartRows(data: ChartData): { time: string; series: string; value: number }[] {
  const axis = AXIS_FORMAT[data.chart.unit] ?? { scale: 1 };
  return data.chart.queries.flatMap((q, i) =>
    (data.series[i] ?? []).flatMap((s) => {
      const name = data.chart.splitBy ? (s.labels[data.chart.splitBy] ?? q.legend) : q.legend;
      return s.points.filter((p) => Number.isFinite(p.v)).map((p) => ({ time: new Date(p.t * 1000).toISOString(), series: name, value: p.v * axis.scale }));
    }),
  );
}

/** The Vega-Lite spec of one chart: a line per series, the SLO bound as a dashed rule. */
export function chartSpec(data: ChartData): vl.TopLevelSpec {
  const axis = AXIS_FORMAT[data.chart.unit] ?? { title: data.chart.unit, scale: 1, format: ",.3~g" };
  const rows = chartRows(data);
  const lines = {
    data: { values: rows },
    mark: { type: "line" as const, point: rows.length < 40, interpolate: "monotone" as const },
    encoding: {
      x: { field: "time", type: "temporal" as const, title: "time (UTC)", axis: { format: "%H:%M:%S" } },
      y: { field: "value", type: "quantitative" as const, title: axis.title, axis: { format: axis.format } },
      color: { field: "series", type: "nominal" as const, title: null, legend: { orient: "bottom" as const, columns: 2, labelLimit: 320 } },
    },
  };
  const slo = data.chart.slo;
  const layers: Record<string, unknown>[] = [lines];
  if (slo && rows.length > 0) {
    layers.push({
      data: { values: [{ bound: slo.value * axis.scale, label: `SLO ${slo.id}` }] },
      mark: { type: "rule", strokeDash: [6, 4], color: "#c0392b" },
      encoding: { y: { field: "bound", type: "quantitative" } },
    });
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: data.chart.title,
    width: 520,
    height: 200,
    config: { font: "DejaVu Sans, sans-serif", view: { stroke: "#ddd" } },
    layer: layers,
  } as unknown as vl.TopLevelSpec; // built as plain JSON; vl.compile validates it
}

/** Vega-Lite -> Vega -> SVG text, headless (no canvas, no browser). */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const VERDICT_TEXT: Record<OverallVerdict, { label: string; color: string }> = {
  go: { label: "GO", color: "#1e8449" },
  "no-go": { label: "NO-GO", color: "#c0392b" },
  "could-not-judge": { label: "COULD NOT JUDGE", color: "#b9770e" },
};

function formatMeasured(row: SloRow): string {
  if (row.measured === undefined) return "no data";
  const v = row.measured;
  switch (row.id === "fastFinalityBp" ? "count" : row.unit) {
    case "seconds":
      return v < 0.001 ? `${(v * 1e6).toPrecision(4)} µs` : `${(v * 1e3).toPrecision(4)} ms`;
    case "ratio":
      return `${(v * 100).toPrecision(5)} %`;
    case "per_second":
      return `${v.toPrecision(5)} /s`;
    default:
      return String(v);
  }
}

/** The whole page. */
export async function reportHtml(page: ReportPage): Promise<string> {
  const v = VERDICT_TEXT[page.verdict];
  const rows = page.rows
    .map(
      (r) =>
        `<tr class="${r.verdict}"><td><code>${escapeHtml(r.id)}</code><br><small>${escapeHtml(r.description)}</small></td><td>${escapeHtml(r.severity)}</td>` +
        `<td>${escapeHtml(r.bound)}</td><td>${escapeHtml(formatMeasured(r))}</td><td class="v">${escapeHtml(r.verdict)}</td><td><small>${escapeHtml(r.reason)}</small></td></tr>`,
    )
    .join("\n");
  const charts: string[] = [];
  for (const c of page.charts) {
    const rowsOf = chartRows(c);
    charts.push(
      rowsOf.length === 0
        ? `<figure><figcaption>${escapeHtml(c.chart.title)}</figcaption><p class="nodata">no data in the window for ${c.chart.queries.map((q) => `<code>${escapeHtml(q.query)}</code>`).join(", ")}</p></figure>`
        : `<figure>${await renderSvg(chartSpec(c))}</figure>`,
    );
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Post-deploy validation: ${escapeHtml(page.stack)}: ${v.label}</title>
<style>
body{font-family:"DejaVu Sans",sans-serif;margin:24px;color:#222;max-width:1200px}
.verdict{display:inline-block;padding:6px 16px;border-radius:4px;color:#fff;background:${v.color};font-size:22px;font-weight:bold}
table{border-collapse:collapse;width:100%;margin:16px 0;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
tr.fail td.v{color:#c0392b;font-weight:bold}tr.pass td.v{color:#1e8449}tr.no-data td.v{color:#b9770e;font-weight:bold}tr.info td.v{color:#777}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}figure{margin:0;border:1px solid #eee;padding:6px}
.nodata{color:#777;font-size:12px}code{font-size:12px}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:13px}
</style></head><body>
<h1>Post-deploy validation of <code>${escapeHtml(page.stack)}</code></h1>
<p><span class="verdict">${v.label}</span></p>
${page.reasons.length > 0 ? `<ul>${page.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join("")}</ul>` : ""}
<dl><dt>window</dt><dd>${escapeHtml(page.window)}: ${page.start.toISOString()} to ${page.end.toISOString()}</dd>
<dt>Prometheus</dt><dd><code>${escapeHtml(page.prometheusUrl)}</code></dd><dt>commit</dt><dd><code>${escapeHtml(page.commit)}</code></dd></dl>
<table><thead><tr><th>SLO</th><th>severity</th><th>bound</th><th>measured</th><th>verdict</th><th>reason</th></tr></thead><tbody>
${rows}
</tbody></table>
<div class="charts">
${charts.join("\n")}
</div>
</body></html>
`;
}
