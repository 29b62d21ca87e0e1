#!/usr/bin/env bash
# Fetches the CustomResourceDefinitions the schema tests validate against, at pinned versions, from the Go module
# proxy (each controller's Go module carries its CRD files), into .toolchain/crds/ (git-ignored).
#   bash scripts/crds.sh          # idempotent; seconds when the modules are in the Go module cache
# The versions are the single list below; docs and README name them from here.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.toolchain/crds
# module@version  path-in-module  file-name-in-out
CRDS=(
  "github.com/fluxcd/flagger@v1.44.0 artifacts/flagger/crd.yaml flagger.app_crds.yaml"
  "github.com/kyverno/kyverno@v1.19.0 config/crds/kyverno/kyverno.io_clusterpolicies.yaml kyverno.io_clusterpolicies.yaml"
  "github.com/prometheus-operator/prometheus-operator@v0.93.0 example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_servicemonitors.yaml"
  "github.com/prometheus-operator/prometheus-operator@v0.93.0 example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml monitoring.coreos.com_prometheusrules.yaml"
  "github.com/prometheus-operator/prometheus-operator@v0.93.0 example/prometheus-operator-crd/monitoring.coreos.com_alertmanagerconfigs.yaml monitoring.coreos.com_alertmanagerconfigs.yaml"
  "istio.io/api@v1.32.0 kubernetes/customresourcedefinitions.gen.yaml networking.istio.io_virtualservices_destinationrules.yaml"
)
command -v go >/dev/null || { echo "crds.sh: needs the go command (Go 1.22 or newer) to download modules from the Go module proxy" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# `go mod download` outside a module needs no go.mod; -json reports where the module was unpacked.
for entry in "${CRDS[@]}"; do
  read -r mod src name <<<"$entry"
  if [ -s "$out/$name" ] && grep -qxF "$mod" "$out/$name.source" 2>/dev/null; then continue; fi
  dir=$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$mod" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -f "$dir/$src" ] || { echo "crds.sh: $mod has no $src" >&2; exit 1; }
  case "$name" in
    # Istio ships all its CRDs in one file; keep the two documents Flagger's istio provider writes, unchanged.
    networking.istio.io_*)
      awk 'BEGIN { RS = "\n---\n"; ORS = "" }
           /\n  name: (virtualservices|destinationrules)\.networking\.istio\.io\n/ { printf "%s%s\n", (n++ ? "---\n" : ""), $0 }' \
        "$dir/$src" > "$out/$name"
      [ "$(grep -c '^kind: CustomResourceDefinition' "$out/$name")" = 2 ] || { echo "crds.sh: Istio CRDs not found in $src" >&2; exit 1; } ;;
    *) cp "$dir/$src" "$out/$name" ;;
  esac
  chmod 0644 "$out/$name"
  echo "$mod" > "$out/$name.source"
done
echo "CRDs in $out: $(cd "$out" && ls *.yaml | tr '\n' ' ')"
