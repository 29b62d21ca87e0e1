/**
 * The one scheme of component type tokens: `bizra:<module>:<Type>`, where `<module>` is the component's file under
 * components/ in camelCase and `<Type>` its class name. A token that changes keeps the old one as an alias, so a
 * stack created before the change adopts its resources (and their children) instead of replacing them.
 */
import * as pulumi from "@pulumi/pulumi";

/** `bizra:<module>:<Type>`; `module` in camelCase (`holdGate` for hold-gate.ts). */
export function componentType(module: string, type: string): string {
  if (!/^[a-z][A-Za-z0-9]*$/.test(module)) throw new Error(`component module ${JSON.stringify(module)}: camelCase file name expected`);
  if (!/^[A-Z][A-Za-z0-9]*$/.test(type)) throw new Error(`component type ${JSON.stringify(type)}: a class name expected`);
  return `bizra:${module}:${type}`;
}

/** `opts` plus an alias for each earlier type token of the component. */
export function withFormerTypes(opts: pulumi.ComponentResourceOptions | undefined, ...formerTypes: string[]): pulumi.ComponentResourceOptions {
  return { ...opts, aliases: [...(opts?.aliases ?? []), ...formerTypes.map((type) => ({ type }))] };
}
