'use strict';
// HTTP load generator for `npm run bench`, run as its own process (node bench/perf/http-client.js <job.json>) so the
// client's CPU use is its own and can be reported. It drives one route on loopback with autocannon (closed loop:
// `connections` keep-alive connections, one request in flight each), sending every pre-built body exactly once
// (`amount` = bodies), and prints one JSON line: request counts, the count of `"valid":true` verdicts in the
// responses, latency percentiles in µs (nearest rank over every response's duration as autocannon measures it, in
// fractional ms from write to response; its own histogram truncates to whole ms) and process.cpuUsage().
const fs = require('node:fs');
const autocannon = require('autocannon');

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const { url, connections, bodies, contentType } = job;
const payloads = bodies.map((b) => Buffer.from(b, contentType === 'application/octet-stream' ? 'base64' : 'utf8'));
let next = 0;
let valid = 0;
let non2xx = 0;
const VALID = Buffer.from('"valid":true');
const countValid = (body) => {
  let n = 0;
  for (let at = body.indexOf(VALID); at >= 0; at = body.indexOf(VALID, at + VALID.length)) n++;
  return n;
};

const samples = new Float64Array(payloads.length);
let responses = 0;
const pct = (sorted, p) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] * 1000;

const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const instance = autocannon(
  {
    url,
    connections,
    pipelining: 1,
    amount: payloads.length,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': contentType },
        setupRequest: (req) => ({ ...req, body: payloads[next++ % payloads.length] }),
        onResponse: (status, body) => {
          if (status < 200 || status > 299) non2xx++;
          else valid += countValid(Buffer.isBuffer(body) ? body : Buffer.from(String(body)));
        },
      },
    ],
  },
  (err, result) => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    if (err) {
      process.stdout.write(`${JSON.stringify({ error: String(err) })}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(
      `${JSON.stringify({
        requests: result.requests.total,
        sent: next,
        non2xx: non2xx + result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        valid,
        seconds,
        latencyMicros: (() => {
          const xs = samples.slice(0, responses).sort();
          return { p50: pct(xs, 50), p90: pct(xs, 90), p99: pct(xs, 99), max: pct(xs, 100), samples: responses };
        })(),
        clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
      })}\n`,
    );
  },
);
instance.on('response', (_client, _status, _bytes, ms) => {
  if (responses < samples.length) samples[responses++] = ms;
});
instance.on('error', (e) => process.stderr.write(`${String(e)}\n`));
