/**
 * Canary traffic from the command line (canary/traffic.ts), for the Flagger load tester's `cmd` webhooks and for
 * operators: `node dist/cli/traffic.js --target http://node0-canary.bizra-node0:8080 --rate 20 --duration 60s`.
 * Flags: --target URL (repeatable), --rate rounds/s (default 10), --duration Ns|Nm (default 60s),
 * --invalid-every N (default 200), --request-timeout Ns (default 5s). Prints the stats as one JSON line; exits 1 on a wrong verdict, a 5xx answer or a
 * transport error, 2 on a bad flag.
 */
import { DEFAULT_INVALID_EVERY, runTraffic, trafficProblem } from "../canary/traffic";

const seconds = (flag: string, value: string): number => {
  const m = /^(\d+)(s|m)$/.exec(value);
  if (!m) throw new RangeError(`${flag}: got ${JSON.stringify(value)}, allowed: <integer>s or <integer>m`);
  return Number(m[1]) * (m[2] === "m" ? 60_000 : 1000);
};

export function parseTrafficArgs(argv: readonly string[]): { targets: string[]; ratePerSecond: number; durationMs: number; invalidEvery: number; requestTimeoutMs: number } {
  const out = { targets: [] as string[], ratePerSecond: 10, durationMs: 60_000, invalidEvery: DEFAULT_INVALID_EVERY, requestTimeoutMs: 5_000 };
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
      default:
        throw new RangeError(`${flag}: unknown flag (allowed: --target, --rate, --duration, --invalid-every, --request-timeout)`);
    }
  }
  const problem = trafficProblem(out);
  if (problem) throw new RangeError(problem);
  return out;
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
