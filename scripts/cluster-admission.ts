/**
 * Admission on the local cluster (docs/cluster.md, "Admission: Kyverno"):
 *
 *   npm run admission:up [-- <stack>]     registry inside the cluster's namespace (the stack's releaseRepository host),
 *                                         the node image pushed there and signed with the stack's key, and Kyverno's
 *                                         admission controller registered as the API server's webhooks
 *   npm run admission:down                stop Kyverno (its webhook configurations removed) and the registry
 *   npm run admission:status              what runs
 *
 * While the registry runs, `npm run up:cluster -- <stack>` deploys the signed digest from it (scripts/engine-cluster.ts);
 * when the stack names a release (`npm run release`, `npm run release:use`), `up:cluster` copies that release there
 * first (image, signature and SBOM attestation, digests kept), so Kyverno verifies exactly the released digest.
 */
import * as path from "node:path";
import {
  admissionDir,
  cosignBinary,
  kyvernoBinaries,
  kyvernoWebhooks,
  publishSignedNodeImage,
  publishedNodeImage,
  publishedRelease,
  runningPid,
  stackRegistry,
  startKyverno,
  startRegistry,
  stopKyverno,
  stopRegistry,
} from "./lib/admission";
import { clusterEnv, clusterRunning } from "./lib/cluster";
import { ensureNodeImage } from "./engine-cluster";
import { STACKS } from "./lib/stack-config";

const say = (s: string): void => console.error(`[cluster-admission] ${s}`);

function fail(msg: string, code = 1): never {
  say(`ERROR: ${msg}`);
  process.exit(code);
}

async function up(stack: string): Promise<void> {
  if (!clusterRunning()) fail("no local cluster runs: start it with `npm run cluster:up`");
  const kyverno = kyvernoBinaries();
  if ("missing" in kyverno) fail(kyverno.missing);
  const cosign = cosignBinary();
  if ("missing" in cosign) fail(cosign.missing);
  const cluster = clusterEnv();
  const t0 = Date.now();
  ensureNodeImage(cluster, say);
  const { host } = stackRegistry(stack);
  await startRegistry(cluster, host);
  say(`registry: http://${host} inside ${cluster.NETNS} (storage ${path.join(admissionDir(cluster), "registry")})`);
  const image = publishSignedNodeImage(cluster, stack, cosign.cosign);
  say(`node image ${image.reference} (tag ${image.tagged}) signed with the stack key (.cosign-key/)`);
  if (runningPid(cluster, "kyverno") === undefined) {
    const k = await startKyverno(cluster, kyverno.admissionController);
    say(`Kyverno admission controller: pid ${k.pid}, ready in ${k.readySeconds.toFixed(1)} s, log ${k.log}`);
  } else {
    say(`Kyverno admission controller already runs (pid ${runningPid(cluster, "kyverno")})`);
  }
  for (const h of kyvernoWebhooks(cluster))
    say(`  ${h.kind.replace("webhookconfigurations", "")} ${h.name}: ${h.url} (${h.failurePolicy})`);
  say(
    `done in ${((Date.now() - t0) / 1000).toFixed(0)} s; \`npm run up:cluster -- ${stack}\` now deploys ${image.reference}`,
  );
}

async function down(): Promise<void> {
  const cluster = clusterEnv();
  const k = await stopKyverno(cluster).catch(
    (err: Error) => (say(`webhook configurations not removed: ${err.message}`), false),
  );
  const r = await stopRegistry(cluster);
  say(`Kyverno ${k ? "stopped" : "was not running"}; registry ${r ? "stopped" : "was not running"}`);
}

function status(): number {
  const cluster = clusterEnv();
  const k = runningPid(cluster, "kyverno");
  const r = runningPid(cluster, "registry");
  console.log(`kyverno: ${k ? `running (pid ${k})` : "not running"}`);
  console.log(`registry: ${r ? `running (pid ${r})` : "not running"}`);
  const published = publishedNodeImage(cluster);
  if (published) console.log(`signed node image: ${published.reference} (from ${published.source})`);
  const release = r ? publishedRelease(cluster) : undefined;
  if (release)
    console.log(`release: ${release.reference} (signature ${release.signature}, attestation ${release.attestation})`);
  return k && r ? 0 : 3;
}

if (require.main === module) {
  const [cmd, stack = "testnet"] = process.argv.slice(2);
  if (!cmd || !["up", "down", "status"].includes(cmd) || !(STACKS as readonly string[]).includes(stack)) {
    fail(
      `usage: npm run admission:up|admission:down|admission:status [-- <stack>]   (stack: ${STACKS.join(" | ")})`,
      2,
    );
  }
  const run = cmd === "up" ? up(stack) : cmd === "down" ? down() : Promise.resolve(process.exit(status()));
  run.catch((err: Error) => fail(err.message));
}
