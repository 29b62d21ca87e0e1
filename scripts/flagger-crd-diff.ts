/**
 * Prints, as Markdown, what the Flagger CRDs of the release the cluster runs (scripts/delivery-toolchain/versions.env,
 * from the Go module proxy) lack or define differently compared with the copy in ../shared/crds.
 * Usage: npx ts-node --transpile-only scripts/flagger-crd-diff.ts
 */
import { diffCrds, flaggerCrdDir, flaggerVersion, loadCrdSchemas } from "../tests/support/crd-diff";
import { SHARED_CRD_DIR } from "../tests/support/crd-schema";

const older = loadCrdSchemas(flaggerCrdDir()).filter((c) => c.group === "flagger.app");
const newer = loadCrdSchemas(SHARED_CRD_DIR).filter((c) => c.group === "flagger.app");
console.log(`| kind | only in ../shared/crds/flagger.app_crds.yaml | changed from v${flaggerVersion()} |`);
console.log("| --- | --- | --- |");
for (const d of diffCrds(older, newer)) {
  const cell = (xs: string[]) => (xs.length === 0 ? "none" : xs.map((x) => `\`${x.replace(/\|/g, "\\|")}\``).join("<br>"));
  console.log(`| ${d.kind} ${d.version} | ${cell(d.added)}${d.removed.length ? `<br>removed: ${cell(d.removed)}` : ""} | ${cell(d.changed)} |`);
}
