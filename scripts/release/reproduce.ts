/**
 * `npm run release:reproduce [-- <registry host:port>]`: builds the node image of HEAD twice, exactly as the release
 * does (scripts/release/image.ts), pushes each build to its own repository of the loopback registry (default
 * 127.0.0.1:5000; started if none answers) and prints both image ids and pushed digests, and whether they agree.
 * Exit 1 when they differ.
 */
import { buildNodeImage, pushImage } from "./image";
import { ensureLoopbackRegistry } from "./registry";
import { REPO_ROOT, run } from "./tools";
import * as fs from "node:fs";
import * as path from "node:path";

async function main(): Promise<number> {
  const host = process.argv[2] ?? "127.0.0.1:5000";
  const reg = await ensureLoopbackRegistry(host);
  const commit = run("git", ["rev-parse", "HEAD"]).stdout.trim();
  const commitTime = run("git", ["show", "-s", "--format=%cI", "HEAD"]).stdout.trim();
  const source = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { repository: { url: string } }).repository.url;
  const digests: string[] = [];
  for (const n of ["a", "b"]) {
    const t0 = Date.now();
    const img = buildNodeImage({ commit, commitTime, source, useRust: true, name: `${host}/bizra/reproduce-${n}:${commit}` });
    const digest = pushImage(img.name, img.name, { insecure: true });
    console.log(`build ${n}: image id ${img.id}, pushed ${digest} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    digests.push(digest);
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
