/**
 * `npm run gates:summary -- <stack>`: the gate table of the quality-gates pack for a stack, as Markdown (the same
 * functions the pack runs: evidence verification, gates against the stack's SLO table, release manifest). Printed on
 * stdout and appended to `$GITHUB_STEP_SUMMARY` when that is set (the CI job summary). Exit 0 always: the preview is
 * what fails a job; this only reports.
 */
import * as fs from "node:fs";
import { assessQualityGates, defaultQualityGatesConfig } from "../policies/quality-gates/policies";
import { defaultReleasePolicyConfig, releaseProblems } from "../policies/quality-gates/release";
import { summaryLine } from "../policies/quality-gates/gates";
import { operatorKeyRequired } from "./release/cosign-key";
import { runProgram } from "./lib/mock-runtime";
import { offlineStackConfig, STACKS } from "./lib/stack-config";

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export async function gatesMarkdown(stack: string): Promise<string> {
  const run = await runProgram(stack, offlineStackConfig(stack));
  const resources = run.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs, urn: `urn:pulumi:${stack}::p::${r.type}::${r.name}` }));
  const outcome = assessQualityGates({ resources } as never, defaultQualityGatesConfig());
  const lines = [`### Quality gates: ${stack}`, ""];
  if (outcome.integrity.length > 0) {
    lines.push("**Evidence rejected** (mandatory):", "", ...outcome.integrity.map((p) => `- ${cell(p)}`), "");
  } else {
    lines.push("| gate | SLO | level | measured | threshold | result |", "| --- | --- | --- | --- | --- | --- |");
    for (const g of outcome.gates) {
      lines.push(`| ${g.gate} | ${g.slo} | ${g.mandatory ? "mandatory" : "advisory"} (${g.severity}) | ${g.measured ?? "—"} | ${cell(g.threshold)} | ${g.passed ? "pass" : `**fail**${g.note ? `: ${cell(g.note)}` : ""}`} |`);
    }
    if (outcome.summary) lines.push("", summaryLine(outcome.summary));
  }
  const release = releaseProblems({ resources } as never, defaultReleasePolicyConfig(), stack);
  const level = operatorKeyRequired(stack) ? "mandatory" : "advisory";
  lines.push("", release.length === 0 ? `Release manifest (${level}): verified for every image.` : `Release manifest (${level}): **missing or not verified**`);
  for (const p of release) lines.push(`- ${cell(p)}`);
  return `${lines.join("\n")}\n`;
}

if (require.main === module) {
  const stack = process.argv[2];
  if (!stack || !(STACKS as readonly string[]).includes(stack)) {
    console.error(`usage: npm run gates:summary -- <stack>   (stack: ${STACKS.join(" | ")})`);
    process.exit(2);
  }
  gatesMarkdown(stack).then(
    (md) => {
      process.stdout.write(md);
      if (process.env.GITHUB_STEP_SUMMARY) fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, md);
    },
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
