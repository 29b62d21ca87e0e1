/**
 * What every listener does before a route runs, and how its HTTP server is built:
 * - admission counts WORK, not requests: each request with a body reserves one unit per ITEM_WIRE_BYTES of declared
 *   body (the body limit when undeclared) from a budget of in-flight items, before the body is read; a request that
 *   does not fit is shed at once with 503 overloaded + Retry-After (no queue), so parsing, verifying and signing in
 *   flight stay bounded and `/healthz` (no body, never admitted) keeps answering;
 * - while shutting down, every request gets 503 shutting_down + Retry-After and `connection: close`;
 * - only `application/json` bodies, in UTF-8: other media types (text/plain included) get 415, and a declared charset
 *   other than utf-8 gets 415 naming it;
 * - the server closes a request that is not complete within requestTimeoutMs (408: slow or trickled bodies), keeps
 *   idle connections for a bounded time, and refuses connections beyond maxConnections.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { NodeMetrics } from "../metrics";

/** One admission unit per this many body bytes (a verify item is 320 to 440 bytes of JSON, by the length of its validator id). */
export const ITEM_WIRE_BYTES = 512;

export class Admission {
  private used = 0;
  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError("admission capacity must be a positive integer");
  }
  get inFlight(): number {
    return this.used;
  }
  tryAcquire(units: number): boolean {
    if (this.used + units > this.capacity) return false;
    this.used += units;
    return true;
  }
  release(units: number): void {
    this.used = Math.max(0, this.used - units);
  }
}

export interface ListenerLimits {
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
}

/** The node:http server for fastify's `serverFactory`, with every timeout and the connection cap set. */
export function serverFactory(limits: ListenerLimits) {
  return (handler: (req: IncomingMessage, res: ServerResponse) => void): Server => {
    const server = createServer(
      {
        requestTimeout: limits.requestTimeoutMs,
        headersTimeout: Math.min(limits.requestTimeoutMs, 10_000),
        keepAliveTimeout: 5_000,
        // how often node checks the two timeouts above (default 30 s would let a trickle run 30 s past its deadline)
        connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(limits.requestTimeoutMs / 4))),
      },
      handler,
    );
    server.maxConnections = limits.maxConnections;
    server.timeout = limits.requestTimeoutMs * 2; // idle socket
    return server;
  };
}

const declaredLength = (request: FastifyRequest): number | undefined => {
  const raw = request.headers["content-length"];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};

export interface GuardOptions {
  readonly admission: Admission;
  readonly metrics: NodeMetrics;
  readonly bodyLimitBytes: number;
  readonly isClosing: () => boolean;
}

const units = new WeakMap<FastifyRequest, number>();

function shed(reply: FastifyReply, error: string, message: string, retryAfterSeconds: number): FastifyReply {
  return reply.code(503).header("retry-after", String(retryAfterSeconds)).send({ error, message });
}

export function installGuards(app: FastifyInstance, o: GuardOptions): void {
  app.removeContentTypeParser("text/plain");
  app.addHook("onRequest", async (request, reply) => {
    if (o.isClosing()) {
      o.metrics.httpShedTotal.inc({ reason: "shutting_down" });
      reply.header("connection", "close");
      return shed(reply, "shutting_down", "the node is shutting down; retry on another replica", 5);
    }
    const hasBody = request.headers["content-length"] !== undefined ? declaredLength(request) !== 0 : request.headers["transfer-encoding"] !== undefined;
    if (!hasBody) return;
    const type = request.headers["content-type"];
    if (type !== undefined) {
      const [media, ...params] = type.split(";").map((p) => p.trim().toLowerCase());
      if (media !== "application/json") {
        return reply.code(415).send({ error: "unsupported_media_type", field: "headers.content-type", message: `content-type ${media} is not supported; send application/json` });
      }
      const charset = params.find((p) => p.startsWith("charset="))?.slice("charset=".length).replace(/^"|"$/g, "");
      if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
        return reply.code(415).send({ error: "unsupported_media_type", field: "headers.content-type", message: `charset ${charset} is not supported; send UTF-8 JSON` });
      }
    }
    const need = Math.max(1, Math.ceil(Math.min(declaredLength(request) ?? o.bodyLimitBytes, o.bodyLimitBytes) / ITEM_WIRE_BYTES));
    if (!o.admission.tryAcquire(need)) {
      o.metrics.httpShedTotal.inc({ reason: "overloaded" });
      return shed(reply, "overloaded", `${o.admission.inFlight} of ${o.admission.capacity} items in flight; this request needs ${need}`, 1);
    }
    units.set(request, need);
  });
  const release = async (request: FastifyRequest) => {
    const n = units.get(request);
    if (n !== undefined) {
      units.delete(request);
      o.admission.release(n);
    }
  };
  app.addHook("onResponse", release);
  app.addHook("onRequestAbort", release);
}
