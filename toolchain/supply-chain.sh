#!/usr/bin/env bash
# Cached, idempotent build of the supply-chain tools (cosign, syft, actionlint) from the Go module proxy.
#
# Usage: toolchain/supply-chain.sh [COMMAND] [TOOL...] [--force]
#   build  (default)  build whichever of the tools is missing (all three unless TOOLs are named), print paths
#   paths             print KEY=path lines (COSIGN_BIN, SYFT_BIN, ACTIONLINT_BIN); exit 3 if one is not built
#   clean             remove the version folders under .toolchain/
#   TOOL              cosign | syft | actionlint
#   --force           rebuild even when a binary with a matching stamp exists
#
# Outputs (keyed by version; a second run with nothing to do takes well under a second):
#   .toolchain/cosign-v<COSIGN_VERSION>/bin/cosign
#   .toolchain/syft-v<SYFT_VERSION>/bin/syft
#   .toolchain/actionlint-v<ACTIONLINT_VERSION>/bin/actionlint
#
# Versions come from toolchain/supply-chain/versions.env. Knobs: SUPPLY_CHAIN_TOOLCHAIN_DIR (default
# <repo>/.toolchain), SUPPLY_CHAIN_CACHE (machine-wide copy of built binaries reused by fresh clones; default
# ~/.cache/bizra-supply-chain; "off" disables it), SUPPLY_CHAIN_NICE (default 10). Each build logs its wall time
# ("built in N s") so CI logs carry the cold figures.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VERSIONS="$HERE/supply-chain/versions.env"
RECIPE=1

val() { sed -n "s/^$1=\\([^[:space:]#]*\\).*/\\1/p" "$VERSIONS" | tail -n1; }

TC="${SUPPLY_CHAIN_TOOLCHAIN_DIR:-$ROOT/.toolchain}"
CACHE="${SUPPLY_CHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bizra-supply-chain}"
NICE="${SUPPLY_CHAIN_NICE:-10}"
ALL_TOOLS=(cosign syft actionlint)

cmd=build; force=0; tools=()
for arg in "$@"; do
  case "$arg" in
    build|paths|clean) cmd="$arg" ;;
    cosign|syft|actionlint) tools+=("$arg") ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "supply-chain: unknown argument '$arg' (allowed: build, paths, clean, cosign, syft, actionlint, --force)" >&2; exit 2 ;;
  esac
done
[[ ${#tools[@]} -gt 0 ]] || tools=("${ALL_TOOLS[@]}")

upper() { tr '[:lower:]' '[:upper:]' <<<"$1"; }
version_of() { local v; v="$(val "$(upper "$1")_VERSION")"; v="${v#v}"
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "supply-chain: bad $(upper "$1")_VERSION '$v' in $VERSIONS" >&2; exit 2; }
  echo "$v"; }
module_of() { val "$(upper "$1")_MODULE"; }
bin_of() { echo "$TC/$1-v$(version_of "$1")/bin/$1"; }
# Package path of the main package inside the module, and the version-stamping ldflags each project uses.
pkg_of() { case "$1" in
  cosign) echo "$(module_of cosign)/cmd/cosign" ;;
  syft) echo "$(module_of syft)/cmd/syft" ;;
  actionlint) echo "$(module_of actionlint)/cmd/actionlint" ;; esac; }
ldflags_of() { local v; v="$(version_of "$1")"; case "$1" in
  cosign) echo "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=v$v -X sigs.k8s.io/release-utils/version.gitTreeState=clean" ;;
  syft) echo "-s -w -X main.version=$v -X main.gitCommit= -X main.gitDescription=v$v" ;;
  actionlint) echo "-s -w -X github.com/rhysd/actionlint.version=$v" ;; esac; }

T0=$SECONDS
log() { printf '[supply-chain +%4ss] %s\n' "$((SECONDS - T0))" "$*" >&2; }

print_paths() { local t; for t in "${ALL_TOOLS[@]}"; do printf '%s_BIN=%s\n' "$(upper "$t")" "$(bin_of "$t")"; done; }

