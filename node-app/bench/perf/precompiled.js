'use strict';
// Runs node-app's TypeScript from JavaScript that `tsc -p bench/perf/tsconfig.json` compiled beforehand into
// node_modules/.cache/bizra-bench (a full, non-incremental compile, so every output is newer than its source), without loading the TypeScript compiler into the process (ts-node costs about
// 90 MiB of RSS). Each .ts module is compiled in place of its own file name, so __dirname and relative paths stay
// those of the source tree. A missing or stale compiled file is an error: run the tsc step again.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'node_modules', '.cache', 'bizra-bench');

Module._extensions['.ts'] = function loadPrecompiled(module, filename) {
  const rel = path.relative(ROOT, filename);
  const js = path.join(OUT, rel.replace(/\.ts$/, '.js'));
  if (rel.startsWith('..') || !fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(filename).mtimeMs) {
    throw new Error(`precompiled.js: ${js} is missing or older than ${rel}; run: npx tsc -p bench/perf/tsconfig.json`);
  }
  module._compile(fs.readFileSync(js, 'utf8'), filename);
};
