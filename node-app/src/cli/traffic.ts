/**
 * Canary traffic from the command line (canary/traffic.ts), for the Flagger load tester's `cmd` webhooks and for
 * operators: `node dist/cli/traffic.js --target http://node0-canary.bizra-node0:8080 --validator-id loadtest
 * --key-file /keys/loadtest.seed --rate 20 --duration 60s`.
 * Flags: --target URL (repeatable), --validator-id ID and --key-file PATH (required: the test validator the
 * attestations are signed as, and a file holding its Ed25519 seed as 64 hex digits), --rate rounds/s (default 10),
 * --duration Ns|Nm (default 60s), --invalid-every N (default 200), --request-timeout Ns (default 5s). Prints the stats as one JSON line; exits 1 on a wrong verdict, a 5xx answer or a
 * transport error, 2 on a bad flag.
 */
import * as fs from "node:fs";
import { DEFAULT_INVALID_EVERY, runTraffic, trafficProblem, type TrafficOptions } from "../canary/traffic";

const seconds = (flag: string, value: string): number => {
  const m = /^(\d+)(s|m)$/.exec(value);
  if (!m) throw new RangeError(`${flag}: got ${JSON.stringify(value)}, allowed: <integer>s or <integer>m`);
  return Number(m[1]) * (m[2] === "m" ? 60_000 : 1000);
};

/** The seed in `file` (64 hex digits, surrounding whitespace ignored); throws naming the flag and what is allowed. */
function readSeed(file: string): Uint8Array {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new RangeError(`--key-file: cannot read ${file} (${(err as Error).message})`);
  }
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new RangeError(`--key-file: ${file} does not hold a key, allowed: an Ed25519 seed as 64 hex digits`);
  return Buffer.from(text, "hex");
}

export function parseTrafficArgs(argv: readonly string[]): Required<Omit<TrafficOptions, "signal">> {
  const out = { targets: [] as string[], ratePerSecond: 10, durationMs: 60_000, invalidEvery: DEFAULT_INVALID_EVERY, requestTimeoutMs: 5_000 };
  let validatorId: string | undefined;
  let keyFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = argv[i + 1];
    if (value === undefined) throw new RangeError(`${flag}: a value is required`);
    i++;
    switch (flag) {
      case "--target":
        out.targets.push(value);
        break;
      case "--rate":
        out.ratePerSecond = Number(value);
        break;
      case "--duration":
        out.durationMs = seconds(flag, value);
        break;
      case "--request-timeout":
        out.requestTimeoutMs = seconds(flag, value);
        break;
      case "--invalid-every":
        out.invalidEvery = Number(value);
        break;
      case "--validator-id":
        validatorId = value;
        break;
      case "--key-file":
        keyFile = value;
        break;
      default:
        throw new RangeError(`${flag}: unknown flag (allowed: --target, --validator-id, --key-file, --rate, --duration, --invalid-every, --request-timeout)`);
    }
  }
  if (validatorId === undefined) throw new RangeError("--validator-id: required (the test validator's id in the validator set)");
  if (keyFile === undefined) throw new RangeError("--key-file: required (a file holding the test validator's Ed25519 seed)");
  const opts = { ...out, validator: { id: validatorId, secretKey: readSeed(keyFile) } };
  const problem = trafficProblem(opts);
  if (problem) throw new RangeError(problem);
  return opts;
}

if (require.main === module) {
  let opts: ReturnType<typeof parseTrafficArgs>;
  try {
    opts = parseTrafficArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  runTraffic(opts).then((s) => {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    const serverErrors = Object.entries(s.status).filter(([code]) => Number(code) >= 500).reduce((n, [, c]) => n + c, 0);
    process.exit(s.wrongVerdicts > 0 || serverErrors > 0 || s.transportErrors > 0 ? 1 : 0);
  });
}
