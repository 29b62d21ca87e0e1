/**
 * Debian's Chromium, headless, for looking at generated pages in a real browser: a screenshot and the DOM after load.
 * CHROMIUM_BIN overrides the binary; `scripts/setup.sh` installs the package.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "chromium";

/** No network, no background services, no first-run UI: a browser that only renders the given file. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--hide-scrollbars",
];

export function requireChromium(): string {
  const r = spawnSync(CHROMIUM_BIN, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`${CHROMIUM_BIN} is not installed (${r.error?.message ?? r.stderr}); run scripts/setup.sh, or apt-get install chromium`);
  return r.stdout.trim();
}

function runChromium(args: string[]): string {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-chromium-"));
  try {
    const r = spawnSync(CHROMIUM_BIN, [...FLAGS, `--user-data-dir=${profile}`, ...args], { encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`chromium exited with ${r.status}:\n${r.stderr.slice(-2000)}`);
    return r.stdout;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** Screenshots `htmlFile` into `pngFile` at the given size and returns the DOM Chromium built from it. */
export function chromiumScreenshot(htmlFile: string, pngFile: string, size: { width: number; height: number }): string {
  const url = `file://${path.resolve(htmlFile)}`;
  runChromium([`--screenshot=${path.resolve(pngFile)}`, `--window-size=${size.width},${size.height}`, url]);
  if (!fs.existsSync(pngFile)) throw new Error(`chromium wrote no screenshot to ${pngFile}`);
  return runChromium(["--dump-dom", url]);
}

/** Width and height from a PNG's IHDR chunk; throws if `png` is not a PNG. */
export function pngSize(png: Buffer): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (png.length < 24 || !png.subarray(0, 8).equals(signature) || png.subarray(12, 16).toString("latin1") !== "IHDR") throw new Error("not a PNG file");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
