/** The judgement of `npm run validate`, as pure functions: each SLO's verdict and the overall exit code. */
import { strict as assert } from "node:assert";
import { resolveSlos } from "../components/slo";
import { EXIT_CODES, judgeSlo, overallVerdict, parseWindow, sloProbes, type SloRow } from "../scripts/lib/post-deploy";
import { parseArgs, UsageError } from "../scripts/validate";

const slos = resolveSlos();
const probes = sloProbes('namespace="ns"', "15m");

describe("post-deploy validation: judging the SLOs", () => {
  it("a bound met passes, a bound missed fails naming the SLO, the measured value and the bound", () => {
    assert.equal(judgeSlo(slos.apiErrorRate, probes.apiErrorRate, [0.004]).verdict, "pass");
    const r = judgeSlo(slos.apiErrorRate, probes.apiErrorRate, [0.2]);
    assert.equal(r.verdict, "fail");
    assert.equal(r.reason, "apiErrorRate: measured 20%, the SLO requires <= 1%");
    // `lt` is strict: exactly at the bound fails
    assert.equal(judgeSlo(slos.poiVerifyP99, probes.poiVerifyP99, [slos.poiVerifyP99.value]).verdict, "fail");
  });

  it("no series or NaN is no-data, never a pass; two series where one was expected is no-data too", () => {
    assert.deepEqual([judgeSlo(slos.poiVerifyP99, probes.poiVerifyP99, []).verdict, judgeSlo(slos.poiVerifyP99, probes.poiVerifyP99, []).reason], ["no-data", "poiVerifyP99: no series in the window"]);
    assert.equal(judgeSlo(slos.poiVerifyP99, probes.poiVerifyP99, [NaN]).reason, "poiVerifyP99: no observations in the window (NaN)");
    assert.equal(judgeSlo(slos.poiVerifyP99, probes.poiVerifyP99, [0.0001, 0.0001]).verdict, "no-data");
  });

  it("throughput under the floor fails only while verifications are refused", () => {
    assert.equal(judgeSlo(slos.poiVerifyThroughput, probes.poiVerifyThroughput, [200], [0]).verdict, "pass");
    const shed = judgeSlo(slos.poiVerifyThroughput, probes.poiVerifyThroughput, [200], [3]);
    assert.equal(shed.verdict, "fail");
    assert.match(shed.reason, /^poiVerifyThroughput: 200\/s misses >= 100000\/s while verifications were refused/);
    assert.equal(judgeSlo(slos.poiVerifyThroughput, probes.poiVerifyThroughput, [150_000], [3]).verdict, "pass");
  });

  it("the API SLOs ask the node API's job; the PoI SLOs the whole namespace (the signer generates)", () => {
    const split = sloProbes('namespace="ns"', "15m", 'namespace="ns", job="app"');
    for (const id of ["apiP99Latency", "apiErrorRate"] as const) {
      assert.ok(split[id].query.includes('{namespace="ns", job="app"'), `${id}: ${split[id].query}`);
      assert.doesNotMatch(split[id].query, /\{namespace="ns"\}/, `${id} also asks the whole namespace`);
    }
    for (const id of ["poiGenerateP99", "poiVerifyP99", "poiVerifySuccessRate", "finalityCheckP99"] as const) {
      assert.doesNotMatch(split[id].query, /job=/, `${id}: ${split[id].query}`);
    }
  });

  it("fast finality is judged on slots left without quorum; cache hit rate and economic finality are info only", () => {
    assert.equal(judgeSlo(slos.fastFinalityBp, probes.fastFinalityBp, [0]).verdict, "pass");
    assert.match(judgeSlo(slos.fastFinalityBp, probes.fastFinalityBp, [2]).reason, /^fastFinalityBp: 2 slot\(s\) closed without reaching 6700bp/);
    assert.equal(judgeSlo(slos.cacheHitRate, probes.cacheHitRate, [0]).verdict, "info");
    assert.equal(judgeSlo(slos.cacheHitRate, probes.cacheHitRate, []).verdict, "info");
    assert.equal(judgeSlo(slos.economicFinalityBp, probes.economicFinalityBp, [12]).verdict, "info");
  });

  it("overall: any fail is no-go (1); else any no-data is could-not-judge (2); else go (0)", () => {
    const row = (verdict: SloRow["verdict"], reason: string = verdict) => ({ verdict, reason }) as SloRow;
    assert.deepEqual(overallVerdict([row("pass"), row("info")]), { verdict: "go", reasons: [] });
    assert.deepEqual(overallVerdict([row("pass"), row("no-data", "x: none")]), { verdict: "could-not-judge", reasons: ["x: none"] });
    assert.deepEqual(overallVerdict([row("fail", "y: bad"), row("no-data", "x: none")]), { verdict: "no-go", reasons: ["y: bad"] });
    assert.deepEqual(EXIT_CODES, { go: 0, "no-go": 1, "could-not-judge": 2 });
  });

  it("every SLO of the table has a probe whose query selects the node", () => {
    for (const [id, p] of Object.entries(probes)) {
      assert.equal(p.id, id);
      assert.ok(p.query.includes('namespace="ns"') && p.query.includes("15m") || id === "economicFinalityBp", `${id}: ${p.query}`);
    }
    assert.deepEqual(Object.keys(probes).sort(), Object.keys(slos).sort());
  });

  it("the command line: a window from 1m to 24h, an http(s) Prometheus URL, one known stack", () => {
    assert.equal(parseWindow("15m"), 900);
    assert.equal(parseWindow("1h"), 3600);
    for (const bad of ["30s", "25h", "15", "0m", "m"]) assert.throws(() => parseWindow(bad), /--window: found .*; allowed: a duration such as 15m, 1h \(from 1m to 24h\)/);
    assert.deepEqual(parseArgs(["testnet", "--window", "5m", "--prometheus", "http://127.0.0.1:9090"]), { stack: "testnet", window: "5m", prometheus: "http://127.0.0.1:9090" });
    assert.throws(() => parseArgs([]), UsageError);
    assert.throws(() => parseArgs(["testnet", "production"]), /one stack only/);
    assert.throws(() => parseArgs(["testnet", "--prometheus", "prom:9090"]), /--prometheus: found "prom:9090"; allowed: an http\(s\) URL/);
    assert.throws(() => parseArgs(["testnet", "--windw", "5m"]), /unknown option --windw/);
    assert.throws(() => parseArgs(["testnet", "--window"]), /--window needs a value/);
  });
});
