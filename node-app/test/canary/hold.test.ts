import { strict as assert } from "node:assert";
import { decide, HoldGate, parseSchedule, requiredCalls, type HoldHook, type HoldSchedule, type HoldState } from "../../src/canary/hold";

const PRODUCTION = { schedule: "10:60,50:120,100:180", interval: "1m" };
const meta = (hook: HoldHook, m: Record<string, string> = PRODUCTION) => ({ ...m, hook });
const schedule = (text: string): HoldSchedule => {
  const p = parseSchedule({ schedule: text });
  assert.ok(p.ok);
  return p.value;
};

/** Drives a gate like Flagger: pre-rollout, then confirm calls until `count` calls were made; returns the approved call numbers. */
function run(gate: HoldGate, count: number, checksum = "rev1", m: Record<string, string> = PRODUCTION, armed = true): number[] {
  if (armed) assert.equal(gate.call({ name: "node0", namespace: "bizra", checksum, metadata: meta("pre-rollout", m) }).ok, true);
  const approved: number[] = [];
  let approvals = 0;
  const stages = schedule(m.schedule as string).stages.length;
  for (let i = 1; i <= count; i++) {
    const hook: HoldHook = approvals >= stages ? "confirm-promotion" : "confirm-traffic-increase";
    const a = gate.call({ name: "node0", namespace: "bizra", phase: "Progressing", checksum, metadata: meta(hook, m) });
    assert.ok(a.ok);
    if (a.decision.approve) {
      approved.push(i);
      approvals++;
    }
  }
  return approved;
}

describe("canary hold gate: rule (canary/hold.ts)", () => {
  it("production 10:60,50:120,100:180 takes exactly 1 + 60 + 120 + 180 = 361 confirm calls", () => {
    const approved = run(new HoldGate(), 361);
    assert.deepEqual(approved, [1, 1 + 60, 1 + 60 + 120, 1 + 60 + 120 + 180]);
  });

  it("boundary: the (N-1)-th call at a stage is held, the N-th approved", () => {
    const s = schedule("10:60,50:120,100:180");
    let state: HoldState = decide(undefined, "c", "pre-rollout", s).next;
    const first = decide(state, "c", "confirm-traffic-increase", s);
    assert.equal(first.approve, true);
    assert.equal(first.step, "increase to 10 %");
    state = first.next;
    for (const [stage, n, step] of [[0, 60, "increase to 50 %"], [1, 120, "increase to 100 %"], [2, 180, "promote"]] as const) {
      for (let i = 1; i < n; i++) {
        const d = decide(state, "c", "confirm-traffic-increase", s);
        assert.equal(d.approve, false, `stage ${stage} call ${i}`);
        assert.deepEqual([d.stage, d.calls, d.required], [stage, i, n]);
        state = d.next;
      }
      const d = decide(state, "c", stage === 2 ? "confirm-promotion" : "confirm-traffic-increase", s);
      assert.deepEqual([d.approve, d.stage, d.calls, d.required, d.step], [true, stage, n, n, step]);
      state = d.next;
    }
  });

  it("testnet 5:N: first call approved, promotion after N calls", () => {
    assert.deepEqual(run(new HoldGate(), 12, "t", { schedule: "5:10" }), [1, 11]);
  });

  it("required calls follow metadata.interval (holdMinutes / interval, rounded up)", () => {
    assert.equal(requiredCalls({ weight: 10, holdMinutes: 60 }, 60), 60);
    assert.equal(requiredCalls({ weight: 10, holdMinutes: 60 }, 30), 120);
    assert.equal(requiredCalls({ weight: 10, holdMinutes: 5 }, 120), 3);
    assert.deepEqual(run(new HoldGate(), 10, "i", { schedule: "10:2,100:2", interval: "30s" }), [1, 5, 9]);
  });

  it("a new checksum resets the state (new revision)", () => {
    const gate = new HoldGate();
    assert.deepEqual(run(gate, 70), [1, 61]);
    // rev2 arrives mid-stage: it starts at 0 %, its first step is approved, and its holds are full.
    assert.deepEqual(run(gate, 62, "rev2"), [1, 61]);
  });

  it("an unarmed revision (gate restarted mid-analysis) holds every step for the longest stage: restarts only lengthen holds", () => {
    const gate = new HoldGate();
    const approved = run(gate, 540, "rev1", PRODUCTION, false);
    assert.deepEqual(approved, [180, 360, 540]);
    // a new pre-rollout for the revision re-arms it
    assert.deepEqual(run(gate, 2, "rev1"), [1]);
  });

  it("a revision analysed again after promotion (no pre-rollout) is treated as resumed", () => {
    const gate = new HoldGate();
    run(gate, 361);
    const a = gate.call({ name: "node0", namespace: "bizra", checksum: "rev1", metadata: meta("confirm-traffic-increase") });
    assert.ok(a.ok);
    assert.deepEqual([a.decision.approve, a.decision.stage, a.decision.required], [false, null, 180]);
  });

  it("canaries are counted apart; memory is bounded (LRU)", () => {
    const gate = new HoldGate(2);
    for (const name of ["a", "b", "c"]) gate.call({ name, namespace: "ns", checksum: "x", metadata: meta("pre-rollout") });
    assert.equal(gate.size, 2);
    // "a" was dropped: its revision is no longer armed
    const a = gate.call({ name: "a", namespace: "ns", checksum: "x", metadata: meta("confirm-traffic-increase") });
    assert.ok(a.ok);
    assert.equal(a.decision.stage, null);
    const c = gate.call({ name: "c", namespace: "ns", checksum: "x", metadata: meta("confirm-traffic-increase") });
    assert.ok(c.ok);
    assert.equal(c.decision.approve, true);
  });

  it("bad metadata names the field and changes no state", () => {
    const cases: Array<[Record<string, string> | undefined, string]> = [
      [undefined, "metadata.schedule"],
      [{ hook: "pre-rollout" }, "metadata.schedule"],
      [{ schedule: "10:60,50" }, "metadata.schedule[1]"],
      [{ schedule: "0:60" }, "metadata.schedule[0].weight"],
      [{ schedule: "101:60" }, "metadata.schedule[0].weight"],
      [{ schedule: "10.5:60" }, "metadata.schedule[0].weight"],
      [{ schedule: "50:60,50:60" }, "metadata.schedule[1].weight"],
      [{ schedule: "50:60,10:60" }, "metadata.schedule[1].weight"],
      [{ schedule: "10:0" }, "metadata.schedule[0].holdMinutes"],
      [{ schedule: "10:1.5" }, "metadata.schedule[0].holdMinutes"],
      [{ schedule: "10:-1" }, "metadata.schedule[0].holdMinutes"],
      [{ schedule: "10:60", interval: "1 minute" }, "metadata.interval"],
      [{ schedule: "10:60", interval: "0m" }, "metadata.interval"],
      [{ schedule: "10:60" }, "metadata.hook"],
      [{ schedule: "10:60", hook: "rollout" }, "metadata.hook"],
    ];
    const gate = new HoldGate();
    for (const [metadata, field] of cases) {
      const a = gate.call({ name: "n", namespace: "ns", checksum: "x", ...(metadata ? { metadata } : {}) });
      assert.equal(a.ok, false, JSON.stringify(metadata));
      if (!a.ok) {
        assert.equal(a.problem.field, field, JSON.stringify(metadata));
        assert.match(a.problem.message, new RegExp(`^${field.replace(/[[\].]/g, "\\$&")} `));
      }
    }
    assert.equal(gate.size, 0);
  });
});
