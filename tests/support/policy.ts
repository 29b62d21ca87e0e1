/**
 * Policy test helpers in the style of pulumi-policy-aws (src/tests/util.ts): build ResourceValidationArgs and
 * StackValidationArgs by hand from recorded resources, run a policy, and collect its reportViolation calls.
 */
import { testStackConfig } from "./stack";
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import * as assert from "node:assert/strict";
import { kubernetesObjects, runProgram, type ProgramRun } from "../../scripts/lib/mock-runtime";

export const PROJECT = "bizra-node0-infra";

export interface PlainResource {
  readonly type: string;
  readonly name: string;
  /** The resource's inputs, as the policy SDK hands them to a policy (`PolicyResource["props"]`). */
  readonly props: PolicyResource["props"];
}

const OPTS = { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] };

export function urnOf(stack: string, type: string, name: string): string {
  return `urn:pulumi:${stack}::${PROJECT}::${type}::${name}`;
}

export function resourceArgs(r: PlainResource, config: object = {}, stack = "testnet"): ResourceValidationArgs {
  return {
    type: r.type,
    props: r.props,
    urn: urnOf(stack, r.type, r.name),
    name: r.name,
    opts: OPTS,
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`notApplicable: ${reason ?? ""}`);
    },
  } as ResourceValidationArgs;
}

export function policyResource(r: PlainResource, stack: string): PolicyResource {
  return {
    type: r.type,
    props: r.props,
    urn: urnOf(stack, r.type, r.name),
    name: r.name,
    opts: OPTS,
    dependencies: [],
    propertyDependencies: {},
    isType: () => false,
    asType: () => undefined,
  } as unknown as PolicyResource;
}

export function stackArgs(resources: readonly PlainResource[], config: object = {}, stack = "testnet"): StackValidationArgs {
  return {
    resources: resources.map((r) => policyResource(r, stack)),
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`notApplicable: ${reason ?? ""}`);
    },
  };
}

/** Messages reported by a resource policy. */
export async function resourceViolations(policy: ResourceValidationPolicy, args: ResourceValidationArgs): Promise<string[]> {
  const out: string[] = [];
  const validate = policy.validateResource;
  for (const v of Array.isArray(validate) ? validate : validate ? [validate] : []) await v(args, (message) => out.push(message));
  return out;
}

/** Messages reported by a stack policy. */
export async function stackViolations(policy: StackValidationPolicy, args: StackValidationArgs): Promise<string[]> {
  const out: string[] = [];
  const validate = policy.validateStack;
  if (validate) await validate(args, (message) => out.push(message));
  return out;
}

/** Runs every policy of a pack over a stack's resources (resource policies on each resource). */
export async function packViolations(
  policies: ReadonlyArray<ResourceValidationPolicy | StackValidationPolicy>,
  resources: readonly PlainResource[],
  config: object = {},
  stack = "testnet",
): Promise<string[]> {
  const out: string[] = [];
  for (const p of policies) {
    if ("validateStack" in p) out.push(...(await stackViolations(p, stackArgs(resources, config, stack))).map((m) => `${p.name}: ${m}`));
    else for (const r of resources) out.push(...(await resourceViolations(p, resourceArgs(r, config, stack))).map((m) => `${p.name}: ${m}`));
  }
  return out;
}

export function assertHasViolation(violations: readonly string[], expected: string | RegExp): void {
  const hit = violations.some((v) => (typeof expected === "string" ? v.includes(expected) : expected.test(v)));
  assert.ok(hit, `expected a violation matching ${String(expected)}, got:\n${violations.join("\n") || "(none)"}`);
}

export function assertNoViolations(violations: readonly string[]): void {
  assert.deepEqual(violations, [], `expected no violations, got:\n${violations.join("\n")}`);
}

const runs = new Map<string, Promise<PlainResource[]>>();

/** The Kubernetes objects the program registers for a stack (under mocks), as policy inputs. Memoized. */
export function programResources(stack: string): Promise<PlainResource[]> {
  let p = runs.get(stack);
  if (!p) {
    p = runProgram(stack, testStackConfig(stack)).then((run: ProgramRun) => {
      const objects = new Set<unknown>(kubernetesObjects(run));
      return run.resources.filter((r) => objects.has(r.inputs)).map((r) => ({ type: r.type, name: r.name, props: r.inputs }));
    });
    runs.set(stack, p);
  }
  return p;
}

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
