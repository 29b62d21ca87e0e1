import { strict as assert } from "node:assert";
import { loadConfig } from "../../src/config";
import { ENV, METRICS, METRICS_PATH, ROUTES } from "@bizra/contract";
import { faultErrorRateFromEnv } from "../../src/fault-injection";
import { startNode } from "../../src/main";

const config = () => loadConfig({ [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1" });

describe("fault injection (BIZRA_FAULT_ERROR_RATE) and state metrics", () => {
  it("reads a share from 0 to 1, default off, and names the variable on anything else", () => {
    assert.equal(faultErrorRateFromEnv({}), 0);
    assert.equal(faultErrorRateFromEnv({ [ENV.faultErrorRate]: "0.25" }), 0.25);
    assert.equal(faultErrorRateFromEnv({ [ENV.faultErrorRate]: "1" }), 1);
    for (const bad of ["1.5", "-0.1", "half", "0x1"]) {
      assert.throws(() => faultErrorRateFromEnv({ [ENV.faultErrorRate]: bad }), new RegExp(`BIZRA_FAULT_ERROR_RATE: found "${bad.replace(".", "\\.")}"; allowed: a share from 0 to 1`));
    }
  });

  it("at rate 1 every /v1/ request is a 500 fault_injected, counted as such; health and readiness are untouched", async () => {
    const node = await startNode({ config: config(), logger: false, faultErrorRate: 1 });
    try {
      const base = `http://127.0.0.1:${node.apiPort}`;
      const head = await fetch(`${base}${ROUTES.head}`);
      assert.equal(head.status, 500);
      assert.equal(((await head.json()) as { error: string }).error, "fault_injected");
      assert.equal((await fetch(`${base}${ROUTES.healthz}`)).status, 200);
      assert.notEqual((await fetch(`${base}${ROUTES.readyz}`)).status, 500, "readiness is answered by the node, not the fault");
      const metrics = await (await fetch(`http://127.0.0.1:${node.metricsPort}${METRICS_PATH}`)).text();
      assert.match(metrics, new RegExp(`${METRICS.httpRequestsTotal}\\{[^}]*status_code="500"[^}]*\\} 1`));
    } finally {
      await node.close();
    }
  });

  it("off by default; the state metrics report an idle node: no head, nothing finalized, circuit closed", async () => {
    const node = await startNode({ config: config(), logger: false });
    try {
      assert.equal((await fetch(`http://127.0.0.1:${node.apiPort}${ROUTES.head}`)).status, 200);
      const metrics = await (await fetch(`http://127.0.0.1:${node.metricsPort}${METRICS_PATH}`)).text();
      for (const [name, value] of [
        [METRICS.consensusHeadSlot, "-1"],
        [METRICS.consensusFinalizedSlot, "-1"],
        [METRICS.consensusQuorumFailuresTotal, "0"],
        [METRICS.poiVerifierCircuitState, "0"],
      ]) {
        assert.match(metrics, new RegExp(`^${name} ${value}$`, "m"), name);
      }
    } finally {
      await node.close();
    }
  });
});
