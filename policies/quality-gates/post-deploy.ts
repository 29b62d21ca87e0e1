/**
 * The post-deploy report gate: when the stack config sets `bizra:postDeployReport: {stack, maxAgeHours}` (carried
 * to the pack as an annotation of the `<appName>-slo` ConfigMap), a deployment needs a GO report of
 * `npm run validate -- <stack>`: the bundle in `<postDeployDir>/<stack>/` signed by a trusted key, for the commit
 * being deployed, no older than maxAgeHours, its HTML page matching the digest the signed artifact carries, and the
 * verdict `go`. Without the key there is no requirement.
 */
import type { PolicyResource } from "@pulumi/policy";
import * as fs from "node:fs";
import * as path from "node:path";
import { POST_DEPLOY_REPORT_ANNOTATION, SLO_CONFIGMAP_KEY } from "@bizra/contract";
import { blake3Hex, verifyEvidence } from "@bizra/evidence";
import { SLO_CONFIGMAP_TYPE } from "../shared/stack";

/** File names `npm run validate` writes (scripts/validate.ts). */
export const POST_DEPLOY_ARTIFACT = "post-deploy.json";

export interface PostDeployRequirement {
  readonly stack: string;
  readonly maxAgeHours: number;
}

/** The requirement the stack carries, undefined when none, or a problem text when the annotation is malformed. */
export function postDeployRequirement(resources: readonly Pick<PolicyResource, "type" | "props">[]): PostDeployRequirement | string | undefined {
  const cm = resources.find((r) => r.type === SLO_CONFIGMAP_TYPE && typeof r.props?.["data"]?.[SLO_CONFIGMAP_KEY] === "string");
  const raw = cm?.props?.["metadata"]?.["annotations"]?.[POST_DEPLOY_REPORT_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const r = JSON.parse(String(raw)) as Partial<PostDeployRequirement>;
    if (typeof r.stack === "string" && typeof r.maxAgeHours === "number" && r.maxAgeHours > 0) return { stack: r.stack, maxAgeHours: r.maxAgeHours };
  } catch {
    // reported below
  }
  return `annotation ${POST_DEPLOY_REPORT_ANNOTATION} is not {"stack": <name>, "maxAgeHours": <hours>}: ${String(raw)}`;
}

/** Problems with the required report; empty when it is a fresh, trusted GO for `commit`. */
export function postDeployProblems(
  requirement: PostDeployRequirement,
  opts: { dir: string; trustedKeys: readonly string[]; commit: string; now?: Date },
): string[] {
  const dir = path.join(opts.dir, requirement.stack);
  const how = `run \`npm run validate -- ${requirement.stack}\` against the deployed ${requirement.stack} stack on this commit`;
  if (!fs.existsSync(path.join(dir, "manifest.json"))) return [`[no-post-deploy-report] no report in ${dir}: ${how}`];
  const report = verifyEvidence(dir, {
    trustedKeys: opts.trustedKeys,
    ...(opts.commit !== "" ? { commit: opts.commit } : {}),
    maxAgeHours: requirement.maxAgeHours,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const problems = report.problems.map((p) => `[${p.code}] post-deploy ${p.message}`);
  if (opts.commit === "") problems.push("[wrong-commit] the commit being deployed is unknown: cannot tell whether the report is for it");
  const artifact = report.artifacts[POST_DEPLOY_ARTIFACT];
  if (problems.length > 0) return problems;
  if (!artifact) return [`[missing-artifact] ${POST_DEPLOY_ARTIFACT} is not in the report bundle ${dir}`];
  const results = artifact.results as { stack?: unknown; verdict?: unknown; reasons?: unknown; html?: { file?: unknown; blake3?: unknown } };
  if (results.stack !== requirement.stack) problems.push(`[wrong-stack] the report judges stack ${String(results.stack)}, required ${requirement.stack}`);
  if (results.verdict !== "go") {
    const reasons = Array.isArray(results.reasons) ? `: ${results.reasons.join("; ")}` : "";
    problems.push(`[not-go] the post-deploy report of ${requirement.stack} says ${String(results.verdict)}${reasons}`);
  }
  const html = results.html;
  if (typeof html?.file === "string" && typeof html.blake3 === "string") {
    const file = path.join(dir, path.basename(html.file));
    const actual = fs.existsSync(file) ? blake3Hex(new Uint8Array(fs.readFileSync(file))) : "missing";
    if (actual !== html.blake3) problems.push(`[digest-mismatch] ${html.file}: BLAKE3 ${actual} differs from the signed report's ${html.blake3}`);
  }
  return problems;
}
