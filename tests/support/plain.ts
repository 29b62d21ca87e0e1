/** Reading what a pure builder returns as Pulumi input types, when every input in it is a plain value. */
import * as pulumi from "@pulumi/pulumi";

/**
 * `value` typed as its resolved shape (`pulumi.Unwrap`), after checking that it holds no Output and no promise
 * anywhere (a builder given plain refs returns plain values); fails naming the path of the first one found.
 */
export function plain<T>(value: T, path = "value"): pulumi.Unwrap<T> {
  assertPlain(value, path);
  return value as pulumi.Unwrap<T>;
}

function assertPlain(value: unknown, path: string): void {
  if (pulumi.Output.isInstance(value)) throw new Error(`${path} is an Output, not a plain value`);
  if (value instanceof Promise) throw new Error(`${path} is a Promise, not a plain value`);
  if (Array.isArray(value)) value.forEach((v, i) => assertPlain(v, `${path}[${i}]`));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) assertPlain(v, `${path}.${k}`);
}
