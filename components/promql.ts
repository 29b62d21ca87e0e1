/**
 * PromQL builders shared by the alert rules, the dashboard, the Flagger MetricTemplates and `npm run validate`:
 * one text for each measure, so an alert, a panel and a canary check that speak of the same SLO ask the same
 * question. Pure string functions.
 */
import { METRICS, ROUTES } from "@bizra/contract";

/** A PromQL number literal (PromQL accepts JS's exponent form, e.g. `5e-7`). */
export function promNumber(n: number): string {
  return String(n);
}

/** `histogram_quantile(q, sum by (le) (rate(<histogram>_bucket{sel}[w])))`. */
export function histogramQuantile(q: number, histogram: string, selector: string, window: string): string {
  return `histogram_quantile(${q}, sum by (le) (rate(${histogram}_bucket{${selector}}[${window}])))`;
}

/** `sum(rate(<counter>{sel}[w]))`. */
export function counterRate(counter: string, selector: string, window: string): string {
  return `sum(rate(${counter}{${selector}}[${window}]))`;
}

/**
 * `<counter rate> or vector(0)`: a labelled counter has no series until its first increment, and without this an
 * expression over it (an error or failure share) is empty instead of 0 while nothing has failed yet.
 */
export function counterRateOrZero(counter: string, selector: string, window: string): string {
  return `(${counterRate(counter, selector, window)} or vector(0))`;
}

/** PoI verification success ratio: successes / (successes + failures of every reason). */
export function poiSuccessRatio(selector: string, window: string): string {
  const ok = counterRate(METRICS.poiVerifyTotal, selector, window);
  const failed = counterRateOrZero(METRICS.poiVerifyFailTotal, selector, window);
  return `${ok} / (${ok} + ${failed})`;
}

/** Share of API answers that are 5xx (0 while there are requests and no 5xx). */
export function apiErrorRatio(selector: string, window: string): string {
  return `${counterRateOrZero(METRICS.httpRequestsTotal, `${selector}, status_code=~"5.."`, window)} / ${counterRate(METRICS.httpRequestsTotal, selector, window)}`;
}

/** The verification routes: a 503 there is a verification the node refused (load shed or circuit open). */
export const VERIFY_ROUTES_REGEX = [ROUTES.attestationsVerify, ROUTES.attestationsVerifyBatch].join("|");

/** Verification requests refused per second (503 on the verification routes): demand the node could not serve. */
export function verificationsShedRate(selector: string, window: string): string {
  return counterRateOrZero(METRICS.httpRequestsTotal, `${selector}, route=~"${VERIFY_ROUTES_REGEX}", status_code="503"`, window);
}
