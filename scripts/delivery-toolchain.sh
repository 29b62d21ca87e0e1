#!/usr/bin/env bash
# Cached, idempotent builds of the progressive-delivery controllers from the Go module proxy:
# Flagger (controller + load tester), the Kyverno CLI, the Prometheus Operator (operator + config
# reloader), Prometheus itself (the server the operator runs in the cluster: Debian's package is built without
# Kubernetes service discovery) and KEDA (operator + metrics adapter). cosign comes from toolchain/supply-chain.sh
# (one version); the tests' loopback registry is Debian's docker-registry with buildah pushes. Each tool is built from
# its own published module (its own go.mod and go.sum), so the versions are exactly the upstream release's; Prometheus
# with its service-discovery plugin list cut to Kubernetes (see prepare_prometheus).
#
# Usage: scripts/delivery-toolchain.sh [build|paths|clean] [TOOL...] [--force]
#   build (default)  build the named tools (default: all), then print KEY=path lines
#   paths            print KEY=path lines; exit 3 if any named tool is not built yet
#   clean            remove the named tools' .toolchain/<tool>-v<version> folders
#   TOOL             flagger | kyverno | prometheus-operator | prometheus | keda
#
# Outputs: .toolchain/<tool>-v<version>/bin/<binary> (git-ignored), each with a .stamp; a machine-wide
# copy in DELIVERY_TOOLCHAIN_CACHE (default ~/.cache/bizra-delivery-toolchain; "off" disables) lets a
# fresh clone on the same machine skip the compile. Every build appends one line with its wall time to
# .toolchain/delivery-build-times.log (tool, version, wall seconds for module download and compile, and the
# compile's CPU seconds, user + system, which a busy machine does not inflate the way it inflates wall time).
# Tools build one at a time per tool (a lock each), so different tools may build in parallel.
# Versions: scripts/delivery-toolchain/versions.env. Knobs: DELIVERY_TOOLCHAIN_DIR, DELIVERY_TOOLCHAIN_NICE.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SUPPORT="$HERE/delivery-toolchain"
RECIPE=1

versions_value() { sed -n "s/^$1=\\([^[:space:]#]*\\).*/\\1/p" "$SUPPORT/versions.env" | tail -n1; }
# Prometheus publishes release X.Y.Z as Go module version 0.(X*100+Y).Z from 3.0 on (2.Y.Z as 0.Y.Z).
prometheus_release() { local m=${1#0.}; m=${m%%.*}; if (( m >= 300 )); then echo "$((m / 100)).$((m % 100)).${1##*.}"; else echo "2.$m.${1##*.}"; fi; }
declare -A VERSION=(
  [flagger]="$(versions_value FLAGGER_VERSION)"
  [kyverno]="$(versions_value KYVERNO_VERSION)"
  [prometheus-operator]="$(versions_value PROMETHEUS_OPERATOR_VERSION)"
  [prometheus]="$(versions_value PROMETHEUS_VERSION)"
  [keda]="$(versions_value KEDA_VERSION)"
)
declare -A MODULE=(
  [flagger]=github.com/fluxcd/flagger
  [kyverno]=github.com/kyverno/kyverno
  [prometheus-operator]=github.com/prometheus-operator/prometheus-operator
  [prometheus]=github.com/prometheus/prometheus
  [keda]=github.com/kedacore/keda/v2
)
# binary=package (relative to the module root)
declare -A BINARIES=(
  [flagger]="flagger=./cmd/flagger loadtester=./cmd/loadtester"
  [kyverno]="kyverno=./cmd/cli/kubectl-kyverno kyverno-admission-controller=./cmd/kyverno"
  [prometheus-operator]="operator=./cmd/operator prometheus-config-reloader=./cmd/prometheus-config-reloader"
  [prometheus]="prometheus=./cmd/prometheus"
  [keda]="keda-operator=./cmd/operator keda-adapter=./cmd/adapter"
)
declare -A LDFLAGS=(
  [flagger]=""
  [kyverno]="-X github.com/kyverno/kyverno/pkg/version.BuildVersion=v${VERSION[kyverno]}"
  [prometheus-operator]="-X github.com/prometheus/common/version.Version=${VERSION[prometheus-operator]}"
  [prometheus]="-X github.com/prometheus/common/version.Version=$(prometheus_release "${VERSION[prometheus]}") -X github.com/prometheus/common/version.Branch=release -X github.com/prometheus/common/version.Revision=module-v${VERSION[prometheus]}"
  [keda]="-X github.com/kedacore/keda/v2/version.Version=v${VERSION[keda]}"
)
ALL=(flagger kyverno prometheus-operator prometheus keda)

TC="${DELIVERY_TOOLCHAIN_DIR:-$ROOT/.toolchain}"
CACHE="${DELIVERY_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bizra-delivery-toolchain}"
NICE="${DELIVERY_TOOLCHAIN_NICE:-10}"

cmd=build; force=0; tools=()
for arg in "$@"; do
  case "$arg" in
    build|paths|clean) cmd=$arg ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) [[ -n "${MODULE[$arg]:-}" ]] || { echo "delivery-toolchain: unknown tool '$arg' (allowed: ${ALL[*]})" >&2; exit 2; }
       tools+=("$arg") ;;
  esac
