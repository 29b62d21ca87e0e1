/** Stack config: every kind of bad input yields ONE error naming each bad key, the value found and what is allowed. */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { find, nth, single, testStackConfig } from "./support/stack";
import { ConfigError, configSchema, parseStackConfig } from "../components/config";
import { alertRuleConfig, alertRuleGroups } from "../components/alerts";
import { resolveSlos, SLO_DEFINITIONS, SLO_IDS, type SloTable } from "../components/slo";
import { objectsOfKind, runProgram } from "../scripts/lib/mock-runtime";
import { offlineStackConfig, STACKS } from "../scripts/lib/stack-config";
import { ensureLocalCosignKey } from "../scripts/release/cosign-key";

/** Parse a stack's file with some keys replaced (`undefined` removes a key); returns the error message. */
function problemsWith(stack: string, overrides: Record<string, unknown>, opts: { plainSigningKey?: boolean } = {}): ConfigError {
  const cfg = testStackConfig(stack);
  const values = { ...cfg.values };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete values[k];
    else values[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  const secretKeys = opts.plainSigningKey ? [] : cfg.secretKeys;
  try {
    parseStackConfig(stack, values, secretKeys);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err;
  }
  assert.fail("expected the config to be rejected");
}

describe("stack config", () => {
  for (const stack of STACKS) {
    it(`accepts the committed ${stack} stack file`, () => {
      const cfg = testStackConfig(stack);
      const parsed = parseStackConfig(stack, cfg.values, cfg.secretKeys);
      assert.equal(parsed.stack, stack);
      assert.equal(parsed.metricsPort, 9464);
    });
  }

  const cases: Array<{ kind: string; overrides: Record<string, unknown>; expect: RegExp; plainSigningKey?: boolean; problems?: number }> = [
    { kind: "missing required key", overrides: { "bizra:namespace": undefined }, expect: /bizra:namespace: missing; allowed: a DNS-1123 label/ },
    { kind: "wrong type", overrides: { "bizra:replicas": "three" }, expect: /bizra:replicas: found "three"; allowed: an integer from 1 to 50/ },
    { kind: "out of range", overrides: { "bizra:apiPort": 80 }, expect: /bizra:apiPort: found 80; allowed: an integer from 1024 to 65535/ },
    {
      kind: "tag-only image",
      overrides: { "bizra:image": { reference: "ghcr.io/bizra/node0:latest" } },
      expect: /bizra:image\.reference: found "ghcr\.io\/bizra\/node0:latest"; allowed: an image pinned by digest/,
    },
    {
      kind: "image outside the allowed registries",
      overrides: { "bizra:image": { reference: `docker.io/evil/node@sha256:${"a".repeat(64)}` } },
      expect: /bizra:image\.reference: found "docker\.io\/evil\/node@sha256:a+"; allowed: an image under one of the allowed registries: ghcr\.io\/bizra/,
    },
    { kind: "misspelt key", overrides: { "bizra:replicsa": 3 }, expect: /bizra:replicsa: unknown key \(found 3\); allowed keys: .*bizra:replicas/ },
    {
      kind: "misspelt nested key",
      overrides: { "bizra:hpa": { minReplicas: 2, maxReplicas: 4, targetShare: 0.5 } },
      expect: /bizra:hpa\.targetShare: unknown key \(found 0\.5\)/,
    },
    {
      kind: "canary weights not increasing",
      overrides: { "bizra:canary": { stages: [{ weight: 50, holdMinutes: 5 }, { weight: 10, holdMinutes: 5 }] } },
      expect: /bizra:canary\.stages: found .*; allowed: stage weights strictly increasing/,
    },
    {
      kind: "canary interval too short",
      overrides: { "bizra:canary": { stages: [{ weight: 10, holdMinutes: 1 }], intervalSeconds: 5 } },
      expect: /bizra:canary\.intervalSeconds: found 5; allowed: an integer from 10 to 600/,
    },
    { kind: "bad enum", overrides: { "bizra:logLevel": "loud" }, expect: /bizra:logLevel: found "loud"; allowed: trace, debug, info, warn or error/ },
    { kind: "malformed key material", overrides: { "bizra:kyverno": { mode: "Warn", cosignPublicKey: "x" } }, expect: /bizra:kyverno\.mode: found "Warn"; allowed: Enforce or Audit\n.*bizra:kyverno\.cosignPublicKey: found "x"; allowed: a PEM public key/, problems: 2 },
    {
      kind: "SLO override of the wrong unit",
      overrides: { "bizra:slo": { poiVerifySuccessRate: 99 } },
      expect: /bizra:slo\.poiVerifySuccessRate: found 99; allowed: a ratio, > 0 and <= 1/,
    },
    { kind: "unknown SLO", overrides: { "bizra:slo": { latencyP42: 1 } }, expect: /bizra:slo\.latencyP42: found 1; allowed: one of the SLO ids/ },
    {
      kind: "finality thresholds out of order",
      overrides: { "bizra:slo": { fastFinalityBp: 8500 } },
      expect: /bizra:slo\.economicFinalityBp: missing; allowed: >= fastFinalityBp \(8500\)/,
    },
    { kind: "replicas outside HPA bounds", overrides: { "bizra:replicas": 40 }, expect: /bizra:replicas: found 40; allowed: within the HPA bounds/ },
    { kind: "same port twice", overrides: { "bizra:apiPort": 9464 }, expect: /bizra:metricsPort: found 9464; allowed: a port different from apiPort/ },
    { kind: "signing key missing", overrides: { "bizra:signingKey": undefined }, expect: /bizra:signingKey: missing; allowed: a 32-byte Ed25519 seed/ },
    { kind: "signing key in plain text", overrides: {}, plainSigningKey: true, expect: /bizra:signingKey: found a plain-text value \(not shown\); allowed: a secret/ },
  ];

  for (const stack of STACKS) {
    describe(`rejects bad input (${stack})`, () => {
      for (const c of cases) {
        it(c.kind, () => {
          const err = problemsWith(stack, c.overrides, { plainSigningKey: c.plainSigningKey });
          assert.match(err.message, c.expect);
          assert.equal(err.problems.length, c.problems ?? 1, err.message);
        });
      }
    });
  }

  it("lists every bad key in ONE error", () => {
    const err = problemsWith("testnet", {
      "bizra:namespace": undefined,
      "bizra:replicas": 40,
      "bizra:image": { reference: "ghcr.io/bizra/node0:latest" },
      "bizra:replicsa": 3,
      "bizra:apiPort": 9464,
      "bizra:logLevel": "loud",
      "bizra:slo": { poiVerifySuccessRate: 99 },
      "bizra:signingKey": undefined,
    });
    const keys = ["bizra:signingKey", "bizra:namespace", "bizra:image.reference", "bizra:logLevel", "bizra:slo.poiVerifySuccessRate", "bizra:replicsa", "bizra:replicas", "bizra:metricsPort"];
    assert.match(err.message, new RegExp(`^Invalid stack config for stack "testnet" \\(${keys.length} problems\\):`));
    for (const key of keys) assert.ok(err.message.includes(`  - ${key}:`), `${key} missing from:\n${err.message}`);
    assert.equal(err.problems.length, keys.length);
  });

  it("requires bizra:evidenceTrustedKeys outside testnet: the local key is no trust root for production", () => {
    const err = problemsWith("production", { "bizra:evidenceTrustedKeys": undefined });
    assert.equal(err.problems.length, 1, err.message);
    assert.match(err.problems[0] as string, /^bizra:evidenceTrustedKeys: missing; allowed: .*required on stack "production": only testnet may trust/);
    const { "bizra:evidenceTrustedKeys": _keys, ...values } = offlineStackConfig("production").values;
    assert.throws(() => parseStackConfig("staging", values, offlineStackConfig("production").secretKeys), /bizra:evidenceTrustedKeys: missing; allowed: .*stack "staging"/);
    const testnet = offlineStackConfig("testnet");
    assert.equal(parseStackConfig("testnet", testnet.values, testnet.secretKeys).evidenceTrustedKeys, undefined);
  });

  it("never echoes a secret value in an error", () => {
    const secret = "not-hex-" + "z".repeat(56);
    const err = problemsWith("testnet", { "bizra:signingKey": secret });
    assert.match(err.message, /bizra:signingKey: found a secret that is not 64 lower-case hex digits \(not shown\)/);
    assert.ok(!err.message.includes(secret));
  });

  it("fails the program before any resource is registered", async () => {
    const cfg = testStackConfig("testnet", { "bizra:replicas": 0, "bizra:image": { reference: "ghcr.io/bizra/node0:v1" } });
    let caught: unknown;
    let registered = -1;
    try {
      const run = await runProgram("testnet", cfg);
      registered = run.resources.length;
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${caught} (registered ${registered})`);
    assert.equal(caught.problems.length, 2);
  });

  it("the schema covers the keys the README documents, and no others", async () => {
    const fs = await import("node:fs");
    const readme = fs.readFileSync(`${__dirname}/../README.md`, "utf8");
    const section = readme.slice(readme.indexOf("## Config reference"));
    const documented = [...section.matchAll(/^\| `bizra:([A-Za-z]+)` \|/gm)].map((m) => m[1]).sort();
    assert.deepEqual(documented, [...Object.keys(configSchema.shape), "signingKey"].sort());
  });
});

describe("SLO table", () => {
  it("holds the seed defaults with unit and severity", () => {
    const slos = resolveSlos();
    assert.equal(slos.finalityCheckP99.value, 0.001);
    assert.equal(slos.finalityCheckP99.severity, "critical");
    assert.equal(slos.poiVerifyThroughput.unit, "per_second");
    assert.equal(slos.fastFinalityBp.value, 6700);
    assert.equal(slos.economicFinalityBp.value, 8000);
    assert.deepEqual(SLO_IDS, Object.keys(SLO_DEFINITIONS));
  });

  it("an override reaches the HPA target and the node's finality flags", async () => {
    const base = await runProgram("production", testStackConfig("production"));
    const changed = await runProgram(
      "production",
      testStackConfig("production", { "bizra:slo": { poiVerifyThroughput: 50_000, fastFinalityBp: 7000 } }),
    );
    const target = (r: typeof base) => nth(single(objectsOfKind(r, "HorizontalPodAutoscaler"), "HorizontalPodAutoscaler").spec.metrics, 0, "HPA metric").pods.target.averageValue;
    const flags = (r: typeof base) => find(objectsOfKind(r, "ConfigMap"), (o) => o.metadata.name.endsWith("-flags"), "flags ConfigMap");
    assert.equal(target(base), "60000");
    assert.equal(target(changed), "30000");
    assert.equal(flags(base).data.BIZRA_FAST_FINALITY_BP, "6700");
    assert.equal(flags(changed).data.BIZRA_FAST_FINALITY_BP, "7000");
    assert.equal((changed.outputs.slos as SloTable).poiVerifyThroughput.value, 50_000);
  });
});

describe("release keys in the stack files", () => {
  it("the committed production file is refused until the operator sets the release key, naming the key and the command", () => {
    const raw = offlineStackConfig("production");
    assert.throws(
      () => parseStackConfig("production", raw.values, raw.secretKeys),
      (err: Error) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        /^bizra:kyverno\.cosignPublicKey: found "SET-THE-RELEASE-PUBLIC-KEY"; allowed: the PEM public key of the release signing key/.test(err.problems[0]!) &&
        err.problems[0]!.includes("npm run release:trust-key -- <stack> <cosign.pub>"),
    );
  });
  it("production never trusts the generated local key", () => {
    const err = problemsWith("production", { "bizra:kyverno": { mode: "Enforce", cosignPublicKey: "local" } });
    assert.match(err.message, /bizra:kyverno\.cosignPublicKey: found "local"; allowed: the PEM public key of the operator's release key/);
  });
  it("testnet's `local` resolves to the generated pair's public key (.cosign-key/cosign.pub)", () => {
    const raw = offlineStackConfig("testnet");
    const cfg = parseStackConfig("testnet", raw.values, raw.secretKeys);
    assert.equal(cfg.kyverno.cosignPublicKey, fs.readFileSync(ensureLocalCosignKey().publicKeyFile, "utf8"));
    assert.match(cfg.kyverno.cosignPublicKey, /^-----BEGIN PUBLIC KEY-----\n/);
  });
  it("refuses a release repository outside the allowed registries", () => {
    const err = problemsWith("testnet", { "bizra:releaseRepository": "docker.io/evil/node" });
    assert.match(err.message, /bizra:releaseRepository: found "docker.io\/evil\/node"; allowed: a repository under one of the allowed registries: ghcr.io\/bizra, 127.0.0.1:5000\/bizra/);
  });
});

describe("operations keys: fault injection, alert routing, post-deploy report", () => {
  const parse = (stack: string, overrides: Record<string, unknown>) => {
    const raw = testStackConfig(stack, overrides);
    return parseStackConfig(stack, raw.values, raw.secretKeys);
  };

  it("fault injection is refused on production, naming the key and what is allowed", () => {
    assert.throws(
      () => parse("production", { "bizra:faultInjection": { errorRate: 0.2 } }),
      (err: unknown) => err instanceof ConfigError && /bizra:faultInjection\.errorRate: found 0\.2; allowed: 0 on the production stack/.test(err.message),
    );
    assert.throws(() => parse("testnet", { "bizra:faultInjection": { errorRate: 1.5 } }), /bizra:faultInjection\.errorRate: found 1\.5; allowed: a share from 0 to 1/);
  });

  it("on testnet it reaches the node's flags ConfigMap; unset, the flag is absent (the node's default is off)", async () => {
    const flags = async (overrides: Record<string, unknown>) =>
      find(objectsOfKind(await runProgram("testnet", testStackConfig("testnet", overrides)), "ConfigMap"), (o) => o.metadata.name.endsWith("-flags"), "flags ConfigMap").data;
    assert.equal((await flags({ "bizra:faultInjection": { errorRate: 0.2 } })).BIZRA_FAULT_ERROR_RATE, "0.2");
    assert.equal((await flags({})).BIZRA_FAULT_ERROR_RATE, undefined);
  });

  it("alerts.forOverride (drills) replaces every alert's `for`, leaves an alert without one alone, and is refused on production", () => {
    const rules = (overrides: Record<string, unknown>) => {
      const cfg = parse("testnet", overrides);
      return alertRuleGroups(cfg.slos, alertRuleConfig(cfg)).flatMap((g) => g.rules);
    };
    const own = rules({});
    const drill = rules({ "bizra:alerts": { forOverride: "20s" } });
    assert.deepEqual(drill.map((r) => r.alert), own.map((r) => r.alert));
    for (const [i, r] of drill.entries()) {
      assert.equal(r.for, own[i]!.for === undefined ? undefined : "20s", r.alert);
      assert.equal(r.expr, own[i]!.expr, r.alert);
    }
    assert.ok(own.some((r) => r.for === undefined) && own.some((r) => r.for === "10m"), "the stack's own table has alerts with and without `for`");
    assert.throws(
      () => parse("production", { "bizra:alerts": { forOverride: "20s" } }),
      (err: unknown) => err instanceof ConfigError && /bizra:alerts\.forOverride: found "20s"; allowed: unset on the production stack/.test(err.message),
    );
    assert.throws(() => parse("testnet", { "bizra:alerts": { forOverride: "soon" } }), /bizra:alerts\.forOverride: found "soon"; allowed: a duration such as 30s, 5m or 4h/);
  });

  it("alerting needs both webhook URLs and well-formed durations", () => {
    assert.throws(() => parse("testnet", { "bizra:alerting": { criticalWebhookUrl: "http://pager" } }), /bizra:alerting\.warningWebhookUrl: missing; allowed: an http\(s\) URL of the ticket webhook/);
    assert.throws(
      () => parse("testnet", { "bizra:alerting": { criticalWebhookUrl: "http://p", warningWebhookUrl: "http://t", groupWait: "soon" } }),
      /bizra:alerting\.groupWait: found "soon"; allowed: a duration such as 30s, 5m or 4h/,
    );
  });

  it("postDeployReport names a stack and a positive age", () => {
    assert.throws(() => parse("production", { "bizra:postDeployReport": { stack: "Test Net" } }), /bizra:postDeployReport\.stack: found "Test Net"; allowed: a DNS-1123 label/);
    assert.throws(() => parse("production", { "bizra:postDeployReport": { stack: "testnet", maxAgeHours: 0 } }), /bizra:postDeployReport\.maxAgeHours: found 0; allowed: hours, > 0/);
    assert.deepEqual(parse("production", { "bizra:postDeployReport": { stack: "testnet" } }).postDeployReport, { stack: "testnet", maxAgeHours: 24 });
  });
});
