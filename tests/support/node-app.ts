/**
 * The real node for end-to-end tests: `node-app/src/main.ts` under ts-node as a child process on loopback, with
 * ephemeral ports read from its start log. Stop it with `stopChild(node.child)`; a last-resort hook kills it on exit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { signVote } from "../../node-app/src/consensus/vote-encoding";
import { ENV, ROUTES } from "@bizra/contract";
import { REPO_ROOT } from "../../scripts/lib/stack-config";
import { stopChild, track, waitFor } from "./process";

/** RFC 8032 TEST 1 seed: a throwaway key for test nodes. */
export const TEST_NODE_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/** The hex signature of `vote` by the test node's key (`TEST_NODE_SEED`, validator `node0`), with the node's own encoding. */
export function testNodeVoteSignature(vote: { validatorId: string; slot: number; blockHash: string }): string {
  return Buffer.from(signVote(vote, Buffer.from(TEST_NODE_SEED, "hex")).signature).toString("hex");
}

/** Bearer token of the test node's signer listener. */
export const TEST_SIGNER_TOKEN = "e2e-signer-token-".repeat(3);

/**
 * Env of a loopback test node with ephemeral ports, signing with `TEST_NODE_SEED` behind `TEST_SIGNER_TOKEN`; the
 * token and the signer's high-water mark live in a fresh temp dir (under the OS temp folder, removed with it).
 */
export function loopbackNodeEnv(extra: Record<string, string> = {}): Record<string, string> {
  const signerDir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-e2e-signer-"));
  fs.writeFileSync(path.join(signerDir, "token"), TEST_SIGNER_TOKEN);
  return {
    [ENV.apiPort]: "0",
    [ENV.metricsPort]: "0",
    [ENV.signerPort]: "0",
    [ENV.host]: "127.0.0.1",
    [ENV.signingKey]: TEST_NODE_SEED,
    [ENV.signerTokenFile]: path.join(signerDir, "token"),
    [ENV.signerStateFile]: path.join(signerDir, "state.json"),
    [ENV.logLevel]: "info", // the "node started" line carries the ephemeral ports
    ...extra,
  };
}

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly apiPort: number;
  readonly metricsPort: number;
  /** The signer listener (sign route behind the bearer token). */
  readonly signerPort: number;
  log(): string;
}

/** Starts `node-app/src/main.ts` (ts-node) on 127.0.0.1 with ephemeral ports; reads the ports from its start log. */
export async function startNodeProcess(env: Record<string, string>): Promise<NodeProcess> {
  const appDir = path.join(REPO_ROOT, "node-app");
  let out = "";
  const child = track(
    spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "src/main.ts"], {
      cwd: appDir,
      env: { ...process.env, TS_NODE_PROJECT: path.join(appDir, "tsconfig.json"), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  try {
    const started = await waitFor(
      "node-app 'node started'",
      async () => {
        if (child.exitCode !== null) throw new Error(`node-app exited with ${child.exitCode}:\n${out.slice(-2000)}`);
        const line = out.split("\n").find((l) => l.includes('"node started"'));
        return line ? (JSON.parse(line) as { apiPort: number; metricsPort: number; signerPort: number }) : undefined;
      },
      120_000,
      250,
    );
    return { child, apiPort: started.apiPort, metricsPort: started.metricsPort, signerPort: started.signerPort, log: () => out };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}


/** POST JSON; returns status and parsed body. */
/** POST JSON; returns status and parsed body, typed by the caller as the route's answer (`unknown` unless stated). */
export async function postJson<Body = unknown>(port: number, route: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Body }> {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text.length > 0 ? JSON.parse(text) : undefined) as Body };
}

/**
 * Healthy traffic for `ms`: each round signs and verifies `perRound` fresh attestations (one per slot), casts the node's own vote
 * for a new slot's block (fast finality with one validator) and asks that block's finality. Returns the counts
 * by HTTP status.
 */
export async function driveHealthyTraffic(node: Pick<NodeProcess, "apiPort" | "signerPort">, ms: number, perRound = 8): Promise<Record<string, number>> {
  const port = node.apiPort;
  const statuses: Record<string, number> = {};
  const count = (s: number) => (statuses[s] = (statuses[s] ?? 0) + 1);
  const until = Date.now() + ms;
  for (let slot = 1; Date.now() < until; slot++) {
    for (let i = 0; i < perRound; i++) {
      // one attestation per slot: the node refuses a second attestation of one validator for one slot
      const signed = await signAttestation(node, (slot - 1) * perRound + i + 1);
      count(signed.status);
      if (signed.status >= 300) continue;
      count((await postJson(port, ROUTES.attestationsVerify, { encoding: signed.body.encoding, signature: signed.body.signature })).status);
    }
    const blockHash = slot.toString(16).padStart(64, "0");
    const vote = { validatorId: "node0", slot, blockHash };
    count((await postJson(port, ROUTES.votes, { ...vote, signature: testNodeVoteSignature(vote) })).status);
    const fin = await fetch(`http://127.0.0.1:${port}/v1/consensus/finality/${blockHash}`, { signal: AbortSignal.timeout(30_000) });
    await fin.arrayBuffer();
    count(fin.status);
  }
  return statuses;
}

/** The sign route's answer, the fields the tests use. */
export interface SignAnswer {
  readonly encoding: string;
  readonly signature: string;
}

/** The verify route's answer. */
export interface VerifyAnswer {
  readonly valid: boolean;
  readonly reason?: string;
}

/** Signs one attestation for `slot` through the node's signer listener. */
export function signAttestation(node: Pick<NodeProcess, "signerPort">, slot: number): Promise<{ status: number; body: SignAnswer }> {
  return postJson<SignAnswer>(node.signerPort, ROUTES.attestationsSign, { epoch: 1, slot, payload: "c0ffee" }, { authorization: `Bearer ${TEST_SIGNER_TOKEN}` });
}
