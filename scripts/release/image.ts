/**
 * The release's node image: the one build of `scripts/images.sh node` (node-app/Dockerfile by buildah on the Node.js
 * base pinned by digest), pushed to the release repository. Build args `BIZRA_USE_RUST` and `GIT_COMMIT`; OCI labels
 * `org.opencontainers.image.{revision,source,created}` with `created` = the commit's committer time, and every
 * timestamp of the image set to that time (docs/release.md says what that gives).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT, run } from "./tools";

export const IMAGES_SCRIPT = path.join(REPO_ROOT, "scripts", "images.sh");

export interface ImageBuildInput {
  /** The commit the image must be built from (HEAD of this checkout; checked against the image's label). */
  readonly commit: string;
  readonly useRust: boolean;
  /** Where to push: `<loopback host:port>/<name>:<tag>` (the registry must answer). */
  readonly destination: string;
}

export interface BuiltImage {
  /** `<repository>@sha256:<digest>` as pushed. */
  readonly reference: string;
  readonly digest: string;
  readonly labels: Record<string, string>;
  readonly buildArgs: { BIZRA_USE_RUST: "true" | "false"; GIT_COMMIT: string };
  /** The base image, `<repo>@sha256:<digest>`. */
  readonly base: string;
  readonly builder: string;
}

/** Runs `scripts/images.sh node --push <destination>` (its log on stderr) and returns what it built. */
export function buildNodeImage(input: ImageBuildInput): BuiltImage {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-image-"));
  try {
    const info = path.join(dir, "image.json");
    run("bash", [IMAGES_SCRIPT, "node", "--push", input.destination, "--use-rust", String(input.useRust), "--info", info], { stdio: ["ignore", "pipe", "inherit"] });
    const built = JSON.parse(fs.readFileSync(info, "utf8")) as BuiltImage;
    const revision = built.labels["org.opencontainers.image.revision"];
    if (revision !== input.commit || built.buildArgs.GIT_COMMIT !== input.commit) {
      throw new Error(`scripts/images.sh built commit ${built.buildArgs.GIT_COMMIT} (label revision ${revision}), the release is for ${input.commit}`);
    }
    return built;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function buildahVersion(): string {
  return /version\s+(\S+)/.exec(run("buildah", ["--version"]).stdout)?.[1] ?? "unknown";
}
