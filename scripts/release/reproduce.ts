/**
 * `npm run release:reproduce [-- <registry host:port>]`: builds the node image of HEAD twice with the release's own
 * build (`scripts/images.sh node`, scripts/release/image.ts), pushes each build to its own repository of the loopback
 * registry (default 127.0.0.1:5000; started if none answers) and prints both pushed digests, and whether they agree.
 * Exit 1 when they differ.
 */
import { buildNodeImage } from "./image";
import { ensureLoopbackRegistry } from "./registry";
import { run } from "./tools";

async function main(): Promise<number> {
  const host = process.argv[2] ?? "127.0.0.1:5000";
  const reg = await ensureLoopbackRegistry(host);
  const commit = run("git", ["rev-parse", "HEAD"]).stdout.trim();
  const digests: string[] = [];
  for (const n of ["a", "b"]) {
    const t0 = Date.now();
    const img = buildNodeImage({ commit, useRust: true, destination: `${host}/bizra/reproduce-${n}:${commit}` });
    console.log(`build ${n}: pushed ${img.reference} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    digests.push(img.digest);
  }
  console.log(`commit ${commit}: ${digests[0] === digests[1] ? "same digest" : "DIFFERENT digests"}${reg.pid ? ` (registry pid ${reg.pid} left running)` : ""}`);
  return digests[0] === digests[1] ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message);
    process.exit(2);
  },
);
