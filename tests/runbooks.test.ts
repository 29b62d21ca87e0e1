/**
 * Every `runbook_url` of the rendered alert rules resolves: it names a file of this repository and an anchor that
 * is a heading of that file (GitHub's anchor rule), and each alert's section says what the alert means, gives first
 * checks as commands, and a mitigation. Links inside the runbooks resolve too.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT, STACKS } from "../scripts/lib/stack-config";
import { renderedRuleGroups } from "./support/stack";

const RUNBOOKS = path.join(REPO_ROOT, "docs", "runbooks.md");

/** GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
export function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** Anchor -> section text (up to the next heading of the same or a higher level). */
export function markdownSections(text: string): Map<string, string> {
  const lines = text.split("\n");
  const sections = new Map<string, string>();
  let inFence = false;
  const headings: { anchor: string; level: number; line: number }[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith("```")) inFence = !inFence;
    const m = !inFence && /^(#{1,6})\s+(.*)$/.exec(line);
    if (m) headings.push({ anchor: githubAnchor(m[2] as string), level: (m[1] as string).length, line: i });
  });
  headings.forEach((h, k) => {
    const next = headings.slice(k + 1).find((o) => o.level <= h.level);
    sections.set(h.anchor, lines.slice(h.line + 1, next?.line ?? lines.length).join("\n"));
  });
  return sections;
}

describe("runbooks: every runbook_url resolves to a section of docs/runbooks.md", () => {
  const text = fs.readFileSync(RUNBOOKS, "utf8");
  const sections = markdownSections(text);

  it("the heading anchor rule is GitHub's", () => {
    assert.equal(githubAnchor("FinalityCheckStalled"), "finalitycheckstalled");
    assert.equal(githubAnchor("Disable batch verification (`POI_BATCH_VERIFY`)"), "disable-batch-verification-poi_batch_verify");
    assert.equal(githubAnchor("Emergency promotion or abort (Flagger `skipAnalysis`)"), "emergency-promotion-or-abort-flagger-skipanalysis");
  });

  for (const stack of STACKS) {
    it(`stack ${stack}: each alert's runbook_url is docs/runbooks.md#<a heading> with meaning, first checks and mitigation`, async function () {
      this.timeout(60_000);
      const rules = (await renderedRuleGroups(stack)).flatMap((g) => g.rules);
      assert.equal(rules.length, 13);
      for (const r of rules) {
        const url = r.annotations?.runbook_url ?? "";
        const m = /^https?:\/\/\S+\/blob\/[^/]+\/(\S+)#(\S+)$/.exec(url);
        assert.ok(m, `${r.alert}: ${url} is <repository>/blob/<ref>/<path>#<anchor>`);
        const [, file, anchor] = m;
        assert.ok(fs.existsSync(path.join(REPO_ROOT, file as string)), `${r.alert}: ${file} exists in the repository`);
        assert.equal(path.resolve(REPO_ROOT, file as string), RUNBOOKS);
        const section = sections.get(anchor as string);
        assert.ok(section !== undefined, `${r.alert}: no heading with anchor #${anchor} in docs/runbooks.md`);
        assert.match(section, /\*\*Means:\*\*/, `${r.alert}: says what it means`);
        assert.match(section, /\*\*First checks\*\*\s+```sh\n[^`]*(kubectl|curl)/, `${r.alert}: first checks as commands`);
        assert.match(section, /\*\*Mitigation:\*\*/, `${r.alert}: a mitigation`);
      }
    });
  }

  it("the release procedures are there: rollback to the previous digest, skipAnalysis, POI_BATCH_VERIFY", () => {
    for (const anchor of ["rollback-to-the-previous-digest", "emergency-promotion-or-abort-flagger-skipanalysis", "disable-batch-verification-poi_batch_verify"]) {
      assert.ok(sections.has(anchor), anchor);
    }
    assert.match(sections.get("emergency-promotion-or-abort-flagger-skipanalysis") as string, /"skipAnalysis":true/);
    assert.match(sections.get("disable-batch-verification-poi_batch_verify") as string, /bizra:runtimeFlags\.POI_BATCH_VERIFY false/);
  });

  it("every link inside docs/runbooks.md to one of its own sections resolves", () => {
    const links = [...text.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1] as string);
    assert.ok(links.length > 5);
    assert.deepEqual(links.filter((a) => !sections.has(a)), []);
  });

  it("fails on an anchor that is not a heading", () => {
    assert.equal(sections.get("finalitycheckstalledx"), undefined);
  });
});
