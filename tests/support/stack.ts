/** Stack config and recorded objects, as the program tests read them. */
import { generateKeyPairSync } from "node:crypto";
import { parseStackConfig } from "../../components/config";
import type { RuleGroup } from "../../components/crds/monitoring";
import { objectsOfKind, runProgram, type ProgramRun } from "../../scripts/lib/mock-runtime";
import type { KubeKind, KubeKinds, KubeObject } from "../../scripts/lib/kube-kinds";
import { publicKeyOfSeed, type ValidatorConfigEntry } from "../../components/validator-set";
import { operatorKeyRequired } from "../../scripts/release/cosign-key";
import { offlineStackConfig, readStackFile, type RawStackConfig } from "../../scripts/lib/stack-config";

/**
 * The public half of a throwaway P-256 key, standing in for the operator's release key: the committed production
 * file carries a placeholder that config validation refuses, so tests set a key as the operator would.
 */
export const OPERATOR_TEST_COSIGN_KEY = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "pem", type: "spki" }).toString();

/** `bizra:kyverno` with the test operator key, for the stacks that must carry the operator's key. */
export function operatorKeyOverride(stack: string): Record<string, unknown> {
  if (!operatorKeyRequired(stack)) return {};
  return { "bizra:kyverno": { ...(readStackFile(stack)["bizra:kyverno"] as object), cosignPublicKey: OPERATOR_TEST_COSIGN_KEY } };
}

/** A committed stack file as the engine would pass it, with the operator's key set (see above) and `overrides`. */
export function testStackConfig(stack: string, overrides: Record<string, unknown> = {}): RawStackConfig {
  return offlineStackConfig(stack, { ...operatorKeyOverride(stack), ...overrides });
}

/** The validated config of a committed stack file, with optional overrides (secure values replaced offline). */
export function configOf(stack: string, overrides: Record<string, unknown> = {}) {
  const raw = testStackConfig(stack, overrides);
  return parseStackConfig(stack, raw.values, raw.secretKeys);
}

/** Every Kubernetes object of one kind the run registered, typed by kind. */
export const byType = <K extends KubeKind>(run: ProgramRun, kind: K): (KubeObject & KubeKinds[K])[] => objectsOfKind(run, kind);

/** The `spec` of the PrometheusRule the program registers for `stack` (what `npm run render` writes out). */
export async function renderedRuleGroups(stack: string, overrides: Record<string, unknown> = {}): Promise<RuleGroup[]> {
  const run = await runProgram(stack, testStackConfig(stack, overrides));
  return single(objectsOfKind(run, "PrometheusRule"), "PrometheusRule").spec.groups;
}

/**
 * A stack's raw config with `bizra:canary.loadTester` set and a validator set of this validator (node0, the public
 * key of the offline signing key, weight 3: it alone still finalizes) and the load tester's test validators
 * (`testValidators`: id and public key, weight 1). Only test stacks list such validators.
 */
export function stackWithLoadTester(stack: string, loadTester: Record<string, unknown>, testValidators: ReadonlyArray<{ id: string; publicKey: string }>) {
  const raw = testStackConfig(stack, { "bizra:canary": { stages: configOf(stack).canary.stages, loadTester } });
  const set: ValidatorConfigEntry[] = [
    { id: "node0", weight: 3, publicKey: publicKeyOfSeed(raw.values["bizra:signingKey"] as string) },
    ...testValidators.map((v) => ({ id: v.id, weight: 1, publicKey: v.publicKey })),
  ];
  raw.values["bizra:validators"] = JSON.stringify(set);
  return raw;
}

/** The one element of `items`; fails naming `what` and the count otherwise. */
export function single<T>(items: readonly T[], what: string): T {
  const [first, ...rest] = items;
  if (first === undefined || rest.length > 0) throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return first;
}

/** `items[index]`; fails naming `what` and the length when there is no such element. */
export function nth<T>(items: readonly T[] | undefined, index: number, what: string): T {
  const item = items?.[index];
  if (item === undefined) throw new Error(`expected ${what} at index ${index}, found ${items?.length ?? 0} element(s)`);
  return item;
}

/** The first element of `items` that satisfies `pred`; fails naming `what` when none does. */
export function find<T>(items: readonly T[] | undefined, pred: (item: T) => boolean, what: string): T {
  const item = items?.find(pred);
  if (item === undefined) throw new Error(`expected ${what} among ${items?.length ?? 0} element(s), found none`);
  return item;
}

/** The object of kind `kind` named `name`; fails naming both when there is none (or more than one). */
export function named<K extends KubeKind>(objects: readonly (KubeObject & KubeKinds[K])[], name: string, kind: K): KubeObject & KubeKinds[K] {
  return single(objects.filter((o) => o.metadata.name === name), `${kind} ${name}`);
}

/** The node's ServiceMonitor among the program's two (the other is the signer's): the one of the `node` component. */
export function nodeServiceMonitor<T extends { readonly metadata: { readonly labels?: Readonly<Record<string, string>> } }>(serviceMonitors: readonly T[]): T {
  return single(serviceMonitors.filter((s) => s.metadata.labels?.["app.kubernetes.io/component"] === "node"), "ServiceMonitor of the node component");
}
