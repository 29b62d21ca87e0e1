/**
 * Kubernetes resource quantities (`500m`, `2`, `512Mi`, `1e3`), parsed in ONE place: config validation accepts
 * exactly what the alert thresholds and dashboards can convert, and both read the same number.
 *
 * Grammar (k8s.io/apimachinery/pkg/api/resource): `<signed number><suffix>`, suffix one of the binary SI
 * (`Ki Mi Gi Ti Pi Ei`), the decimal SI (`n u m "" k M G T P E`) or a decimal exponent (`e3`, `E-2`).
 */

const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Readonly<Record<string, number>> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE])?$/;

/** The value of a quantity in base units (cores, bytes), or undefined when `text` is not a quantity. */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const number = Number(m[1]);
  const suffix = m[2] ?? "";
  const factor = BINARY[suffix] ?? DECIMAL[suffix] ?? (/^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : undefined);
  return factor === undefined ? undefined : number * factor;
}

/** What config errors say a CPU / memory quantity may be. */
export const CPU_QUANTITY_ALLOWED = "a positive CPU quantity such as 500m or 2";
export const MEMORY_QUANTITY_ALLOWED = "a positive memory quantity such as 256Mi or 1Gi";

/** `500m` -> 0.5 cores, `2` -> 2 cores; undefined for anything else (not a quantity, zero or negative). */
export function parseCpuCores(text: string): number | undefined {
  const v = parseQuantity(text);
  return v !== undefined && v > 0 ? v : undefined;
}

/** `512Mi` -> 536870912 bytes; undefined unless a positive whole number of bytes. */
export function parseMemoryBytes(text: string): number | undefined {
  const v = parseQuantity(text);
  return v !== undefined && v >= 1 && Number.isInteger(v) ? v : undefined;
}

/** As `parseCpuCores`, throwing on a value config validation would have refused. */
export function cpuCores(text: string): number {
  const v = parseCpuCores(text);
  if (v === undefined) throw new Error(`not a CPU quantity: ${JSON.stringify(text)}; allowed: ${CPU_QUANTITY_ALLOWED}`);
  return v;
}

/** As `parseMemoryBytes`, throwing on a value config validation would have refused. */
export function memoryBytes(text: string): number {
  const v = parseMemoryBytes(text);
  if (v === undefined) throw new Error(`not a memory quantity: ${JSON.stringify(text)}; allowed: ${MEMORY_QUANTITY_ALLOWED}`);
  return v;
}
