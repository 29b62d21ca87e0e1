import { strict as assert } from "node:assert";
import { FinalityProgress, QUORUM_GRACE_SLOTS } from "../../src/consensus/progress";
import { ValidatorSet, VoteTally } from "../../src/consensus";

const H = (slot: number) => slot.toString(16).padStart(64, "0");
// a alone holds 50 %: below the 6700 bp quorum; a + b hold 80 %
const validators = [
  { id: "a", weight: 50 },
  { id: "b", weight: 30 },
  { id: "c", weight: 20 },
];

describe("FinalityProgress", () => {
  it("starts at -1 with nothing judged", () => {
    const p = new FinalityProgress(new VoteTally(new ValidatorSet(validators)));
    assert.deepEqual(p.observe(), { headSlot: -1, finalizedSlot: -1, slotsWithoutQuorum: 0 });
  });

  it("follows the head and the finalized slot; a slot below quorum counts once the head is the grace past it", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    const p = new FinalityProgress(t);
    const vote = (id: string, slot: number) => assert.ok(t.addVote({ validatorId: id, slot, blockHash: H(slot) }).accepted);
    vote("a", 1);
    vote("b", 1); // slot 1 final
    vote("a", 2); // slot 2 below quorum
    assert.deepEqual(p.observe(), { headSlot: 2, finalizedSlot: 1, slotsWithoutQuorum: 0 });
    vote("a", 2 + QUORUM_GRACE_SLOTS - 1);
    assert.equal(p.observe().slotsWithoutQuorum, 0, "still within the grace");
    vote("a", 2 + QUORUM_GRACE_SLOTS);
    vote("b", 2 + QUORUM_GRACE_SLOTS);
    // judged: slots up to the head minus the grace, i.e. 1 (final) and 2 (below quorum); slot 3 is still open
    assert.deepEqual(p.observe(), { headSlot: 2 + QUORUM_GRACE_SLOTS, finalizedSlot: 2 + QUORUM_GRACE_SLOTS, slotsWithoutQuorum: 1 });
    assert.equal(p.observe().slotsWithoutQuorum, 1, "a slot is judged once");
  });

  it("a late vote inside the grace saves a slot", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    const p = new FinalityProgress(t);
    t.addVote({ validatorId: "a", slot: 1, blockHash: H(1) });
    t.addVote({ validatorId: "a", slot: 2, blockHash: H(2) });
    p.observe();
    t.addVote({ validatorId: "b", slot: 1, blockHash: H(1) }); // late
    t.addVote({ validatorId: "a", slot: 1 + QUORUM_GRACE_SLOTS, blockHash: H(1 + QUORUM_GRACE_SLOTS) });
    assert.deepEqual(p.observe(), { headSlot: 1 + QUORUM_GRACE_SLOTS, finalizedSlot: 1, slotsWithoutQuorum: 0 });
  });

  it("reading finality (a polling client) changes nothing", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    const p = new FinalityProgress(t);
    t.addVote({ validatorId: "a", slot: 1, blockHash: H(1) });
    const before = p.observe();
    for (let i = 0; i < 100; i++) t.finalityOf(H(1));
    assert.deepEqual(p.observe(), before);
  });

  it("slot 0 is judged like any other, once, however often the progress is read", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    const p = new FinalityProgress(t);
    t.addVote({ validatorId: "a", slot: 0, blockHash: H(0) });
    t.addVote({ validatorId: "a", slot: QUORUM_GRACE_SLOTS, blockHash: H(QUORUM_GRACE_SLOTS) });
    for (let i = 0; i < 3; i++) assert.deepEqual(p.observe(), { headSlot: QUORUM_GRACE_SLOTS, finalizedSlot: -1, slotsWithoutQuorum: 1 }, `read ${i}`);
  });

  it("with no grace a slot is judged as soon as it is the head", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    const p = new FinalityProgress(t, 0);
    t.addVote({ validatorId: "a", slot: 0, blockHash: H(0) });
    assert.deepEqual(p.observe(), { headSlot: 0, finalizedSlot: -1, slotsWithoutQuorum: 1 });
  });

  it("a slot below quorum under a later finalized slot still counts when it closes", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    const p = new FinalityProgress(t);
    t.addVote({ validatorId: "a", slot: 0, blockHash: H(0) }); // below quorum
    t.addVote({ validatorId: "a", slot: 1, blockHash: H(1) });
    t.addVote({ validatorId: "b", slot: 1, blockHash: H(1) }); // final
    assert.deepEqual(p.observe(), { headSlot: 1, finalizedSlot: 1, slotsWithoutQuorum: 0 });
    t.addVote({ validatorId: "a", slot: 1 + QUORUM_GRACE_SLOTS, blockHash: H(1 + QUORUM_GRACE_SLOTS) });
    assert.deepEqual(p.observe(), { headSlot: 1 + QUORUM_GRACE_SLOTS, finalizedSlot: 1, slotsWithoutQuorum: 1 });
  });

  it("head and finalized slot never move back when an equivocation takes a slot's votes away", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    const p = new FinalityProgress(t);
    for (const slot of [1, 2]) for (const id of ["a", "b"]) t.addVote({ validatorId: id, slot, blockHash: H(slot) });
    assert.deepEqual(p.observe(), { headSlot: 2, finalizedSlot: 2, slotsWithoutQuorum: 0 });
    assert.equal(t.addVote({ validatorId: "b", slot: 2, blockHash: H(99) }).accepted, false, "b equivocates in slot 2");
    assert.deepEqual(p.observe(), { headSlot: 2, finalizedSlot: 2, slotsWithoutQuorum: 0 }, "slot 2 lost its quorum after it was reached");
    assert.equal(t.addVote({ validatorId: "a", slot: 2, blockHash: H(98) }).accepted, false, "a equivocates too: slot 2 has no support left");
    assert.deepEqual(p.observe(), { headSlot: 2, finalizedSlot: 2, slotsWithoutQuorum: 0 });
  });

  it("refuses a bad grace", () => {
    assert.throws(() => new FinalityProgress(new VoteTally(new ValidatorSet(validators)), -1), /graceSlots must be a non-negative integer, got -1/);
  });
});
