/**
 * One active signer across replicas: a Kubernetes Lease elects it, and the same Lease holds the high-water mark in
 * an annotation, so every change of the mark is a compare-and-swap on the Lease's resourceVersion.
 *
 * Election (client-go's leaderelection, simplified): every `retryMs` each candidate reads the Lease. The holder
 * renews it; another candidate takes it over only after it has seen the Lease unchanged for `leaseMs` (measured on
 * its own monotonic clock, so clocks need not agree). A holder stops signing `renewDeadlineMs` after the start of its
 * last successful write unless it renewed since (renewDeadlineMs < leaseMs).
 *
 * Safety does not rest on the timing: a signature is produced only after `commit` wrote the new mark with the
 * resourceVersion this process last read. A deposed holder that still believes it leads fails that write (409
 * Conflict, the successor's takeover changed the version) and signs nothing. Liveness rests on the timing: after the
 * holder dies, signing resumes within leaseMs + retryMs (+ one API round trip).
 *
 * Routing (optional, `pod`): the active signer labels its own pod `SIGNER_ROLE_LABEL=active` and removes the label
 * when it stops being active or stops, so a Service selecting the label sends sign requests to it alone. The label
 * is written apart from the election (a slow or refused patch never delays a renewal) and decides nothing: a pod
 * that carries it stale (deposed while cut off from the API server) still refuses to sign.
 */
import { performance } from "node:perf_hooks";
import { SIGNER_ROLE_ACTIVE, SIGNER_ROLE_LABEL } from "@bizra/contract";
import { KubeClient, KubeError, type KubeAccess } from "./kube";
import { NotSignerError, parseRecord, sameRecord, StateConflictError, type SignRecord, type SignerStateStore } from "./high-water-mark";

