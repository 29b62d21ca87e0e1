import { strict as assert } from "node:assert";
import type { FastifyInstance } from "fastify";
import { buildHoldGate } from "../../src/cli/hold-gate";
import { HOLD_GATE_COMMAND, HOLD_GATE_ROUTE, ROUTES } from "@bizra/contract";

describe("canary hold gate over HTTP (cli/hold-gate.ts)", () => {
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    app = buildHoldGate({ logLevel: false }).app;
    await app.listen({ host: "127.0.0.1", port: 0 });
    const addr = app.server.address();
    assert.ok(addr && typeof addr === "object");
    base = `http://127.0.0.1:${addr.port}`;
  });
  after(() => app.close());

  async function post(body: unknown, raw?: string) {
    const res = await fetch(`${base}${HOLD_GATE_ROUTE}`, { method: "POST", headers: { "content-type": "application/json" }, body: raw ?? JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const payload = (hook: string, checksum = "abc") => ({
    name: "node0",
    namespace: "bizra-node0",
    phase: "Progressing",
    checksum,
    metadata: { schedule: "10:3,50:2,100:2", interval: "1m", hook },
  });

  it("the command runs the compiled gate", () => {
    assert.deepEqual([...HOLD_GATE_COMMAND], ["node", "dist/cli/hold-gate.js"]);
  });

  it("GET /healthz", async () => {
    const res = await fetch(`${base}${ROUTES.healthz}`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, "ok");
  });

  it("walks a schedule: 200 approves, 403 holds, exactly 1 + 3 + 2 + 2 confirm calls", async () => {
    assert.equal((await post(payload("pre-rollout"))).status, 200);
    const statuses: number[] = [];
    let approvals = 0;
    for (let i = 0; i < 8; i++) {
      const r = await post(payload(approvals >= 3 ? "confirm-promotion" : "confirm-traffic-increase"));
      statuses.push(r.status);
      if (r.status === 200) approvals++;
      else assert.equal(r.body["error"], "held");
    }
    assert.deepEqual(statuses, [200, 403, 403, 200, 403, 200, 403, 200]);
    const last = await post(payload("pre-rollout", "def"));
    assert.equal(last.status, 200);
  });

  it("a held answer says where the canary is", async () => {
    await post(payload("pre-rollout", "x1"));
    await post(payload("confirm-traffic-increase", "x1"));
    const r = await post(payload("confirm-traffic-increase", "x1"));
    assert.equal(r.status, 403);
    assert.deepEqual([r.body["stage"], r.body["calls"], r.body["required"], r.body["step"]], [0, 1, 3, "increase to 50 %"]);
  });

  it("bad metadata: 400 naming the field", async () => {
    const r = await post({ ...payload("pre-rollout"), metadata: { schedule: "10:60,5:60", hook: "pre-rollout" } });
    assert.equal(r.status, 400);
    assert.deepEqual([r.body["error"], r.body["field"]], ["invalid_metadata", "metadata.schedule[1].weight"]);
  });

  it("bad payload: 400 naming the field", async () => {
    const missing = await post({ name: "n", metadata: {} });
    assert.deepEqual([missing.status, missing.body["field"]], [400, "namespace"]);
    const wrongType = await post({ name: "n", namespace: "ns", metadata: { schedule: 5 } });
    assert.deepEqual([wrongType.status, wrongType.body["field"]], [400, "metadata.schedule"]);
    const notJson = await post(undefined, "{");
    assert.equal(notJson.status, 400);
  });
});
