'use strict';
// Loader for the BIZRA native Ed25519 (ZIP-215) verifier.
// loadNative() returns null when the addon is disabled (BIZRA_USE_RUST=false)
// or not built (no bizra_native.node next to this file); callers then use the
// pure TypeScript path. Build with node-app/native/build.sh.

const path = require('node:path');
const fs = require('node:fs');

const ADDON_PATH = path.join(__dirname, 'bizra_native.node');

// Tests that need the addon skip without it, unless this is '1' (set by .ci/run): then its absence is a failure.
const REQUIRE_NATIVE_ENV = 'BIZRA_REQUIRE_NATIVE';
const BUILD_HINT = 'run `bash node-app/native/build.sh` (needs cargo)';

/**
 * Why tests that need the addon cannot run (a sentence), or null when it is loaded. Throws instead when
 * BIZRA_REQUIRE_NATIVE=1, so a CI run without the addon fails rather than skipping them.
 */
function nativeMissingReason() {
  if (loadNative() !== null) return null;
  const why = disabledByEnv()
    ? 'native addon disabled (BIZRA_USE_RUST=false)'
    : `native addon not built (${ADDON_PATH} absent): ${BUILD_HINT}`;
  if (process.env[REQUIRE_NATIVE_ENV] === '1') throw new Error(`${REQUIRE_NATIVE_ENV}=1 but ${why}`);
  return why;
}

let cached; // undefined = not tried; null = unavailable; object = loaded

function disabledByEnv() {
  const v = process.env.BIZRA_USE_RUST;
  return v !== undefined && /^(false|0|no|off)$/i.test(v.trim());
}

function isBytes(x) {
  return x instanceof Uint8Array;
}

function requireBytes(fn, name, x) {
  if (!isBytes(x)) {
    throw new TypeError(`${fn}: ${name} must be a Buffer or Uint8Array, got ${x === null ? 'null' : typeof x}`);
  }
}

function wrap(raw) {
  function checkBatch(fn, pubkeys, msgs, sigs) {
    requireBytes(fn, 'pubkeys', pubkeys);
    requireBytes(fn, 'sigs', sigs);
    if (pubkeys.length % 32 !== 0) {
      throw new TypeError(`${fn}: pubkeys length ${pubkeys.length} is not a multiple of 32`);
    }
    const n = pubkeys.length / 32;
    if (sigs.length !== n * 64) {
      throw new TypeError(`${fn}: sigs length ${sigs.length} does not equal 64 * ${n} (count from pubkeys)`);
    }
    if (Array.isArray(msgs)) {
      if (msgs.length !== n) {
        throw new TypeError(`${fn}: msgs array has ${msgs.length} entries, expected ${n} (count from pubkeys)`);
      }
      for (let i = 0; i < msgs.length; i++) requireBytes(fn, `msgs[${i}]`, msgs[i]);
    } else if (isBytes(msgs)) {
      if (msgs.length !== n * 32) {
        throw new TypeError(
          `${fn}: concatenated msgs length ${msgs.length} does not equal 32 * ${n} (count from pubkeys); ` +
            'pass an array of Buffers for messages that are not 32-byte digests',
        );
      }
    } else {
      throw new TypeError(`${fn}: msgs must be an array of Buffers or one Buffer of n concatenated 32-byte digests`);
    }
  }

  return Object.freeze({
    verifyOne(pubkey, msg, sig) {
      requireBytes('verifyOne', 'pubkey', pubkey);
      requireBytes('verifyOne', 'msg', msg);
      requireBytes('verifyOne', 'sig', sig);
      return raw.verifyOne(pubkey, msg, sig);
    },
    verifyBatch(pubkeys, msgs, sigs) {
      checkBatch('verifyBatch', pubkeys, msgs, sigs);
      return raw.verifyBatch(pubkeys, msgs, sigs);
    },
    verifyBatchAsync(pubkeys, msgs, sigs) {
      try {
        checkBatch('verifyBatchAsync', pubkeys, msgs, sigs);
      } catch (e) {
        return Promise.reject(e);
      }
      return raw.verifyBatchAsync(pubkeys, msgs, sigs);
    },
    blake3Into(data, offsets, out) {
      requireBytes('blake3Into', 'data', data);
      requireBytes('blake3Into', 'out', out);
      if (!(offsets instanceof Uint32Array)) throw new TypeError('blake3Into: offsets must be a Uint32Array');
      return raw.blake3Into(data, offsets, out);
    },
    verifyEncoded(pubkeys, data, offsets, sigs, digests, verdicts, batch) {
      for (const [name, x] of [['pubkeys', pubkeys], ['data', data], ['sigs', sigs], ['digests', digests], ['verdicts', verdicts]]) {
        requireBytes('verifyEncoded', name, x);
      }
      if (!(offsets instanceof Uint32Array)) throw new TypeError('verifyEncoded: offsets must be a Uint32Array');
      return raw.verifyEncoded(pubkeys, data, offsets, sigs, digests, verdicts, batch === true);
    },
    benchCeiling(pubkeys, digests, sigs, threads, chunk, rounds) {
      checkBatch('benchCeiling', pubkeys, digests, sigs);
      for (const [name, x] of [['threads', threads], ['chunk', chunk], ['rounds', rounds]]) {
        if (!Number.isInteger(x) || x < 1 || x > 0xffffffff) throw new TypeError(`benchCeiling: ${name} must be a positive integer, got ${x}`);
      }
      const [items, valid, seconds] = raw.benchCeiling(pubkeys, digests, sigs, threads, chunk, rounds);
      return { items, valid, seconds };
    },
    backendInfo() {
      return JSON.parse(raw.backendInfo());
    },
    addonPath: ADDON_PATH,
  });
}

function loadNative() {
  if (disabledByEnv()) return null;
  if (cached !== undefined) return cached;
  if (!fs.existsSync(ADDON_PATH)) {
    cached = null;
    return cached;
  }
  // A present but unloadable addon (wrong platform, corrupt build) is an error
  // worth seeing, not something to hide behind the fallback.
  cached = wrap(require(ADDON_PATH));
  return cached;
}

module.exports = { loadNative, nativeMissingReason, ADDON_PATH, REQUIRE_NATIVE_ENV };
