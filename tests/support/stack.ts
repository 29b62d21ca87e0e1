/** Stack config and recorded objects, as the program tests read them. */
import { parseStackConfig } from "../../components/config";
import type { ProgramRun } from "../../scripts/lib/mock-runtime";
import { offlineStackConfig } from "../../scripts/lib/stack-config";

/** The validated config of a committed stack file, with optional overrides (secure values replaced offline). */
export function configOf(stack: string, overrides: Record<string, unknown> = {}) {
  const raw = offlineStackConfig(stack, overrides);
  return parseStackConfig(stack, raw.values, raw.secretKeys);
}

/** Inputs of every custom resource of one kind. */
export const byType = (run: ProgramRun, kind: string) => run.resources.filter((r) => r.custom && r.inputs.kind === kind).map((r) => r.inputs);
