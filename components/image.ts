import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DIGEST_REFERENCE } from "./config";
import { componentType, withFormerTypes } from "./component";

export interface NodeImageArgs {
  /** A digest-pinned reference to run as is (`repo@sha256:<digest>`). */
  readonly reference?: string;
  /** Build `node-app/` with Docker and push to this repository; the pushed digest is what runs. */
  readonly build?: {
    /** Registry repository the built image is pushed to. */
    readonly repository: string;
    /** Docker build context (a folder). */
    readonly context: string;
    /** Path of the Dockerfile. */
    readonly dockerfile: string;
    /** Target platform, e.g. linux/amd64. */
    readonly platform: string;
  };
}

/** Throws unless `ref` is pinned by digest; a tag can move under a running Deployment. */
export function requireDigestPinned(ref: string): string {
  if (!DIGEST_REFERENCE.test(ref)) {
    throw new Error(`image reference ${JSON.stringify(ref)} is not pinned by digest (expected repository@sha256:<64 hex>)`);
  }
  return ref;
}

/**
 * The node image. Either way the Deployment runs `repo@sha256:<digest>`: a configured reference is checked, and a
 * build yields the digest the registry returned for the push (`repoDigest`).
 */
export class NodeImage extends pulumi.ComponentResource {
  /** The digest-pinned reference the Deployment runs. */
  public readonly reference: pulumi.Output<string>;

  constructor(name: string, args: NodeImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("image", "NodeImage"), name, {}, withFormerTypes(opts, "bizra:node:Image"));
    if (args.build) {
      const image = new docker.Image(
        name,
        {
          imageName: pulumi.interpolate`${args.build.repository}:${pulumi.getStack()}`,
          build: { context: args.build.context, dockerfile: args.build.dockerfile, platform: args.build.platform },
        },
        { parent: this },
      );
      this.reference = image.repoDigest.apply(requireDigestPinned);
    } else if (args.reference) {
      this.reference = pulumi.output(requireDigestPinned(args.reference));
    } else {
      throw new Error("NodeImage needs either `reference` or `build`");
    }
    this.registerOutputs({ reference: this.reference });
  }
}
