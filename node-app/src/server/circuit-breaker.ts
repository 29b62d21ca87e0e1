/**
 * Circuit breaker with a concurrency cap around the verification backend.
 * - At most `maxConcurrent` calls in flight; more are shed at once (no unbounded queue).
 * - `failureThreshold` consecutive failures open the circuit for `cooldownMs`; then one trial call (half-open)
 *   closes it on success or re-opens it on failure.
 * A shed or refused call throws BreakerOpenError, which the HTTP layer maps to 503 with Retry-After.
 */

export type BreakerState = "closed" | "open" | "half_open";

export class BreakerOpenError extends Error {
  constructor(
    readonly kind: "open" | "overloaded",
    readonly retryAfterSeconds: number,
  ) {
    super(kind === "open" ? "verification backend circuit is open" : "too many verifications in flight");
    this.name = "BreakerOpenError";
  }
}

export interface CircuitBreakerOptions {
  readonly maxConcurrent: number;
  readonly failureThreshold?: number;
  readonly cooldownMs?: number;
  readonly now?: () => number;
}

export class CircuitBreaker {
  private inFlightCount = 0;
  private failures = 0;
  private openedAt = 0;
  private current: BreakerState = "closed";
  private readonly maxConcurrent: number;
  private readonly failureThreshold: number;
  private readonly cooldownMs: number;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions) {
    this.maxConcurrent = options.maxConcurrent;
    this.failureThreshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.current === "open" && this.now() - this.openedAt >= this.cooldownMs) return "half_open";
    return this.current;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const state = this.state;
    if (state === "open") {
      const remaining = this.cooldownMs - (this.now() - this.openedAt);
      throw new BreakerOpenError("open", Math.max(1, Math.ceil(remaining / 1000)));
    }
    if (state === "half_open" && this.inFlightCount > 0) throw new BreakerOpenError("open", 1);
    if (this.inFlightCount >= this.maxConcurrent) throw new BreakerOpenError("overloaded", 1);
    this.current = state;
    this.inFlightCount++;
    try {
      const result = await fn();
      this.failures = 0;
      this.current = "closed";
      return result;
    } catch (err) {
      this.failures++;
      if (this.current === "half_open" || this.failures >= this.failureThreshold) {
        this.current = "open";
        this.openedAt = this.now();
      }
      throw err;
    } finally {
      this.inFlightCount--;
    }
  }
}
