import { readFileSync } from "node:fs";
import { join } from "node:path";
import { nativeMissingReason } from "../native";

export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(__dirname, "vectors", name), "utf8")) as T;
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms), set: (ms: number) => (t = ms) };
}

/**
 * Skips the running test, saying why, when the native addon is not loaded; under BIZRA_REQUIRE_NATIVE=1 (.ci/run)
 * the missing addon is a failure instead.
 */
export function skipWithoutNative(ctx: Mocha.Context): void {
  const why = nativeMissingReason();
  if (why === null) return;
  console.log(`      SKIPPING: ${why}`);
  ctx.skip();
}
