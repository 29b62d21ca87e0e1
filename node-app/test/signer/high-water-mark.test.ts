import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { FileStateStore } from "../../src/signer/file-store";
import { decide, StateConflictError, type SignRecord } from "../../src/signer/high-water-mark";
import { Signer } from "../../src/signer/signer";
import { hex } from "../helpers";

const SEED = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const D1 = "11".repeat(32);
const D2 = "22".repeat(32);
const mark: SignRecord = { epoch: 3, slot: 7, payloadDigest: D1, nonce: "00".repeat(16), timestampMs: 5 };

describe("signer high-water mark", () => {
  it("advances above the mark, repeats the same payload, refuses another payload or an older slot by name", () => {
    assert.equal(decide(undefined, 0, 0, D1).kind, "advance");
    assert.equal(decide(mark, 3, 8, D2).kind, "advance");
    assert.equal(decide(mark, 4, 0, D2).kind, "advance");
    assert.deepEqual(decide(mark, 3, 7, D1), { kind: "repeat", record: mark });
    assert.equal((decide(mark, 3, 7, D2) as { reason: string }).reason, "double_sign");
    assert.equal((decide(mark, 3, 6, D1) as { reason: string }).reason, "slot_regression");
    assert.equal((decide(mark, 2, 99, D1) as { reason: string }).reason, "slot_regression");
  });

  it("never signs two payloads for one (epoch, slot) in any request order (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ e: fc.nat({ max: 2 }), s: fc.nat({ max: 4 }), p: fc.constantFrom("aa", "bb", "cc") }), { maxLength: 40 }), async (reqs) => {
        const store = new FileStateStore(join(mkdtempSync(join(tmpdir(), "bizra-hwm-")), "state.json"));
        await store.start();
        const signer = new Signer({ validatorId: "node0", seed: () => SEED, store, maxClockSkewMs: 1_000 });
        const signed = new Map<string, string>();
        let last = [-1, -1];
        for (const r of reqs) {
          const out = await signer.sign({ epoch: r.e, slot: r.s, payload: hex(r.p) });
          if (!out.ok) continue;
          const key = `${r.e}/${r.s}`;
          const digest = Buffer.from(out.issued.attestation.payloadDigest).toString("hex");
          assert.equal(signed.get(key) ?? digest, digest, `${key} signed twice differently`);
          signed.set(key, digest);
          assert.ok(r.e > (last[0] as number) || (r.e === last[0] && r.s >= (last[1] as number)), "signed below the mark");
          last = [r.e, r.s];
        }
      }),
      { numRuns: 40 },
    );
  });

  it("persists the mark before signing, survives a reopen, and refuses a corrupt file instead of resetting", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "bizra-hwm-")), "state.json");
    const store = new FileStateStore(file);
    await store.start();
    await store.commit(undefined, mark);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), mark);
    await assert.rejects(store.commit(undefined, { ...mark, slot: 8 }), StateConflictError);
    const reopened = new FileStateStore(file);
    await reopened.start();
    assert.deepEqual(await reopened.current(), mark);
    writeFileSync(file, "{not json");
    await assert.rejects(new FileStateStore(file).start(), /not JSON; refusing to sign/);
    writeFileSync(file, JSON.stringify({ ...mark, nonce: "xyz" }));
    await assert.rejects(new FileStateStore(file).start(), /nonce must be 32 hex digits/);
  });
});
