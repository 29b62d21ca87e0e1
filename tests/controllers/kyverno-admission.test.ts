/**
 * The rendered ClusterPolicy `require-signed-images` applied by the real Kyverno CLI (`kyverno apply --registry`),
 * with real cosign signatures in a loopback registry:
 * - an image signed by the stack's key at a digest is admitted (a key pair `cosign generate-key-pair` makes for the
 *   test; the stack's `bizra:kyverno.cosignPublicKey` is set to its public half);
 * - unsigned, signed by another key, referenced by tag only, and from another registry (the seeds' `nginx`) are
 *   refused: `fail` in Enforce; in Audit (`--audit-warn`, as the admission controller reports and admits) `warn`.
 * Tools: kyverno from scripts/delivery-toolchain.sh, cosign from the release tooling (`toolchain/supply-chain.sh
 * paths cosign`), the loopback registry (Debian's docker-registry) and buildah pushes of tests/support/registry.ts.
 * What the CLI does not show: the admission webhook itself answering the API server (the cluster scenarios).
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { signedImagesPolicy } from "../../components/admission";
import { REPO_ROOT } from "../../scripts/lib/stack-config";
import { deliveryTool } from "../support/delivery-tools";
import { pushImage, startRegistry, type RunningRegistry } from "../support/registry";
import { configOf } from "../support/stack";

const STACK = "testnet";
type Case = "signed" | "unsigned" | "other-key" | "tag-only" | "other-registry";
const REFUSED: readonly Case[] = ["unsigned", "other-key", "tag-only", "other-registry"];

interface ReportResult {
  readonly policy: string;
  readonly rule: string;
  readonly result: "pass" | "fail" | "warn" | "error" | "skip";
  readonly message?: string;
  readonly resources?: { name: string }[];
}

describe("Kyverno CLI applies require-signed-images with real image verification", function () {
  this.timeout(300_000);
  let kyverno: string;
  let cosign: string;
  let registry: RunningRegistry | undefined;
  let dir: string;
  const images = {} as Record<Case, string>;

  /** cosign with an empty key password and no transparency log (none is reachable; releases sign the same way). */
  const cosignRun = (args: string[], cwd = dir) =>
    spawnSync(cosign, args, { cwd, encoding: "utf8", env: { ...process.env, COSIGN_PASSWORD: "", COSIGN_YES: "true", SIGSTORE_NO_CACHE: "true", HOME: dir } });
  function keyPair(name: string): { key: string; pub: string } {
    const d = path.join(dir, name);
    fs.mkdirSync(d);
    const r = cosignRun(["generate-key-pair"], d);
    assert.equal(r.status, 0, `cosign generate-key-pair: ${r.stderr}`);
    return { key: path.join(d, "cosign.key"), pub: fs.readFileSync(path.join(d, "cosign.pub"), "utf8") };
  }
  function sign(key: string, ref: string): void {
    const r = cosignRun(["sign", "--key", key, "--tlog-upload=false", "--yes", ref]);
    assert.equal(r.status, 0, `cosign sign ${ref}: ${r.stderr}`);
  }
  let stackKey: { key: string; pub: string };

  before(async () => {
    kyverno = deliveryTool("kyverno", "kyverno");
    const paths = spawnSync("bash", [path.join(REPO_ROOT, "toolchain", "supply-chain.sh"), "paths", "cosign"], { encoding: "utf8" });
    cosign = /^COSIGN_BIN=(.+)$/m.exec(paths.stdout ?? "")?.[1] ?? "";
    assert.ok(paths.status === 0 && cosign !== "", `cosign is not built: run \`bash toolchain/supply-chain.sh build cosign\` (release tooling): ${paths.stderr ?? ""}`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-kyverno-"));
    registry = await startRegistry();
    const repo = `${registry.host}/bizra`;
    images.signed = pushImage(`${repo}/node:signed`, "signed by the stack key");
    images.unsigned = pushImage(`${repo}/node:unsigned`, "never signed");
    images["other-key"] = pushImage(`${repo}/node:other-key`, "signed by another key");
    images["tag-only"] = `${repo}/node:signed`;
    images["other-registry"] = "docker.io/library/nginx:1.27";

    stackKey = keyPair("stack");
    sign(stackKey.key, images.signed);
    sign(keyPair("other").key, images["other-key"]);
  });

  after(async () => {
    await registry?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function apply(mode: "Enforce" | "Audit"): { status: number | null; results: ReportResult[]; output: string } {
    const host = (registry as RunningRegistry).host;
    const cfg = configOf(STACK, {
      "bizra:allowedRegistries": [`${host}/bizra`],
      "bizra:image": { reference: images.signed },
      "bizra:kyverno": { mode, cosignPublicKey: stackKey.pub },
    });
    const policyFile = path.join(dir, `policy-${mode}.yaml`);
    fs.writeFileSync(policyFile, stringify(signedImagesPolicy(cfg, {})));
    const pods = (Object.keys(images) as Case[]).map((c) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: c, namespace: cfg.namespace },
      spec: { containers: [{ name: "node", image: images[c] }] },
    }));
    const podsFile = path.join(dir, "pods.yaml");
    fs.writeFileSync(podsFile, pods.map((p) => stringify(p)).join("---\n"));
    const args = ["apply", policyFile, "--resource", podsFile, "--registry", "--policy-report", "--output-format", "json", "--remove-color", ...(mode === "Audit" ? ["--audit-warn"] : [])];
    const r = spawnSync(kyverno, args, { encoding: "utf8", env: { ...process.env, HOME: dir }, timeout: 240_000 });
    const output = `${r.stdout}\n${r.stderr}`;
    const json = r.stdout.slice(r.stdout.indexOf("{"), r.stdout.lastIndexOf("}") + 1);
    let report: { results?: ReportResult[] } = {};
    try {
      report = JSON.parse(json) as { results?: ReportResult[] };
    } catch {
      assert.fail(`no policy report in the output of kyverno ${args.join(" ")}:\n${output}`);
    }
    return { status: r.status, results: report.results ?? [], output };
  }

  /** Worst result per Pod over the policy's rules (fail/warn/error over pass over skip). */
  function verdicts(results: ReportResult[]): Record<string, string> {
    const rank = ["skip", "pass", "warn", "fail", "error"];
    const out: Record<string, string> = {};
    for (const r of results) for (const res of r.resources ?? []) if (rank.indexOf(r.result) > rank.indexOf(out[res.name] ?? "skip") || !(res.name in out)) out[res.name] = r.result;
    return out;
  }

  it("Enforce: the signed digest passes; unsigned, other key, tag-only and other registry fail", () => {
    const { results, output } = apply("Enforce");
    const v = verdicts(results);
    assert.equal(v.signed, "pass", output);
    for (const c of REFUSED) assert.equal(v[c], "fail", `${c}: ${output}`);
  });

  it("Audit: the same four are reported (warn), the signed digest passes", () => {
    const { results, output } = apply("Audit");
    const v = verdicts(results);
    assert.equal(v.signed, "pass", output);
    for (const c of REFUSED) assert.equal(v[c], "warn", `${c}: ${output}`);
  });
});
