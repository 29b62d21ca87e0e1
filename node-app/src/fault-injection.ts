/**
 * Fault injection for drills and for proving that `npm run validate` says no-go: a share of API requests under
 * `/v1/` is answered 500 `fault_injected` (health, readiness and metrics are never touched). Off unless
 * `BIZRA_FAULT_ERROR_RATE` is set; the Pulumi program refuses to set it for the production stack.
 */
import type { FastifyInstance } from "fastify";
import { ENV } from "@bizra/contract";
import { ConfigError } from "./config";

/** Reads `BIZRA_FAULT_ERROR_RATE`: a share in [0, 1], default 0 (off). */
export function faultErrorRateFromEnv(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env[ENV.faultErrorRate];
  if (raw === undefined || raw === "") return 0;
  const rate = /^(0(\.[0-9]+)?|1(\.0+)?)$/.test(raw) ? Number(raw) : NaN;
  if (Number.isNaN(rate)) throw new ConfigError(`${ENV.faultErrorRate}: found ${JSON.stringify(raw)}; allowed: a share from 0 to 1 (0 = off)`);
  return rate;
}

/** Installs the fault: each `/v1/` request fails with probability `rate` (Math.random: a drill, not a proof). */
export function installFaultInjection(app: FastifyInstance, rate: number, random: () => number = Math.random): void {
  if (rate <= 0) return;
  app.addHook("onRequest", async (request, reply) => {
    if (!request.url.startsWith("/v1/") || random() >= rate) return;
    await reply.code(500).send({ error: "fault_injected", message: `${ENV.faultErrorRate}=${rate}: injected failure` });
  });
}
