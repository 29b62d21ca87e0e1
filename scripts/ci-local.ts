/**
 * Runs a GitHub Actions job's `run:` steps locally, in order, as the workflow would (docs/release.md, "CI"):
 *
 *   npm run ci:local -- <workflow file> <job> [name=value ...] [--skip "<command prefix>" ...] [--dry-run]
 *
 * `name=value` sets `${{ matrix.name }}`; `if:` conditions of the forms `always()`, `matrix.x == 'v'` and
 * `matrix.x != 'v'` are evaluated (any other condition is refused). `uses:` steps cannot run here and are listed as
 * skipped. The step's `env:` and the job's `env:` are passed with `${{ ... }}` values left empty (secrets and
 * variables are not available locally). Exit status: the first failing step's.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export interface WorkflowStep {
  readonly name?: string;
  readonly run?: string;
  readonly uses?: string;
  readonly if?: string;
  readonly env?: Record<string, string>;
}
export interface WorkflowJob {
  readonly steps: WorkflowStep[];
  readonly env?: Record<string, string>;
  readonly environment?: string;
  readonly needs?: string | string[];
  readonly strategy?: { matrix?: Record<string, unknown[]> };
}
export interface Workflow {
  readonly name: string;
  readonly on: Record<string, unknown>;
  readonly jobs: Record<string, WorkflowJob>;
}

export function readWorkflow(file: string): Workflow {
  return parse(fs.readFileSync(file, "utf8")) as Workflow;
}

const EXPR = /\$\{\{\s*([^}]*?)\s*\}\}/g;

/** `${{ matrix.x }}` -> value; any other expression -> "" (not available locally). */
export function substitute(text: string, matrix: Record<string, string>): string {
  return text.replace(EXPR, (_, expr: string) => {
    const m = /^matrix\.([A-Za-z0-9_-]+)$/.exec(expr.trim());
    return m ? (matrix[m[1]!] ?? "") : "";
  });
}

/** Evaluates the `if:` forms the project's workflows use. */
export function condition(expr: string | undefined, matrix: Record<string, string>): boolean {
  if (expr === undefined) return true;
  const e = expr.replace(EXPR, "$1").trim();
  if (e === "always()") return true;
  const m = /^matrix\.([A-Za-z0-9_-]+)\s*(==|!=)\s*'([^']*)'$/.exec(e);
  if (!m) throw new Error(`ci-local: cannot evaluate the condition ${JSON.stringify(expr)} (allowed: always(), matrix.x == 'v', matrix.x != 'v')`);
  return (matrix[m[1]!] === m[3]) === (m[2] === "==");
}

export interface PlannedStep {
  readonly index: number;
  readonly label: string;
  readonly command?: string;
  readonly skipped?: string;
  readonly env: Record<string, string>;
}

/** The job's steps as they would run, in order. */
export function planJob(job: WorkflowJob, matrix: Record<string, string>, skip: readonly string[] = []): PlannedStep[] {
  const jobEnv = Object.fromEntries(Object.entries(job.env ?? {}).map(([k, v]) => [k, substitute(String(v), matrix)]));
  return job.steps.map((s, index) => {
    const label = s.name ?? s.run ?? s.uses ?? `step ${index + 1}`;
    const env = { ...jobEnv, ...Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, substitute(String(v), matrix)])) };
    if (!condition(s.if, matrix)) return { index, label, skipped: `if: ${s.if}`, env };
    if (s.uses) return { index, label, skipped: `uses: ${s.uses} (a GitHub action; not run locally)`, env };
    const command = substitute(s.run ?? "", matrix).trim();
    const skippedBy = skip.find((p) => command.startsWith(p));
    if (skippedBy) return { index, label, command, skipped: `--skip ${skippedBy}`, env };
    return { index, label, command, env };
  });
}

/** Runs the planned steps with bash in `cwd`; stops at the first failure. */
export function runPlan(plan: readonly PlannedStep[], opts: { cwd: string; env?: NodeJS.ProcessEnv; log?: (s: string) => void; dryRun?: boolean }): { status: number; ran: string[] } {
  const log = opts.log ?? ((s: string) => console.error(s));
  const ran: string[] = [];
  for (const step of plan) {
    if (step.skipped || !step.command) {
      log(`[ci-local] skip  ${step.label}${step.skipped ? ` (${step.skipped})` : ""}`);
      continue;
    }
    log(`[ci-local] run   ${step.command}`);
    ran.push(step.command);
    if (opts.dryRun) continue;
    const env = { ...(opts.env ?? process.env), ...Object.fromEntries(Object.entries(step.env).filter(([, v]) => v !== "")) };
    const r = spawnSync("bash", ["-e", "-o", "pipefail", "-c", step.command], { cwd: opts.cwd, env, stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) {
      log(`[ci-local] FAILED (exit ${r.status}): ${step.command}`);
      return { status: r.status ?? 1, ran };
    }
  }
  return { status: 0, ran };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const [file, jobName] = args;
  const matrix: Record<string, string> = {};
  const skip: string[] = [];
  let dryRun = false;
  for (let i = 2; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--skip") skip.push(args[++i] ?? "");
    else if (a === "--dry-run") dryRun = true;
    else if (/^[A-Za-z0-9_-]+=/.test(a)) matrix[a.slice(0, a.indexOf("="))] = a.slice(a.indexOf("=") + 1);
    else {
      console.error(`ci-local: unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (!file || !jobName) {
    console.error("usage: npm run ci:local -- <workflow file> <job> [name=value ...] [--skip <command prefix> ...] [--dry-run]");
    process.exit(2);
  }
  const wf = readWorkflow(file);
  const job = wf.jobs[jobName];
  if (!job) {
    console.error(`ci-local: no job ${jobName} in ${file} (jobs: ${Object.keys(wf.jobs).join(", ")})`);
    process.exit(2);
  }
  const { status } = runPlan(planJob(job, matrix, skip), { cwd: path.resolve(path.dirname(file), "..", ".."), dryRun });
  process.exit(status);
}
