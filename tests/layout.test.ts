import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../scripts/lib/stack-config";

/**
 * The node's internals stay inside node-app/: the program, the packs, the scripts and the tests reach the contract and
 * the evidence code through the local packages (@bizra/contract, @bizra/evidence), never through `node-app/src`.
 * One exception: the end-to-end tests' node helper signs consensus votes with the node's own vote encoding, the wire
 * format a validator client would need (no client package exists yet).
 */
const ALLOWED = new Map([
  ["tests/monitoring-e2e.test.ts", ["../node-app/src/consensus/vote-encoding"]],
  ["tests/support/node-app.ts", ["../../node-app/src/consensus/vote-encoding"]],
]);

describe("repository layout", () => {
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts", "*.mjs", "*.js"], { cwd: REPO_ROOT, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "" && !f.startsWith("node-app/") && fs.existsSync(path.join(REPO_ROOT, f)));

  it("no file outside node-app/ imports node-app/src/", () => {
    assert.ok(files.length > 20, `only ${files.length} files listed`);
    const offenders: string[] = [];
    for (const f of files) {
      const text = fs.readFileSync(path.join(REPO_ROOT, f), "utf8");
      for (const m of text.matchAll(/(?:from\s+|require\(|import\()\s*["']([^"']*node-app\/src[^"']*)["']/g)) {
        if (!(ALLOWED.get(f) ?? []).includes(m[1] as string)) offenders.push(`${f}: ${m[1]}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it("the PoI core (node-app/src/poi/*.ts) does not import the performance layer (poi/fast, the native addon)", () => {
    const dir = path.join(REPO_ROOT, "node-app", "src", "poi");
    const core = fs.readdirSync(dir).filter((f) => f.endsWith(".ts"));
    assert.ok(core.includes("verify.ts") && core.includes("signature.ts"), `core files: ${core.join(", ")}`);
    const offenders: string[] = [];
    for (const f of core) {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      for (const m of text.matchAll(/(?:from\s+|require\(|import\()\s*["']([^"']+)["']/g)) {
        if (/^\.\/fast(\/|$)|native/.test(m[1] as string)) offenders.push(`poi/${f}: ${m[1]}`);
      }
    }
    assert.deepEqual(offenders, [], "the backend and the digest function are chosen in node-app/src/main.ts and passed in");
  });

  it("the root package.json has no postinstall: the local packages are file: dependencies", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string>; dependencies: Record<string, string> };
    assert.equal(pkg.scripts["postinstall"], undefined);
    assert.equal(pkg.dependencies["@bizra/contract"], "file:node-app/contract");
    assert.equal(pkg.dependencies["@bizra/evidence"], "file:node-app/evidence");
  });
});
