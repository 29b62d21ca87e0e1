/**
 * The quality-gates stack policies. Evidence integrity (signature, trusted key, digests, completeness, commit, age)
 * and mandatory gates fail `pulumi preview/up`; warning and canary gates are advisory.
 *
 * Trust decision (`trustedKeysOrLocal` in @bizra/evidence): `trustedPublicKeys` from the policy config, else the
 * public key of the local `.evidence-key`. CI and production set `trustedPublicKeys` to the release key; with no
 * key configured and no local key, nothing is trusted and the gate fails.
 */
import type { PolicyConfigSchema, ReportViolation, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import * as path from "node:path";
import { headCommit, trustedKeysOrLocal, verifyEvidence, type EvidenceReport } from "@bizra/evidence";
import { readSloTable } from "../shared/stack";
import { postDeployProblems, postDeployRequirement } from "./post-deploy";
import { describeGate, evaluateGates, summarizeGates, summaryLine, type GateResult, type GateSummary } from "./gates";

export interface QualityGatesConfig {
  /** Folder of the signed bundle. */
  readonly evidenceDir: string;
  /** Hex Ed25519 public keys allowed to sign evidence. */
  readonly trustedPublicKeys: readonly string[];
  readonly maxAgeHours: number;
  /** Commit the evidence must be from; "" when unknown (then the check fails: no commit to compare with). */
  readonly requireCommit: string;
  /** Folder of the post-deploy reports (`<dir>/<stack>/`), read when the stack sets `bizra:postDeployReport`. */
  readonly postDeployDir: string;
}

/** Defaults, resolved when the pack loads: repo-root evidence/, the local key, 24 h, the current HEAD. */
export function defaultQualityGatesConfig(): QualityGatesConfig {
  return {
    evidenceDir: path.resolve(__dirname, "..", "..", "evidence"),
    trustedPublicKeys: trustedKeysOrLocal(undefined),
    maxAgeHours: 24,
    requireCommit: headCommit() ?? "",
    postDeployDir: path.resolve(__dirname, "..", "..", "evidence", "post-deploy"),
  };
}

export function qualityGatesConfigSchema(defaults: QualityGatesConfig = defaultQualityGatesConfig()): PolicyConfigSchema {
  return {
    properties: {
      evidenceDir: { type: "string", default: defaults.evidenceDir, description: "Folder holding manifest.json and the artifacts" },
      trustedPublicKeys: {
        type: "array",
        items: { type: "string", pattern: "^[0-9a-fA-F]{64}$" },
        default: [...defaults.trustedPublicKeys],
        description: "Hex Ed25519 public keys trusted to sign evidence (default: the local .evidence-key)",
      },
      maxAgeHours: { type: "number", exclusiveMinimum: 0, default: defaults.maxAgeHours, description: "Oldest acceptable evidence, in hours" },
      requireCommit: { type: "string", default: defaults.requireCommit, description: "Commit the evidence must be from (default: git HEAD)" },
      postDeployDir: { type: "string", default: defaults.postDeployDir, description: "Folder of `npm run validate` reports, one sub-folder per stack" },
    },
  };
}

export function resolveQualityGatesConfig(given: Partial<QualityGatesConfig> | undefined, defaults = defaultQualityGatesConfig()): QualityGatesConfig {
  return { ...defaults, ...Object.fromEntries(Object.entries(given ?? {}).filter(([, v]) => v !== undefined)) } as QualityGatesConfig;
}

export interface QualityGatesOutcome {
  readonly integrity: string[];
  readonly gates: GateResult[];
  readonly summary: GateSummary | undefined;
  readonly report: EvidenceReport | undefined;
}

/** Verifies the evidence and evaluates the gates for a stack. Pure apart from reading `evidenceDir`. */
export function assessQualityGates(args: Pick<StackValidationArgs, "resources">, config: QualityGatesConfig, now = new Date()): QualityGatesOutcome {
  const integrity: string[] = [];
  if (config.requireCommit === "") integrity.push("[wrong-commit] requireCommit is not configured and git HEAD is unknown: cannot tell which commit the evidence must be from");
  const report = verifyEvidence(config.evidenceDir, {
    trustedKeys: config.trustedPublicKeys,
    ...(config.requireCommit !== "" ? { commit: config.requireCommit } : {}),
    maxAgeHours: config.maxAgeHours,
    now,
  });
  integrity.push(...report.problems.map((p) => `[${p.code}] ${p.message}`));
  const slos = readSloTable(args.resources);
  if (!slos.ok) integrity.push(`[no-slo-table] ${slos.reason}; gates cannot be evaluated`);
  if (integrity.length > 0 || !slos.ok) return { integrity, gates: [], summary: undefined, report };
  const gates = evaluateGates(report, slos.table);
  return { integrity, gates, summary: summarizeGates(gates), report };
}

function reportGates(outcome: QualityGatesOutcome, mandatory: boolean, reportViolation: ReportViolation): void {
  if (!outcome.summary) return;
  const failing = outcome.gates.filter((g) => g.mandatory === mandatory && !g.passed);
  if (failing.length === 0) return;
  reportViolation(
    `${failing.length} ${mandatory ? "mandatory (critical/consensus)" : "advisory (warning/canary)"} gate${failing.length === 1 ? "" : "s"} failed:\n` +
      failing.map((g) => `  - ${describeGate(g)}`).join("\n") +
      `\n${summaryLine(outcome.summary)}`,
  );
}

/** Pack-load-time defaults are shared by both policies of one pack instance. */
const DEFAULTS = defaultQualityGatesConfig();

export const evidenceAndCriticalGates: StackValidationPolicy = {
  name: "evidence-integrity-and-critical-gates",
  description:
    "The signed evidence bundle verifies (trusted Ed25519 key, every BLAKE3 digest, no missing or extra artifact, this commit, " +
    "not older than maxAgeHours) and every critical and consensus gate meets the stack's SLO table (ConfigMap <appName>-slo).",
  remediationSteps:
    "Run `npm run evidence` on the commit being deployed (it measures and signs), then `npm run evidence:verify`. If a gate fails " +
    "on the numbers, fix the regression or change the SLO in Pulumi.<stack>.yaml (bizra:slo) deliberately; never edit evidence files.",
  enforcementLevel: "mandatory",
  configSchema: qualityGatesConfigSchema(DEFAULTS),
  validateStack: (args, reportViolation) => {
    const outcome = assessQualityGates(args, resolveQualityGatesConfig(args.getConfig<Partial<QualityGatesConfig>>(), DEFAULTS));
    if (outcome.integrity.length > 0) {
      reportViolation(`evidence rejected:\n${outcome.integrity.map((p) => `  - ${p}`).join("\n")}`);
      return;
    }
    reportGates(outcome, true, reportViolation);
  },
};

export const advisoryGates: StackValidationPolicy = {
  name: "advisory-performance-gates",
  description: "Warning and canary gates (PoI latency and throughput, API latency, error rate, cache hit rate) meet the stack's SLO table.",
  remediationSteps:
    "Investigate the regression with `npm run evidence` (artifact named in the message). Advisory gates do not block; the canary " +
    "checks enforce the same SLOs in the cluster.",
  enforcementLevel: "advisory",
  configSchema: qualityGatesConfigSchema(DEFAULTS),
  validateStack: (args, reportViolation) => {
    const outcome = assessQualityGates(args, resolveQualityGatesConfig(args.getConfig<Partial<QualityGatesConfig>>(), DEFAULTS));
    reportGates(outcome, false, reportViolation);
  },
};

export const postDeployReportGate: StackValidationPolicy = {
  name: "post-deploy-report",
  description:
    "When the stack sets bizra:postDeployReport {stack, maxAgeHours}: a signed GO report of `npm run validate -- <stack>` for this commit, " +
    "no older than maxAgeHours, from a trusted key.",
  remediationSteps:
    "Deploy the commit to the named stack, let it serve traffic, then run `npm run validate -- <stack>` (exit 0, GO); the report lands in " +
    "evidence/post-deploy/<stack>/. A NO-GO names the failing SLOs: fix them, never edit the report.",
  enforcementLevel: "mandatory",
  configSchema: qualityGatesConfigSchema(DEFAULTS),
  validateStack: (args, reportViolation) => {
    const requirement = postDeployRequirement(args.resources);
    if (requirement === undefined) return;
    if (typeof requirement === "string") {
      reportViolation(requirement);
      return;
    }
    const config = resolveQualityGatesConfig(args.getConfig<Partial<QualityGatesConfig>>(), DEFAULTS);
    const problems = postDeployProblems(requirement, { dir: config.postDeployDir, trustedKeys: config.trustedPublicKeys, commit: config.requireCommit });
    if (problems.length > 0) reportViolation(`post-deploy report of ${requirement.stack} rejected:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  },
};

export const qualityGatePolicies = [evidenceAndCriticalGates, advisoryGates, postDeployReportGate];