done
[[ ${#tools[@]} -gt 0 ]] || tools=("${ALL[@]}")

T0=$SECONDS
log() { printf '[delivery-toolchain +%4ss] %s\n' "$((SECONDS - T0))" "$*" >&2; }

export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false" CGO_ENABLED=0 GOWORK=off
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"

dir_of() { echo "$TC/$1-v${VERSION[$1]}"; }
bin_of() { echo "$(dir_of "$1")/bin/$2"; }
stamp_text() { printf 'tool=%s version=%s recipe=%s go=%s\n' "$1" "${VERSION[$1]}" "$RECIPE" "$(go env GOVERSION)"; }
key_of() { local k="${1^^}_${2^^}_BIN"; echo "${k//-/_}"; }

print_paths() { # TOOL -> KEY=path lines; returns 3 when a binary is missing
  local t=$1 pair name rc=0
  for pair in ${BINARIES[$t]}; do
    name=${pair%%=*}
    printf '%s=%s\n' "$(key_of "$t" "$name")" "$(bin_of "$t" "$name")"
    [[ -x "$(bin_of "$t" "$name")" ]] || rc=3
  done
  return $rc
}
is_current() { # TOOL
  local t=$1 pair b
  for pair in ${BINARIES[$t]}; do
    b="$(bin_of "$t" "${pair%%=*}")"
    [[ -x "$b" && -f "$b.stamp" && "$(cat "$b.stamp")" == "$(stamp_text "$t")" ]] || return 1
  done
}
from_cache() { # TOOL
  [[ "$CACHE" != off && $force -eq 0 ]] || return 1
  local t=$1 pair name c
  for pair in ${BINARIES[$t]}; do
    c="$CACHE/$t-v${VERSION[$t]}/${pair%%=*}"
    [[ -x "$c" && "$(cat "$c.stamp" 2>/dev/null)" == "$(stamp_text "$t")" ]] || return 1
  done
  mkdir -p "$(dir_of "$t")/bin"
  for pair in ${BINARIES[$t]}; do
    name=${pair%%=*}; c="$CACHE/$t-v${VERSION[$t]}/$name"
    cp -f "$c" "$(bin_of "$t" "$name").tmp" && mv -f "$(bin_of "$t" "$name").tmp" "$(bin_of "$t" "$name")"
    cp -f "$c.stamp" "$(bin_of "$t" "$name").stamp"
  done
  log "$t v${VERSION[$t]}: copied from machine cache $CACHE"
}
to_cache() { # TOOL
  [[ "$CACHE" != off ]] || return 0
  local t=$1 pair name d="$CACHE/$t-v${VERSION[$t]}"
  mkdir -p "$d" 2>/dev/null || return 0
  for pair in ${BINARIES[$t]}; do
    name=${pair%%=*}
    cp -f "$(bin_of "$t" "$name")" "$d/.$name.tmp" && mv -f "$d/.$name.tmp" "$d/$name" \
      && cp -f "$(bin_of "$t" "$name").stamp" "$d/$name.stamp" || true
  done
}

gocmd() { nice -n "$NICE" go "$@"; }

# Prometheus registers its service-discovery mechanisms in plugins/plugins.go, generated from plugins.yml by
# `make plugins`; upstream's way to build a smaller server is that list cut down. Here: Kubernetes only (the file and
# HTTP mechanisms are always in, plugins/minimum.go), which is what the Prometheus Operator's config uses.
prepare_prometheus() { # SRC
  local f="$1/plugins/plugins.go"
  grep -q '"github.com/prometheus/prometheus/discovery/kubernetes"' "$f" ||
    { echo "delivery-toolchain: $f does not register discovery/kubernetes" >&2; return 1; }
  { sed -n '1,/^package plugins$/p' "$f"
    printf '\nimport (\n\t// Register kubernetes plugin.\n\t_ "github.com/prometheus/prometheus/discovery/kubernetes"\n)\n'; } >"$f.new"
  mv "$f.new" "$f"
  log "  prometheus: plugins/plugins.go cut to the kubernetes service discovery (plugins.yml mechanism)"
}

build_tool() { # TOOL
  local t=$1 v=${VERSION[$1]} m=${MODULE[$1]} d src pair name pkg t_dl t_build
  d="$(dir_of "$t")"; src="$d/src"
  log "$t v$v: downloading module $m@v$v"
  local s=$SECONDS info modDir
  info="$(gocmd mod download -json "$m@v$v")"
  modDir="$(jq -r .Dir <<<"$info")"
  rm -rf "$src"; mkdir -p "$d/bin"
  cp -r "$modDir" "$src"; chmod -R u+w "$src"
  # Nested modules are not part of a module's zip: point the release's local replaces at the same
  # version on the proxy (the Prometheus Operator's pkg/apis/monitoring and pkg/client).
  local rep
  while read -r rep; do
    [[ -n "$rep" ]] || continue
    log "  replace $rep => $rep@v$v (nested module, not in the zip)"
    (cd "$src" && go mod edit -replace="$rep=$rep@v$v")
  done < <(cd "$src" && go mod edit -json | jq -r '.Replace[]? | select(.New.Path | startswith("./")) | .Old.Path')
  if declare -F "prepare_${t//-/_}" >/dev/null; then "prepare_${t//-/_}" "$src"; fi
  (cd "$src" && gocmd mod download -x 2>/dev/null)
  t_dl=$((SECONDS - s)); s=$SECONDS
  local -a built=()
  local cpu_file="$d/.cpu" cpu=0 c
  for pair in ${BINARIES[$t]}; do
    name=${pair%%=*}; pkg=${pair#*=}
    log "$t v$v: compiling $pkg (nice $NICE)"
    (cd "$src" && /usr/bin/time -f "%U %S" -o "$cpu_file" nice -n "$NICE" go build -mod=mod -trimpath \
      -ldflags "-s -w ${LDFLAGS[$t]}" -o "$d/bin/$name.tmp" "$pkg")
    c="$(awk '{printf "%d", $1 + $2}' "$cpu_file")"; cpu=$((cpu + c))
    mv -f "$d/bin/$name.tmp" "$d/bin/$name"
    stamp_text "$t" >"$d/bin/$name.stamp"
    built+=("$name")
  done
  t_build=$((SECONDS - s))
  rm -rf "$src"
  printf '%s tool=%s version=v%s download_s=%s compile_s=%s compile_cpu_s=%s binaries=%s go=%s nproc=%s load=%s\n' \
    "$(date -u +%FT%TZ)" "$t" "$v" "$t_dl" "$t_build" "$cpu" "$(IFS=,; echo "${built[*]}")" "$(go env GOVERSION)" \
    "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" >>"$TC/delivery-build-times.log"
  log "$t v$v: built in ${t_dl}s download + ${t_build}s compile (${cpu} CPU s)"
}

mkdir -p "$TC"
case "$cmd" in
  paths) rc=0; for t in "${tools[@]}"; do print_paths "$t" || rc=3; done; exit $rc ;;
  clean) for t in "${tools[@]}"; do rm -rf "$(dir_of "$t")"; log "removed $(dir_of "$t")"; done; exit 0 ;;
esac

command -v go >/dev/null || { echo "delivery-toolchain: the go command is required" >&2; exit 1; }
command -v jq >/dev/null || { echo "delivery-toolchain: jq is required" >&2; exit 1; }

for t in "${tools[@]}"; do
  exec 9>"$TC/delivery-toolchain-$t.lock"
  flock -n 9 || { log "another build of $t holds $TC/delivery-toolchain-$t.lock; waiting"; flock 9; }
  if [[ $force -eq 0 ]] && is_current "$t"; then
    log "$t v${VERSION[$t]}: up to date"
  elif ! from_cache "$t"; then
    build_tool "$t"
    to_cache "$t"
  fi
  exec 9>&-
done
rc=0; for t in "${tools[@]}"; do print_paths "$t" || rc=3; done; exit $rc