export const STATE_ANNOTATION = "bizra.io/signer-high-water-mark";

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaseStoreOptions {
  readonly access: KubeAccess;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseSeconds: number;
  /** This process's pod (in `namespace`): labelled `SIGNER_ROLE_LABEL=active` while active. Undefined: no label. */
  readonly pod?: string | undefined;
  /** Called on every change of the active flag (for the metric and the log). */
  readonly onActiveChange?: (active: boolean, holder: string | undefined) => void;
  readonly onError?: (err: Error) => void;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export class LeaseStateStore implements SignerStateStore {
  readonly kind = "lease";
  readonly leaseMs: number;
  readonly retryMs: number;
  readonly renewDeadlineMs: number;
  private readonly client: KubeClient;
  private readonly path: string;
  private lease: Lease | undefined;
  private observedVersion: string | undefined;
  private observedAt = 0;
  private activeUntil = 0;
  private wasActive = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Writes (renew, takeover, commit, release) one at a time, so each uses the version the previous one produced. */
  private writes: Promise<unknown> = Promise.resolve();
  private readonly podPath: string | undefined;
  /** Whether the pod carries the active label, as last written; undefined until the first write succeeds (a restarted container may find a stale label). */
  private labelled: boolean | undefined;
  private labelWrite: Promise<void> | undefined;

  constructor(private readonly options: LeaseStoreOptions) {
    if (!Number.isSafeInteger(options.leaseSeconds) || options.leaseSeconds < 2) throw new RangeError("leaseSeconds must be an integer >= 2");
    this.leaseMs = options.leaseSeconds * 1000;
    this.retryMs = Math.max(250, Math.floor(this.leaseMs / 4));
    this.renewDeadlineMs = Math.floor((this.leaseMs * 2) / 3);
    this.client = new KubeClient(options.access);
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(options.namespace)}/leases/${encodeURIComponent(options.name)}`;
    this.podPath = options.pod === undefined ? undefined : `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods/${encodeURIComponent(options.pod)}`;
  }

  async start(): Promise<void> {
    await this.tick();
    this.syncRoleLabel();
    const loop = () => {
      if (this.closed) return;
      this.timer = setTimeout(() => {
        this.tick().then(loop, loop);
        // also retries a label write that failed: every round converges the label on the current role
        this.syncRoleLabel();
      }, this.retryMs);
      this.timer.unref();
    };
    loop();
  }

  isActive(): boolean {
    const active = this.lease?.spec.holderIdentity === this.options.identity && performance.now() < this.activeUntil && !this.closed;
    this.notify(active);
    return active;
  }

  activeHolder(): string | undefined {
    return this.lease?.spec.holderIdentity || undefined;
  }

  async current(): Promise<SignRecord | undefined> {
    return markOf(this.lease);
  }

  commit(expected: SignRecord | undefined, next: SignRecord): Promise<void> {
    return this.serial(async () => {
      if (!this.isActive()) throw new NotSignerError(this.activeHolder());
      const lease = this.lease as Lease;
      if (!sameRecord(expected, markOf(lease))) throw new StateConflictError("the high-water mark changed since it was read");
      const started = performance.now();
      const body: Lease = {
        ...lease,
        metadata: { ...lease.metadata, annotations: { ...lease.metadata.annotations, [STATE_ANNOTATION]: JSON.stringify(next) } },
        spec: { ...lease.spec, renewTime: microTime(Date.now()) },
      };
      try {
        this.accept(await this.client.call<Lease>("PUT", this.path, body), started, true);
      } catch (err) {
        if (err instanceof KubeError && err.status === 409) {
          await this.read().catch(() => undefined);
          throw new StateConflictError("the Lease changed since it was read (another signer took over or wrote)");
        }
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true; // no more rounds, label writes or signatures from here
    if (this.timer !== undefined) clearTimeout(this.timer);
    // Out of the signer Service first, then out of the Lease: no request is routed to a process that has let go.
    await this.labelWrite;
    if (this.podPath !== undefined && this.labelled !== false) await this.writeRoleLabel(false).catch((err: Error) => this.options.onError?.(err));
    // Release on graceful stop so a successor need not wait out the lease (client-go's ReleaseOnCancel).
    await this.serial(async () => {
      const lease = this.lease;
      if (lease === undefined || lease.spec.holderIdentity !== this.options.identity) return;
      this.activeUntil = 0;
      await this.client
        .call<Lease>("PUT", this.path, { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(Date.now()) } })
        .catch(() => undefined);
    }).catch(() => undefined);
    this.notify(false);
    this.client.close();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn, fn);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private notify(active: boolean): void {
    if (active !== this.wasActive) {
      this.wasActive = active;
      this.options.onActiveChange?.(active, this.activeHolder());
      this.syncRoleLabel();
    }
  }

  /** Starts a label write when the pod's label differs from the current role; one write at a time, never awaited by the election. */
  private syncRoleLabel(): void {
    if (this.podPath === undefined || this.labelWrite !== undefined || this.closed) return;
    const active = this.isActive();
    if (this.labelled === active) return;
    this.labelWrite = this.writeRoleLabel(active).then(
      () => {
        this.labelWrite = undefined;
        this.syncRoleLabel(); // the role may have changed while the write was under way
      },
      (err: Error) => {
        this.labelWrite = undefined; // retried at the next round, not at once: a refused patch must not spin
        this.options.onError?.(err);
      },
    );
  }

  /** Sets (active) or removes the role label with a JSON merge patch (null deletes a key); records the result. */
  private async writeRoleLabel(active: boolean): Promise<void> {
    if (this.podPath === undefined) return;
    this.labelled = undefined;
    await this.client.call("PATCH", this.podPath, { metadata: { labels: { [SIGNER_ROLE_LABEL]: active ? SIGNER_ROLE_ACTIVE : null } } });
    this.labelled = active;
  }

  /** Records a Lease just read or written; a successful write by us extends our term from `writeStarted`. */
  private accept(lease: Lease, writeStarted: number | undefined, ours: boolean): void {
    markOf(lease); // throws on a corrupt mark: stop rather than sign over it
    this.lease = lease;
    if (lease.metadata.resourceVersion !== this.observedVersion) {
      this.observedVersion = lease.metadata.resourceVersion;
      this.observedAt = performance.now();
    }
    if (ours && writeStarted !== undefined && lease.spec.holderIdentity === this.options.identity) {
      this.activeUntil = writeStarted + this.renewDeadlineMs;
    }
    if (lease.spec.holderIdentity !== this.options.identity) this.activeUntil = 0;
    this.notify(this.isActive());
  }

  private async read(): Promise<Lease | undefined> {
    try {
      const lease = await this.client.call<Lease>("GET", this.path);
      this.accept(lease, undefined, false);
      return lease;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** One round of election: create, renew, take over, or follow. */
  private tick(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      try {
        const lease = await this.read();
        const me = this.options.identity;
        const now = () => microTime(Date.now());
        const started = performance.now();
        if (lease === undefined) {
          const created: Lease = {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.options.name, namespace: this.options.namespace },
            spec: { holderIdentity: me, leaseDurationSeconds: this.options.leaseSeconds, acquireTime: now(), renewTime: now(), leaseTransitions: 0 },
          };
          this.accept(await this.client.call<Lease>("POST", this.path.slice(0, this.path.lastIndexOf("/")), created), started, true);
          return;
        }
        const holder = lease.spec.holderIdentity ?? "";
        if (holder === me) {
          this.accept(await this.client.call<Lease>("PUT", this.path, { ...lease, spec: { ...lease.spec, renewTime: now() } }), started, true);
          return;
        }
        const heldFor = (lease.spec.leaseDurationSeconds ?? this.options.leaseSeconds) * 1000;
        if (holder === "" || performance.now() - this.observedAt >= heldFor) {
          const spec = {
            ...lease.spec,
            holderIdentity: me,
            leaseDurationSeconds: this.options.leaseSeconds,
            acquireTime: now(),
            renewTime: now(),
            leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1,
          };
          this.accept(await this.client.call<Lease>("PUT", this.path, { ...lease, spec }), started, true);
        }
      } catch (err) {
        if (!(err instanceof KubeError && err.status === 409)) this.options.onError?.(err as Error);
        this.notify(this.isActive());
      }
    });
  }
}

function markOf(lease: Lease | undefined): SignRecord | undefined {
  const text = lease?.metadata.annotations?.[STATE_ANNOTATION];
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`Lease annotation ${STATE_ANNOTATION} is not JSON; refusing to sign over it`);
  }
  return parseRecord(json, `Lease annotation ${STATE_ANNOTATION}`);
}
