#!/usr/bin/env bash
# Smoke test of the engine pieces built by toolchain/pulumi.sh, in a temp dir outside the project:
# a tiny Node.js program with @pulumi/kubernetes and a Provider(renderYamlToDirectory), a file:// backend,
# `pulumi preview` and `pulumi up --yes`, then a TypeScript policy pack that passes, and one run where the pack
# must fail the preview (mandatory violation => non-zero exit).
# Usage: toolchain/pulumi-smoke.sh [--keep]     (needs the npm registry; ~1 min when the toolchain is built)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PULUMI_NPM="${PULUMI_NPM_VERSION:-3.248.0}"   # last @pulumi/pulumi that supports Node 20
K8S_NPM="${K8S_PROVIDER_VERSION:-4.25.0}"
POLICY_NPM="${POLICY_NPM_VERSION:-1.21.0}"

T="$(mktemp -d /tmp/pulumi-smoke.XXXXXX)"
[[ "${1:-}" == --keep ]] || trap 'rm -rf "$T"' EXIT
say() { printf '[smoke] %s\n' "$*" >&2; }

export PULUMI_HOME="$T/home"
eval "$("$ROOT/toolchain/pulumi.sh" --env)"
export PULUMI_CONFIG_PASSPHRASE=smoke PULUMI_BACKEND_URL="file://$T/state"
mkdir -p "$T/state" "$T/prog" "$T/pack"

say "npm install in $T (@pulumi/pulumi@$PULUMI_NPM @pulumi/kubernetes@$K8S_NPM @pulumi/policy@$POLICY_NPM)"
cat >"$T/prog/package.json" <<'EOF'
{ "name": "smoke", "version": "0.0.0", "private": true, "main": "index.js" }
EOF
cat >"$T/prog/Pulumi.yaml" <<'EOF'
name: smoke
runtime:
  name: nodejs
  options:
    typescript: false
main: index.js
EOF
cat >"$T/prog/index.js" <<'EOF'
"use strict";
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const cfg = new pulumi.Config();
const provider = new k8s.Provider("render", { renderYamlToDirectory: `rendered/${pulumi.getStack()}` });
const ns = new k8s.core.v1.Namespace("smoke", { metadata: { name: "smoke" } }, { provider });
const cm = new k8s.core.v1.ConfigMap("flags", {
  metadata: { namespace: ns.metadata.name },
  data: { POI_BATCH_VERIFY: cfg.get("batchVerify") || "true" },
}, { provider });
exports.configMap = cm.metadata.name;
EOF
cat >"$T/pack/package.json" <<'EOF'
{ "name": "smoke-pack", "version": "0.0.0", "private": true }
EOF
cat >"$T/pack/PulumiPolicy.yaml" <<'EOF'
runtime: nodejs
description: smoke policy pack
EOF
cat >"$T/pack/tsconfig.json" <<'EOF'
{ "compilerOptions": { "strict": true, "target": "es2020", "module": "commonjs", "moduleResolution": "node",
  "esModuleInterop": true, "skipLibCheck": true }, "files": ["index.ts"] }
EOF
cat >"$T/pack/index.ts" <<'EOF'
import { PolicyPack, validateResourceOfType } from "@pulumi/policy";
import * as k8s from "@pulumi/kubernetes";
new PolicyPack("smoke-pack", {
  policies: [{
    name: "batch-verify-on",
    description: "POI_BATCH_VERIFY must not be 'false'",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(k8s.core.v1.ConfigMap, (cm, _args, reportViolation) => {
      const data: Record<string, string> | undefined = cm.data;
      if (data?.POI_BATCH_VERIFY === "false") reportViolation("POI_BATCH_VERIFY is false");
    }),
  }],
});
EOF
(cd "$T/prog" && npm install --silent --no-audit --no-fund "@pulumi/pulumi@$PULUMI_NPM" "@pulumi/kubernetes@$K8S_NPM")
(cd "$T/pack" && npm install --silent --no-audit --no-fund "@pulumi/pulumi@$PULUMI_NPM" "@pulumi/kubernetes@$K8S_NPM" \
  "@pulumi/policy@$POLICY_NPM" typescript@5 ts-node@10 @types/node@20)

cd "$T/prog"
say "pulumi version: $(pulumi version)"
pulumi login >/dev/null
pulumi stack init smoke --non-interactive
say "pulumi preview --policy-pack (passes)"
pulumi preview --non-interactive --policy-pack "$T/pack"
say "pulumi up --yes --policy-pack"
pulumi up --yes --non-interactive --policy-pack "$T/pack"
n="$(find rendered/smoke -name '*.yaml' | wc -l)"
[[ "$n" -eq 2 ]] || { say "FAIL: expected 2 rendered manifests, found $n"; exit 1; }
say "rendered: $(cd rendered/smoke && find . -name '*.yaml' | sort | tr '\n' ' ')"
pulumi config set batchVerify false
say "pulumi preview --policy-pack with a violation (must fail)"
if pulumi preview --non-interactive --policy-pack "$T/pack" >"$T/neg.log" 2>&1; then
  cat "$T/neg.log"; say "FAIL: preview passed despite a mandatory violation"; exit 1
fi
grep -q 'batch-verify-on' "$T/neg.log" || { cat "$T/neg.log"; say "FAIL: violation not named"; exit 1; }
say "negative preview failed as expected, naming batch-verify-on"
pulumi destroy --yes --non-interactive >/dev/null
say "OK"
