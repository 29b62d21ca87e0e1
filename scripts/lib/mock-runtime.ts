/**
 * Evaluates the Pulumi program under `pulumi.runtime.setMocks` and records every registered resource (type token,
 * name, inputs), so tests and the offline render see exactly what the program asks the engine for, including the
 * `spec` of custom resources, which are not outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { REPO_ROOT, type RawStackConfig } from "./stack-config";
import { ofKind, type KubeKind, type KubeKinds, type KubeObject } from "./kube-kinds";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly custom: boolean;
}

export interface ProgramRun {
  readonly resources: RecordedResource[];
  /** Stack outputs, resolved. */
  readonly outputs: Record<string, unknown>;
}

/** Resolves a Pulumi Output (or plain value) in tests. */
export function promiseOf<T>(value: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(value).apply((v) => resolve(v as T)));
}

/** State the mock engine returns for a new resource: its inputs, plus what a provider would compute. */
function mockState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  if (args.type === "docker:index/image:Image") {
    const name = String(args.inputs.imageName).replace(/:[^/:]*$/, "");
    return { ...args.inputs, repoDigest: `${name}@sha256:${"ab".repeat(32)}` };
  }
  return args.inputs;
}

/** The mock monitor hands secret inputs over in the engine's wire form: `{ [SECRET_SIG]: SECRET_VALUE, value }`. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === "object") {
    if (SECRET_SIG in value) return unwrapSecrets((value as { value?: unknown }).value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** Runs `index.ts` for one stack and returns what it registered. Each call evaluates the program afresh. */
export async function runProgram(stack: string, config: RawStackConfig, opts: { preview?: boolean } = {}): Promise<ProgramRun> {
  const resources: RecordedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: unwrapSecrets(args.inputs) as Record<string, unknown>, custom: args.custom ?? true });
        return { id: `${args.name}-id`, state: mockState(args) };
      },
      call(args) {
        return args.inputs;
      },
    },
    "bizra-node0-infra",
    stack,
    opts.preview ?? false,
  );
  pulumi.runtime.setAllConfig(config.values, config.secretKeys);

  const entry = path.join(REPO_ROOT, "index.ts");
  for (const id of Object.keys(require.cache)) {
    if (id === require.resolve(entry)) delete require.cache[id];
  }
  const program = (await import(entry)) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(program)) {
    if (key === "default" || key === "__esModule") continue;
    outputs[key] = await promiseOf(value as pulumi.Input<unknown>);
  }
  await settled(() => resources.length);
  return { resources, outputs };
}

/** Waits until no new resource has been registered for a few event-loop turns. */
async function settled(count: () => number): Promise<void> {
  let last = -1;
  let stableTurns = 0;
  while (stableTurns < 20) {
    await new Promise((r) => setTimeout(r, 5));
    const now = count();
    stableTurns = now === last ? stableTurns + 1 : 0;
    last = now;
  }
}

/** Kubernetes objects among the recorded resources (everything the `kubernetes` provider would apply). */
export function kubernetesObjects(run: ProgramRun): KubeObject[] {
  return run.resources
    .filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:"))
    .map((r) => r.inputs as unknown as KubeObject);
}

/** The Kubernetes objects of one kind the run registered, typed (scripts/lib/kube-kinds.ts). */
export function objectsOfKind<K extends KubeKind>(run: ProgramRun, kind: K): (KubeObject & KubeKinds[K])[] {
  return ofKind(kubernetesObjects(run), kind);
}