case "$cmd" in
  paths)
    print_paths
    for t in "${tools[@]}"; do [[ -x "$(bin_of "$t")" ]] || exit 3; done
    exit 0 ;;
  clean)
    for t in "${tools[@]}"; do rm -rf "$(dirname "$(dirname "$(bin_of "$t")")")"; done
    log "removed ${tools[*]}"; exit 0 ;;
esac

command -v go >/dev/null || { echo "supply-chain: the go command is required" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false" CGO_ENABLED=0 GOWORK=off
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"

stamp_text() { printf 'name=%s version=%s recipe=%s go=%s goos=%s goarch=%s\n' "$1" "$2" "$RECIPE" \
  "$(go env GOVERSION)" "$(go env GOOS)" "$(go env GOARCH)"; }
is_current() { [[ -x "$1" && -f "$1.stamp" ]] && [[ "$(cat "$1.stamp")" == "$(stamp_text "$2" "$3")" ]]; }

mkdir -p "$TC"

heartbeat() { local pid=$1 what=$2 start=$SECONDS s=""
  trap '[[ -n "$s" ]] && kill "$s" 2>/dev/null; exit 0' TERM
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30 </dev/null >/dev/null 2>&1 9>&- & s=$!; wait "$s" 2>/dev/null || true
    kill -0 "$pid" 2>/dev/null && log "still $what ($((SECONDS - start))s)"
  done; }
run_logged() { local what=$1; shift; "$@" & local pid=$!; heartbeat "$pid" "$what" 9>&- & local hb=$!
  local rc=0; wait "$pid" || rc=$?; kill "$hb" 2>/dev/null || true; wait "$hb" 2>/dev/null || true; return "$rc"; }

from_cache() { # BIN NAME VERSION
  [[ "$CACHE" != off && $force -eq 0 ]] || return 1
  local cached="$CACHE/$2-v$3/$2"
  is_current "$cached" "$2" "$3" || return 1
  mkdir -p "$(dirname "$1")"
  cp -f "$cached" "$1.tmp" && mv -f "$1.tmp" "$1" && cp -f "$cached.stamp" "$1.stamp"
  log "$2 v$3: copied from machine cache $cached"; }
to_cache() { # BIN NAME VERSION
  [[ "$CACHE" != off ]] || return 0
  local dir="$CACHE/$2-v$3"; mkdir -p "$dir" 2>/dev/null || return 0
  cp -f "$1" "$dir/.$2.tmp" && mv -f "$dir/.$2.tmp" "$dir/$2" && cp -f "$1.stamp" "$dir/$2.stamp" || true; }

build_tool() { # NAME
  local name=$1 v bin gobin start
  v="$(version_of "$name")"; bin="$(bin_of "$name")"
  gobin="$(dirname "$bin")/.gobin"; rm -rf "$gobin"; mkdir -p "$gobin"
  start=$SECONDS
  # `go install pkg@version` builds with the module's own go.mod and go.sum (none of the three has replaces).
  log "$name v$v: go install $(pkg_of "$name")@v$v (nice $NICE)"
  run_logged "building $name" env GOBIN="$gobin" nice -n "$NICE" go install -trimpath \
    -ldflags "$(ldflags_of "$name")" "$(pkg_of "$name")@v$v"
  mv -f "$gobin/$name" "$bin"; rm -rf "$gobin"
  stamp_text "$name" "$v" >"$bin.stamp"
  log "$name v$v: built in $((SECONDS - start)) s ($bin)"
}

for t in "${tools[@]}"; do
  v="$(version_of "$t")"; bin="$(bin_of "$t")"
  # One build per tool at a time (parallel test workers may all call this); other tools are not held up.
  exec 9>"$TC/$t-v$v.lock"
  if ! flock -n 9; then log "another build holds $TC/$t-v$v.lock; waiting"; flock 9; fi
  if [[ $force -eq 0 ]] && is_current "$bin" "$t" "$v"; then log "$t v$v: up to date ($bin)"
  elif ! from_cache "$bin" "$t" "$v"; then build_tool "$t"; to_cache "$bin" "$t" "$v"; fi
  exec 9>&-
done
log done
print_paths
