/** Mutating one field of a valid fixture, for the tests that expect exactly that field to be refused. */

type Step = string | number;

/**
 * Sets `obj` at `path` (object keys and array indexes) to `value`; every step but the last must exist and be an
 * object or array, else fails naming the path walked so far. Returns `obj`.
 */
export function setPath<T>(obj: T, path: readonly [Step, ...Step[]], value: unknown): T {
  const last = path[path.length - 1]!; // a non-empty tuple has a last element
  let node: unknown = obj;
  path.slice(0, -1).forEach((step, i) => {
    node = (node as Record<Step, unknown> | null)?.[step];
    if (node === null || typeof node !== "object") throw new Error(`no object at ${path.slice(0, i + 1).join(".")}`);
  });
  (node as Record<Step, unknown>)[last] = value;
  return obj;
}

/** Deletes the field at `path` of `obj`; every step but the last must exist (see setPath). Returns `obj`. */
export function deletePath<T>(obj: T, path: readonly [Step, ...Step[]]): T {
  const last = path[path.length - 1]!; // a non-empty tuple has a last element
  let node: unknown = obj;
  path.slice(0, -1).forEach((step, i) => {
    node = (node as Record<Step, unknown> | null)?.[step];
    if (node === null || typeof node !== "object") throw new Error(`no object at ${path.slice(0, i + 1).join(".")}`);
  });
  delete (node as Record<Step, unknown>)[last];
  return obj;
}
