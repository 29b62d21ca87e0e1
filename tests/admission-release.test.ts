/**
 * The parts of `publishRelease` (scripts/lib/admission.ts) that need no cluster: what it refuses before touching a
 * registry, and how it reads the OCI layout `cosign save` writes (a release without its signature or attestation is
 * named as such). The copy itself runs in tests/cluster-admission.test.ts.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cosignTag, publishRelease, savedRelease } from "../scripts/lib/admission";
import type { ClusterEnv } from "../scripts/lib/cluster";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const entry = (d: string, kind: string) => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  size: 500,
  digest: d,
  annotations: { kind: `dev.cosignproject.cosign/${kind}` },
});

describe("publishRelease: inputs and the saved layout", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-saved-release-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const writeIndex = (manifests: unknown[]) =>
    fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests }));

  it("reads the image, signature and attestation digests by cosign's kind annotation", () => {
    writeIndex([entry(digest("a"), "image"), entry(digest("b"), "sigs"), entry(digest("c"), "atts")]);
    assert.deepEqual(savedRelease(dir), { image: digest("a"), signature: digest("b"), attestation: digest("c") });
  });

  it("names what is missing: no signature, no attestation, two images", () => {
    writeIndex([entry(digest("a"), "image"), entry(digest("c"), "atts")]);
    assert.throws(() => savedRelease(dir), /0 signature manifests .* the release's signature is not in its registry/);
    writeIndex([entry(digest("a"), "image"), entry(digest("b"), "sigs")]);
    assert.throws(
      () => savedRelease(dir),
      /0 SBOM attestation manifests .* the release's SBOM attestation is not in its registry/,
    );
    writeIndex([
      entry(digest("a"), "image"),
      entry(digest("d"), "image"),
      entry(digest("b"), "sigs"),
      entry(digest("c"), "atts"),
    ]);
    assert.throws(() => savedRelease(dir), /2 image manifests/);
  });

  it("cosign's tags for a digest's signature and attestation", () => {
    assert.equal(cosignTag(digest("a"), "sig"), `sha256-${"a".repeat(64)}.sig`);
    assert.equal(cosignTag(digest("a"), "att"), `sha256-${"a".repeat(64)}.att`);
  });

  it("refuses a release that is not a loopback digest reference of its repository, before any registry is asked", async () => {
    const cluster = { NETNS: "none", NETNS_FILE: "/nonexistent" } as ClusterEnv;
    const cases: Array<[string, string, string]> = [
      ["ghcr.io/bizra/node0", `ghcr.io/bizra/node0@${digest("a")}`, "not on a loopback registry"],
      ["127.0.0.1:5000/bizra/bizra-apex", "127.0.0.1:5000/bizra/bizra-apex:v1", "a tag, not a digest"],
      ["127.0.0.1:5000/bizra/bizra-apex", `127.0.0.1:5000/bizra/other@${digest("a")}`, "another repository"],
    ];
    for (const [repository, reference, why] of cases) {
      await assert.rejects(
        publishRelease(cluster, "/nonexistent/cosign", { repository, reference, tag: "t" }),
        new RegExp(
          `release ${reference.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: not <loopback host:port>/<name>@sha256:<digest> of repository`,
        ),
        why,
      );
    }
  });
});
