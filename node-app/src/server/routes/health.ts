/** Liveness (always 200 while the event loop turns) and readiness (each check named, with the reasons it fails). */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { ROUTES } from "@bizra/contract";

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Record<string, boolean>;
  /** One sentence per failing check. */
  readonly reasons: readonly string[];
}

export const healthRoutes: FastifyPluginAsyncTypebox<{ ready: () => Readiness }> = async (app, opts) => {
  app.get(ROUTES.healthz, async () => ({ status: "ok" }));
  app.get(ROUTES.readyz, async (_request, reply) => {
    const r = opts.ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? "ready" : "not_ready", checks: r.checks, reasons: r.reasons });
  });
};
