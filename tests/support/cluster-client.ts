/**
 * A client of a node deployment, run inside the cluster's network namespace (Service addresses exist only there):
 * each round asks the signer Service to sign a fresh attestation (next slot, bearer token), has the node Service verify
 * it once, and asks the finality of a block, as a client polls it. Stops when <stop-file> exists or <max-seconds>
 * have passed, then writes a JSON summary to <out-file>:
 *   { rounds, seconds, status: { "<route> <status or transport error> [<error code>]": n }, signed, verifiedValid, wrongVerdicts }
 * Every request opens a connection of its own, so the Services spread them over their pods. The signer Service selects
 * the active signer only (the pod the Lease holder labels); while the Lease changes hands a request may still get 503
 * not_signer (the old holder, or none elected) or no connection: that round retries the sign, on a new connection,
 * for up to 10 s.
 *
 *   ts-node --transpile-only tests/support/cluster-client.ts <node-url> <signer-url> <token-file> <stop-file> <max-seconds> <out-file>
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { ROUTES } from "@bizra/contract";

const REQUEST_TIMEOUT_MS = 5000;
/**
 * A 503 from the signer Service (a handover: the old holder, or no signer elected for a moment): retry this long, at
 * once at first (a new connection may reach the new holder), then waiting longer each time, up to the last step.
 */
const SIGN_RETRY_MS = 10_000;
const SIGN_RETRY_STEPS_MS = [0, 0, 20, 50, 100, 200];
const PAUSE_MS = 10;

/** The fields of the node's and the signer's JSON answers read here (sign: encoding, signature; verify: valid; errors: error). */
interface AnswerBody {
  readonly error?: unknown;
  readonly encoding?: string;
  readonly signature?: string;
  readonly valid?: boolean;
}

interface Answer {
  readonly status: number | string;
  readonly body?: AnswerBody;
}

/**
 * One request on a connection of its own (no keep-alive): the Service picks an endpoint per connection, so requests
 * spread over the replicas, and a retry after a signer's 503 is routed afresh. (The signer closes the connection
 * with its 503 not_signer, so a kept-alive client would reconnect too.)
 */
function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: init.method ?? "GET", headers: init.headers ?? {}, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        let body: AnswerBody | undefined;
        try {
          body = text ? (JSON.parse(text) as AnswerBody) : undefined;
        } catch {
          body = { error: text };
        }
        resolve({ status: res.statusCode ?? "no-status", body });
      });
      res.on("error", (e: NodeJS.ErrnoException) => resolve({ status: e.code ?? e.message }));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (e: NodeJS.ErrnoException) => resolve({ status: e.code ?? e.message }));
    req.end(init.body);
  });
}

async function main(): Promise<void> {
  const [nodeUrl, signerUrl, tokenFile, stopFile, maxSecondsText, outFile] = process.argv.slice(2);
  const maxSeconds = Number(maxSecondsText);
  if (!nodeUrl || !signerUrl || !tokenFile || !stopFile || !outFile || !Number.isFinite(maxSeconds) || maxSeconds <= 0) {
    console.error("usage: cluster-client.ts <node-url> <signer-url> <token-file> <stop-file> <max-seconds> <out-file>");
    process.exit(2);
  }
  const token = fs.readFileSync(tokenFile, "utf8").trim();
  const t0 = Date.now();
  const status: Record<string, number> = {};
  // an error answer is counted with its error code (`sign 503 not_signer`, `verify 500 fault_injected`)
  const count = (route: string, a: Answer) => {
    const key = `${route} ${a.status}${typeof a.status === "number" && a.status >= 400 && typeof a.body?.error === "string" ? ` ${a.body.error}` : ""}`;
    status[key] = (status[key] ?? 0) + 1;
  };
  let rounds = 0;
  let signed = 0;
  let verifiedValid = 0;
  let wrongVerdicts = 0;
  // slots only grow: the signer's high-water mark survives this client (it lives in the Lease)
  let slot = Date.now();
  const json = { "content-type": "application/json" };
  while (!fs.existsSync(stopFile) && Date.now() - t0 < maxSeconds * 1000) {
    rounds++;
    let sig: Answer | undefined;
    const signUntil = Date.now() + SIGN_RETRY_MS;
    for (let attempt = 0; attempt === 0 || (sig?.status === 503 && Date.now() < signUntil); attempt++) {
      const wait = attempt === 0 ? 0 : (SIGN_RETRY_STEPS_MS[Math.min(attempt - 1, SIGN_RETRY_STEPS_MS.length - 1)] ?? 0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sig = await call(`${signerUrl}${ROUTES.attestationsSign}`, {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${token}` },
        body: JSON.stringify({ epoch: 1, slot: slot++, payload: randomBytes(16).toString("hex") }),
      });
      count("sign", sig);
    }
    if (sig?.status === 201) {
      signed++;
      const v = await call(`${nodeUrl}${ROUTES.attestationsVerify}`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ encoding: sig.body?.encoding, signature: sig.body?.signature }),
      });
      count("verify", v);
      if (v.status === 200 && v.body?.valid === true) verifiedValid++;
      else if (v.status === 200) wrongVerdicts++;
    }
    const f = await call(`${nodeUrl}${ROUTES.finality.replace(":blockHash", randomBytes(32).toString("hex"))}`);
    count("finality", f);
    await new Promise((r) => setTimeout(r, PAUSE_MS));
  }
  fs.writeFileSync(outFile, JSON.stringify({ rounds, seconds: (Date.now() - t0) / 1000, status, signed, verifiedValid, wrongVerdicts }));
}

void main();
