/** Finality check latency: VoteTally.finalityOf over a populated tally, as the finality route calls it. */
import { ValidatorSet } from "../../src/consensus/validator-set";
import { VoteTally } from "../../src/consensus/vote-tally";
import { blake3 } from "@noble/hashes/blake3.js";
import { toHex } from "../../src/poi/bytes";
import { summarizeNanos } from "@bizra/evidence";
import type { Measured } from "./common";

export function blockHash(i: number): string {
  return toHex(blake3(new TextEncoder().encode(`block-${i}`)));
}

export function measureFinality(samples = 20_000, validators = 100, slots = 200): Measured {
  const set = new ValidatorSet(Array.from({ length: validators }, (_, i) => ({ id: `v${i}`, weight: 1 + (i % 7) })));
  const tally = new VoteTally(set);
  const hashes: string[] = [];
  let votes = 0;
  for (let slot = 0; slot < slots; slot++) {
    const main = blockHash(slot * 2);
    const fork = blockHash(slot * 2 + 1);
    hashes.push(main, fork);
    for (let v = 0; v < validators; v++) {
      tally.addVote({ validatorId: `v${v}`, slot, blockHash: v % 10 === 9 ? fork : main });
      votes++;
    }
  }
  for (let i = 0; i < 1000; i++) tally.finalityOf(hashes[i % hashes.length] as string);
  const nanos: bigint[] = [];
  for (let i = 0; i < samples; i++) {
    const h = hashes[(i * 7919) % hashes.length] as string;
    const t0 = process.hrtime.bigint();
    tally.finalityOf(h);
    nanos.push(process.hrtime.bigint() - t0);
  }
  const s = summarizeNanos(nanos);
  return {
    kind: "finality",
    title: "Finality check latency",
    method:
      `A VoteTally of ${validators} validators (weights 1..7) holding ${votes} votes over ${slots} slots (90 % of the weight on one block ` +
      `per slot, 10 % on a fork), then ${samples} calls of finalityOf(blockHash) over the ${hashes.length} blocks in a fixed stride order ` +
      "after 1000 warm-up calls, each timed with process.hrtime.bigint(); nearest-rank percentiles over the raw samples.",
    gates: [{ gate: "finality-check-p99", slo: "finalityCheckP99", field: "results.p99Seconds" }],
    results: { ...s, validators, votes, blocks: hashes.length },
  };
}
