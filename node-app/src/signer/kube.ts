/** A minimal Kubernetes API client (the signer's Lease and its own pod's label): JSON over HTTPS with a bearer token. */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface KubeAccess {
  /** https://host:port */
  readonly server: string;
  readonly caFile: string;
  /** Read on every call: projected service-account tokens rotate. */
  readonly tokenFile: string;
}

/** In-cluster access from the pod's service account, unless overridden. */
export function kubeAccess(over: { server?: string | undefined; caFile?: string | undefined; tokenFile?: string | undefined }): KubeAccess {
  const host = process.env["KUBERNETES_SERVICE_HOST"];
  const port = process.env["KUBERNETES_SERVICE_PORT"] ?? "443";
  const server = over.server ?? (host !== undefined ? `https://${host.includes(":") ? `[${host}]` : host}:${port}` : undefined);
  if (server === undefined) throw new Error("no Kubernetes API server: set BIZRA_KUBE_API_URL or run in a pod (KUBERNETES_SERVICE_HOST)");
  return { server, caFile: over.caFile ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`, tokenFile: over.tokenFile ?? `${SERVICE_ACCOUNT_DIR}/token` };
}

/** PATCH bodies are JSON merge patches (RFC 7386: null deletes a key); everything else is a whole object. */
const contentType = (method: string) => (method === "PATCH" ? "application/merge-patch+json" : "application/json");

export class KubeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "KubeError";
  }
}

export class KubeClient {
  private readonly agent: Agent;
  constructor(
    readonly access: KubeAccess,
    private readonly timeoutMs = 5_000,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 4, ca: readFileSync(access.caFile) });
  }

  /** Sends `body` as JSON (PATCH: a JSON merge patch, RFC 7386); resolves the parsed response for 2xx, rejects KubeError(status) otherwise. */
  call<T>(method: "GET" | "POST" | "PUT" | "PATCH", path: string, body?: unknown): Promise<T> {
    const token = readFileSync(this.access.tokenFile, "utf8").trim();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        new URL(path, this.access.server),
        {
          method,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: {
            authorization: `Bearer ${token}`,
            accept: "application/json",
            ...(payload !== undefined ? { "content-type": contentType(method), "content-length": Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              try {
                resolve(JSON.parse(text) as T);
              } catch {
                reject(new KubeError(status, `${method} ${path}: response is not JSON`));
              }
            } else {
              let reason = text.slice(0, 300);
              try {
                reason = (JSON.parse(text) as { message?: string }).message ?? reason;
              } catch {
                /* keep the raw text */
              }
              reject(new KubeError(status, `${method} ${path}: ${status} ${reason}`));
            }
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new KubeError(0, `${method} ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on("error", (err) => reject(err instanceof KubeError ? err : new KubeError(0, `${method} ${path}: ${err.message}`)));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
