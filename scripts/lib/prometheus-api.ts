/**
 * A small client of Prometheus's HTTP API (`/api/v1/query`, `/api/v1/query_range`) on Node's fetch. Every failure
 * is a `PrometheusUnreachable` (network, HTTP status, non-JSON answer) or a `PrometheusQueryError` (the API said
 * `status: error`, e.g. a PromQL syntax error), with the URL and the cause in the message.
 */

export class PrometheusUnreachable extends Error {
  constructor(
    readonly url: string,
    cause: string,
  ) {
    super(`Prometheus at ${url} could not be reached: ${cause}`);
    this.name = "PrometheusUnreachable";
  }
}

export class PrometheusQueryError extends Error {
  constructor(
    readonly query: string,
    cause: string,
  ) {
    super(`Prometheus refused the query ${query}: ${cause}`);
    this.name = "PrometheusQueryError";
  }
}

export interface InstantSample {
  readonly labels: Record<string, string>;
  /** NaN when Prometheus answers NaN (e.g. a quantile over no observations). */
  readonly value: number;
}

export interface RangeSeries {
  readonly labels: Record<string, string>;
  readonly points: { readonly t: number; readonly v: number }[];
}

export interface PrometheusApi {
  readonly url: string;
  /** Instant query at `time` (seconds since the epoch). */
  instant(query: string, time: number): Promise<InstantSample[]>;
  /** Range query from `start` to `end` (seconds) every `stepSeconds`. */
  range(query: string, start: number, end: number, stepSeconds: number): Promise<RangeSeries[]>;
}

/** `http://host:9090` (a trailing `/` is dropped) -> client. */
export function prometheusApi(baseUrl: string, timeoutMs = 15_000): PrometheusApi {
  const url = baseUrl.replace(/\/+$/, "");
  /** The `data` of a query answer: its `resultType` is checked by the caller before `result` is read. */
  async function call(path: string, params: Record<string, string>, query: string): Promise<{ resultType?: string; result?: unknown } | undefined> {
    const target = `${url}${path}?${new URLSearchParams(params).toString()}`;
    let res: Response;
    try {
      res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new PrometheusUnreachable(url, cause?.code ?? cause?.message ?? (err as Error).message);
    }
    let body: { status?: string; data?: unknown; error?: string; errorType?: string };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new PrometheusUnreachable(url, `HTTP ${res.status} with a body that is not Prometheus API JSON`);
    }
    if (body.status !== "success") {
      if (res.status >= 500 && body.errorType === undefined) throw new PrometheusUnreachable(url, `HTTP ${res.status}`);
      throw new PrometheusQueryError(query, `${body.errorType ?? `HTTP ${res.status}`}: ${body.error ?? "no error text"}`);
    }
    return body.data as { resultType?: string; result?: unknown } | undefined;
  }
  return {
    url,
    async instant(query, time) {
      const data = await call("/api/v1/query", { query, time: String(time) }, query);
      if (data?.resultType !== "vector") throw new PrometheusQueryError(query, `expected a vector, got ${data?.resultType}`);
      return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({ labels: s.metric, value: Number(s.value[1]) }));
    },
    async range(query, start, end, stepSeconds) {
      const data = await call("/api/v1/query_range", { query, start: String(start), end: String(end), step: String(stepSeconds) }, query);
      if (data?.resultType !== "matrix") throw new PrometheusQueryError(query, `expected a matrix, got ${data?.resultType}`);
      return (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((s) => ({
        labels: s.metric,
        points: s.values.map(([t, v]) => ({ t, v: Number(v) })),
      }));
    },
  };
}
