/**
 * The node under HTTP load, in its own process (forked by http.ts): `startNode` with the configuration read from the
 * environment exactly as `node dist/main.js` reads it, logging off. Talks to the bench over the IPC channel:
 * sends `{ port }` once listening; answers `{ op: "usage" }` with its CPU time and peak RSS; `{ op: "close" }` drains
 * and closes the node, then exits.
 */
import { loadConfig } from "../../src/config";
import { startNode } from "../../src/main";

async function main(): Promise<void> {
  const send = (m: unknown): void => void process.send?.(m);
  const node = await startNode({ config: loadConfig(process.env), logger: false });
  process.on("message", (m: { op?: string }) => {
    if (m.op === "usage") send({ cpu: process.cpuUsage(), maxRssBytes: process.resourceUsage().maxRSS * 1024 });
    if (m.op === "close") {
      void node.close().then(() => {
        send({ closed: true });
        process.disconnect();
      });
    }
  });
  send({ port: node.apiPort });
}

main().catch((err: unknown) => {
  process.stderr.write(`http-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
