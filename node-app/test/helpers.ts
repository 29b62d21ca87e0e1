import { readFileSync } from "node:fs";
import { join } from "node:path";

export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(__dirname, "vectors", name), "utf8")) as T;
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms), set: (ms: number) => (t = ms) };
}
