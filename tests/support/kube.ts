/**
 * A small Kubernetes API client for tests: node https with the admin client certificate of a test API server
 * (tests/support/apiserver.ts). Enough to install CRDs, create namespaces and read objects back; no npm deps.
 *
 *   const kube = new Kube(api);
 *   await kube.apply(crd);                      // server-side apply (fieldManager bizra-test, Strict)
 *   const live = await kube.get(obj);           // undefined when absent
 */
import * as fs from "fs";
import * as https from "https";

export interface KubeCredentials {
  server: string;
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

export class KubeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = "KubeError";
  }
}

export class Kube {
  private readonly agent: https.Agent;
  private readonly discovery = new Map<string, ApiResource[]>();

  constructor(private readonly creds: KubeCredentials) {
    this.agent = new https.Agent({
      ca: fs.readFileSync(creds.caFile),
      cert: fs.readFileSync(creds.clientCertFile),
      key: fs.readFileSync(creds.clientKeyFile),
      keepAlive: false,
    });
  }

  /** One request; resolves with the parsed JSON body, rejects with KubeError (the server's Status message). */
  request(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<unknown> {
    const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        `${this.creds.server}${path}`,
        {
          method,
          agent: this.agent,
          headers: { Accept: "application/json", ...(data !== undefined ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(data) } : {}) },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* not JSON */
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(parsed);
            else reject(new KubeError(status, `${method} ${path}: ${status} ${(parsed as { message?: string } | null)?.message ?? text}`, parsed));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on("error", reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  }

  private groupPath(apiVersion: string): string {
    return apiVersion === "v1" ? "/api/v1" : `/apis/${apiVersion}`;
  }

  /** Plural name and scope of a kind, by discovery (refetched on a miss, for a CRD applied a moment ago). */
  async resource(apiVersion: string, kind: string, waitMs = 30_000): Promise<ApiResource> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const cached = this.discovery.get(apiVersion)?.find((r) => r.kind === kind);
      if (cached) return cached;
      // an APIResourceList
      const list = (await this.request("GET", this.groupPath(apiVersion)).catch((e: unknown) => {
        if (e instanceof KubeError && e.status === 404) return { resources: [] };
        throw e;
      })) as { resources: ApiResource[] };
      this.discovery.set(
        apiVersion,
        list.resources.filter((r) => !r.name.includes("/")),
      );
      const found = this.discovery.get(apiVersion)?.find((r) => r.kind === kind);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Collection path of a kind (in `namespace` when it is namespaced). */
  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const r = await this.resource(apiVersion, kind);
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? "default")}` : "";
    return `${this.groupPath(apiVersion)}${ns}/${r.name}`;
  }

  async objectPath(obj: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): Promise<string> {
    return `${await this.collectionPath(obj.apiVersion, obj.kind, obj.metadata.namespace)}/${encodeURIComponent(obj.metadata.name)}`;
  }

  /** Server-side apply with strict field validation; returns the live object. */
  async apply(obj: KubeObject, fieldManager = "bizra-test"): Promise<KubeObject> {
    const path = await this.objectPath(obj);
    return this.object("PATCH", `${path}?fieldManager=${fieldManager}&force=true&fieldValidation=Strict`, obj, "application/apply-patch+yaml");
  }

  /**
   * Server-side apply of one YAML document as text: the API server parses it (Go YAML), which matters for upstream
   * files that the `yaml` package reads differently (e.g. a quoted scalar continued at its key's indentation).
   */
  async applyYaml(ref: Pick<KubeObject, "apiVersion" | "kind" | "metadata">, text: string, fieldManager = "bizra-test"): Promise<KubeObject> {
    const path = await this.objectPath(ref);
    return this.object("PATCH", `${path}?fieldManager=${fieldManager}&force=true&fieldValidation=Strict`, text, "application/apply-patch+yaml");
  }

  /** The live object, or undefined when it does not exist. */
  async get(obj: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): Promise<KubeObject | undefined> {
    try {
      return await this.object("GET", await this.objectPath(obj));
    } catch (e) {
      if (e instanceof KubeError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Every object of a kind (all namespaces). */
  async list(apiVersion: string, kind: string): Promise<KubeObject[]> {
    const r = await this.resource(apiVersion, kind);
    const out = await this.request("GET", `${this.groupPath(apiVersion)}/${r.name}`);
    return (out as { items: KubeObject[] }).items; // a <Kind>List
  }

  /** A request whose 2xx answer is one object (GET or apply of an object path). */
  private async object(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeObject> {
    const out = await this.request(method, path, body, contentType);
    if (out === null || typeof out !== "object" || !("kind" in out)) throw new Error(`${method} ${path}: expected an object, got ${JSON.stringify(out)}`);
    return out as KubeObject;
  }

  /** Waits until a CRD reports Established, so its kind is served. */
  async waitEstablished(name: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const crd = await this.get({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name } });
      const status = crd?.status as { conditions?: { type: string; status: string }[] } | undefined;
      const ok = (status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
