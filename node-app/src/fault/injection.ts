/**
 * Fault injection for canary tests: answers a share of API requests (`/v1/...`) with 500 `injected_fault` before
 * the route runs, so a release built with it on has a raised error rate that the canary's error-rate check and the
 * alerts must catch. Off by default (share 0). Health, readiness and metrics are never faulted: the pods stay Ready
 * and scraped, as a buggy release would.
 *
 * Env `BIZRA_FAULT_ERROR_SHARE`: a number in [0, 1]. The Pulumi program never sets it; a test stack sets it through
 * the Deployment's environment.
 */
import type { FastifyInstance } from "fastify";
import { ENV } from "@bizra/contract";

export const FAULT_ERROR_SHARE_ENV = ENV.faultErrorShare;
export const INJECTED_FAULT_CODE = "injected_fault";

/** The configured share, 0 when unset; throws naming the variable and what is allowed. */
export function faultErrorShare(env: NodeJS.ProcessEnv): number {
  const raw = env[FAULT_ERROR_SHARE_ENV];
  if (raw === undefined || raw.trim() === "") return 0;
  const v = Number(raw);
  if (!/^\s*(0|1|0?\.\d+|1\.0*)\s*$/.test(raw) || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new RangeError(`${FAULT_ERROR_SHARE_ENV}: got ${JSON.stringify(raw)}, allowed: a number from 0 to 1 (share of /v1 requests answered 500)`);
  }
  return v;
}

/** Adds the hook (nothing when share is 0). `random` is injectable for tests. */
export function installFaultInjection(app: FastifyInstance, share: number, random: () => number = Math.random): void {
  if (share <= 0) return;
  app.addHook("onRequest", async (request, reply) => {
    if (!request.url.startsWith("/v1/")) return;
    if (random() < share) await reply.code(500).send({ error: INJECTED_FAULT_CODE, message: `fault injection (${FAULT_ERROR_SHARE_ENV}=${share})` });
  });
}
