/**
 * The high-water mark in a local file, written like CometBFT's priv_validator_state.json: the new record goes to a
 * temporary file that is fsynced and renamed over the old one, then the directory is fsynced, so after a crash the
 * file holds either the old or the new record, never a torn one. One process owns the file (a single signer with its
 * own volume); several processes sharing one file are not protected here: use the Lease store for that.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { parseRecord, sameRecord, StateConflictError, type SignRecord, type SignerStateStore } from "./high-water-mark";

export class FileStateStore implements SignerStateStore {
  readonly kind = "file";
  private mark: SignRecord | undefined;
  private loaded = false;

  constructor(readonly path: string) {}

  async start(): Promise<void> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`signer state ${this.path}: cannot read (${(err as NodeJS.ErrnoException).code})`);
      this.loaded = true;
      return; // first start: nothing signed yet
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`signer state ${this.path}: not JSON; refusing to sign rather than forget what was signed`);
    }
    this.mark = parseRecord(json, `signer state ${this.path}`);
    this.loaded = true;
  }

  isActive(): boolean {
    return this.loaded;
  }

  activeHolder(): string | undefined {
    return undefined;
  }

  async current(): Promise<SignRecord | undefined> {
    return this.mark;
  }

  async commit(expected: SignRecord | undefined, next: SignRecord): Promise<void> {
    if (!sameRecord(expected, this.mark)) throw new StateConflictError("the high-water mark changed since it was read");
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, `${JSON.stringify(next)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this.mark = next;
  }

  async close(): Promise<void> {
    this.loaded = false;
  }
}
