#!/usr/bin/env bash
# Builds and caches the Pulumi engine pieces this project runs locally, from the Go module proxy:
#   - the Pulumi CLI  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi  @ PULUMI_VERSION
#   - a Node.js language host (toolchain/langhost-nodejs): the upstream nested module
#     github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 is refused by the proxy here.
#     It also runs TypeScript policy packs (`--policy-pack`) through RunPlugin, as the upstream host does.
#   - pulumi-resource-kubernetes K8S_PROVIDER_VERSION: the real provider, github.com/pulumi/pulumi-kubernetes/provider/v4
#     at K8S_PROVIDER_MODULE (the pseudo-version of the commit tagged v<K8S_PROVIDER_VERSION>; the proxy serves no
#     tagged version of that module path), built through a wrapper module the way the upstream Makefile does
#     (`VERSION=<v> go run generate.go` writes the embedded schema, then `go build` with pkg/version.Version=<v>).
#
# Everything lands under .toolchain/ (git-ignored), keyed by version, so a version bump builds new folders:
#   .toolchain/pulumi-v<V>/bin/{pulumi,pulumi-language-nodejs}
#   .toolchain/kubernetes-v<K>/bin/pulumi-resource-kubernetes
#   .toolchain/gomod, .toolchain/gocache      Go module and build caches
#
# Usage:
#   toolchain/pulumi.sh            build what is missing (cold: tens of minutes on 2 cores; warm: seconds),
#                                   then print the environment to use
#   eval "$(toolchain/pulumi.sh --env)"   build quietly (progress on stderr) and export the environment
#   toolchain/pulumi.sh --check    exit 0 if everything is built, 1 if not; builds nothing
# Env knobs: PULUMI_VERSION, K8S_PROVIDER_VERSION + K8S_PROVIDER_MODULE (change together), TOOLCHAIN_DIR, TOOLCHAIN_JOBS (go build -p), TOOLCHAIN_GO_CACHES=in-tree, PULUMI_HOME
# (the provider is linked into its plugin cache; default .toolchain/pulumi-home).
set -euo pipefail

PULUMI_VERSION="${PULUMI_VERSION:-3.259.0}"
# Pinned to the @pulumi/kubernetes npm version the program uses (package.json). The module version is the commit
# f47bc2d6f199 (2026-01-14), which pulumi/pulumi-kubernetes tags v4.25.0: the only version of provider/v4 the Go
# module proxy serves here.
K8S_PROVIDER_VERSION="${K8S_PROVIDER_VERSION:-4.25.0}"
K8S_PROVIDER_MODULE="${K8S_PROVIDER_MODULE:-v4.0.0-20260115033456-f47bc2d6f199}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/toolchain"
TC="${TOOLCHAIN_DIR:-$ROOT/.toolchain}"
PULUMI_BIN="$TC/pulumi-v$PULUMI_VERSION/bin"
K8S_BIN="$TC/kubernetes-v$K8S_PROVIDER_VERSION/bin"
BUILD="$TC/build"

MODE=build
case "${1:-}" in
  --env) MODE=env ;;
  --check) MODE=check ;;
  "" ) ;;
  -h|--help) awk 'NR>1 && /^set -euo/{exit} NR>1' "$0"; exit 0 ;;
  *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Go caches: the machine's defaults (go env GOMODCACHE / GOCACHE), so a fresh clone (CI runs in one) reuses the
# compiled packages; -trimpath keeps cache entries independent of where the module cache is.
# TOOLCHAIN_GO_CACHES=in-tree keeps them under .toolchain/ instead (git-ignored, removed with it).
if [[ "${TOOLCHAIN_GO_CACHES:-}" == in-tree ]]; then
  export GOMODCACHE="$TC/gomod" GOCACHE="$TC/gocache"
fi
export GOFLAGS="-buildvcs=false -modcacherw"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
GO_P=()
[[ -n "${TOOLCHAIN_JOBS:-}" ]] && GO_P=(-p "$TOOLCHAIN_JOBS")

# A stamp records what a binary was built from; a binary is rebuilt only when its stamp differs.
sum_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
stamp_ok() { [[ -x "$1" && -f "$1.stamp" && "$(cat "$1.stamp")" == "$2" ]]; }

CLI_STAMP="pulumi-cli v$PULUMI_VERSION tags=osusergo,grpcnotrace trimpath $(go env GOVERSION 2>/dev/null)"
HOST_STAMP="langhost v$PULUMI_VERSION $(sum_of "$SRC/langhost-nodejs/main.go") $(go env GOVERSION 2>/dev/null)"
K8S_STAMP="real provider/v4@$K8S_PROVIDER_MODULE as $K8S_PROVIDER_VERSION trimpath $(go env GOVERSION 2>/dev/null)"

all_built() {
  [[ "$(readlink "$PLUGIN_DIR/pulumi-resource-kubernetes" 2>/dev/null)" == "$K8S_BIN/pulumi-resource-kubernetes" ]] &&
  stamp_ok "$PULUMI_BIN/pulumi" "$CLI_STAMP" && stamp_ok "$PULUMI_BIN/pulumi-language-nodejs" "$HOST_STAMP" &&
    stamp_ok "$K8S_BIN/pulumi-resource-kubernetes" "$K8S_STAMP"
}

# The provider goes into the plugin cache of PULUMI_HOME (not on PATH: the engine warns on every run about
# ambient providers). The language host sits next to `pulumi`, where the engine looks for bundled plugins.
PLUGIN_HOME="${PULUMI_HOME:-$TC/pulumi-home}"
PLUGIN_DIR="$PLUGIN_HOME/plugins/resource-kubernetes-v$K8S_PROVIDER_VERSION"

install_plugin() {
  mkdir -p "$PLUGIN_DIR"
  rm -f "$PLUGIN_DIR/pulumi-resource-kubernetes" "$PLUGIN_HOME/plugins/resource-kubernetes-v$K8S_PROVIDER_VERSION.partial"
  ln -s "$K8S_BIN/pulumi-resource-kubernetes" "$PLUGIN_DIR/pulumi-resource-kubernetes"
  log "kubernetes v$K8S_PROVIDER_VERSION: linked into $PLUGIN_DIR"
}

print_env() {
  cat <<EOF
export PATH="$PULUMI_BIN:\$PATH"
export PULUMI_HOME="$PLUGIN_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
EOF
}

if [[ "$MODE" == check ]]; then
  all_built && exit 0 || exit 1
fi

command -v go >/dev/null || die "go is not on PATH (this script needs Go >= 1.25 from the machine image)"
mkdir -p "$TC" "$BUILD" "$PULUMI_BIN" "$K8S_BIN" "$PLUGIN_HOME"

# Build with lowered priority: the machine is shared with other builds.
gobuild() { nice -n 10 go build "${GO_P[@]}" "$@"; }

# ---------------------------------------------------------------------------------------------------------------
# 1. Pulumi CLI. pkg/go.mod has `replace sdk => ../sdk` (local) plus non-local replaces (a clipboard fork), so
#    `go install …@v` refuses it; a generated module requires pkg and sdk at the same version and repeats the
#    non-local replaces read from pkg's go.mod in the module cache.
# ---------------------------------------------------------------------------------------------------------------
build_cli() {
  local out="$PULUMI_BIN/pulumi"
  if stamp_ok "$out" "$CLI_STAMP"; then log "pulumi v$PULUMI_VERSION: cached"; return; fi
  local mod="$BUILD/pulumi-v$PULUMI_VERSION" t0=$SECONDS
  mkdir -p "$mod"
  log "pulumi v$PULUMI_VERSION: downloading github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
  local pkgdir
  pkgdir="$(cd "$mod" && go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -f "$pkgdir/go.mod" ]] || die "could not download github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
  local gover replaces
  gover="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$pkgdir/go.mod" | head -1)"
  # Non-local replace lines (right side is a module path with a version, not ./ or ../).
  replaces="$(grep -E '^replace [^ ]+( v[^ ]+)? => [^.][^ ]* v[^ ]+$' "$pkgdir/go.mod" || true)"
  {
    echo "module bizra.local/toolchain/pulumi"
    echo
    echo "go ${gover:-1.25}"
    echo
    echo "require ("
    echo "	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION"
    echo "	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION"
    echo ")"
    echo
    [[ -n "$replaces" ]] && echo "$replaces" && echo
    echo "tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
  } >"$mod/go.mod.new"
  if ! cmp -s "$mod/go.mod.new" "$mod/go.mod.src" 2>/dev/null || [[ ! -f "$mod/go.sum" ]]; then
    cp "$mod/go.mod.new" "$mod/go.mod"
    cp "$mod/go.mod.new" "$mod/go.mod.src"
    log "pulumi v$PULUMI_VERSION: resolving dependencies (go mod tidy; replaces: ${replaces:-none})"
    (cd "$mod" && go mod tidy)
  fi
  rm -f "$mod/go.mod.new"
  log "pulumi v$PULUMI_VERSION: compiling github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (slow when cold)"
  (cd "$mod" && gobuild -tags osusergo,grpcnotrace -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$out.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv "$out.tmp" "$out"
  echo "$CLI_STAMP" >"$out.stamp"
  log "pulumi v$PULUMI_VERSION: built in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------------------------------------------------------
# 2. The language host written for this project, built against sdk/v3 @ PULUMI_VERSION.
# ---------------------------------------------------------------------------------------------------------------
HELPERS="$BUILD/helpers-v$PULUMI_VERSION"
prepare_helpers() {
  [[ -n "${HELPERS_READY:-}" ]] && return
  mkdir -p "$HELPERS"
  rm -rf "$HELPERS/langhost-nodejs"
  cp -r "$SRC/langhost-nodejs" "$HELPERS/"
  local want
  want="$(printf 'module bizra.local/toolchain/helpers\n\ngo 1.25\n\nrequire github.com/pulumi/pulumi/sdk/v3 v%s\n' \
    "$PULUMI_VERSION")"
  local srcsum
  srcsum="$(sum_of "$SRC/langhost-nodejs/main.go") v$PULUMI_VERSION"
  if [[ ! -f "$HELPERS/go.sum" || "$(cat "$HELPERS/.tidy" 2>/dev/null)" != "$srcsum" ]]; then
    printf '%s\n' "$want" >"$HELPERS/go.mod"
    log "helpers: resolving dependencies (go mod tidy)"
    (cd "$HELPERS" && go mod tidy)
    echo "$srcsum" >"$HELPERS/.tidy"
  fi
  HELPERS_READY=1
}

build_langhost() {
  local out="$PULUMI_BIN/pulumi-language-nodejs"
  if stamp_ok "$out" "$HOST_STAMP"; then log "pulumi-language-nodejs: cached"; return; fi
  log "pulumi-language-nodejs: the proxy refuses github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3;"
  log "pulumi-language-nodejs: building the project's host (toolchain/langhost-nodejs) on sdk v$PULUMI_VERSION"
  prepare_helpers
  local t0=$SECONDS
  (cd "$HELPERS" && gobuild -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$out.tmp" ./langhost-nodejs)
  mv "$out.tmp" "$out"
  echo "$HOST_STAMP" >"$out.stamp"
  log "pulumi-language-nodejs: built in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------------------------------------------------------
# 3. Kubernetes provider. The module's cmd/pulumi-resource-kubernetes holds main.go, generate.go (build tag ignore),
#    schema.json and terraform-mapping.json; main.go embeds schema-embed.json and terraform-mapping-embed.json, which
#    `make` writes upstream and the module zip lacks. A wrapper module requires provider/v4 (so its go.mod's local
#    `replace sdk/v4 => ../sdk` does not apply and sdk/v4 resolves to the v4.24.0 it requires), gets the four files,
#    runs generate.go with VERSION set and builds the command.
# ---------------------------------------------------------------------------------------------------------------
K8S_MOD="github.com/pulumi/pulumi-kubernetes/provider/v4"
build_k8s() {
  local out="$K8S_BIN/pulumi-resource-kubernetes"
  if stamp_ok "$out" "$K8S_STAMP"; then log "kubernetes v$K8S_PROVIDER_VERSION: cached"; return; fi
  local work="$BUILD/kubernetes-v$K8S_PROVIDER_VERSION" t0=$SECONDS json dir
  mkdir -p "$work"
  log "kubernetes v$K8S_PROVIDER_VERSION: downloading $K8S_MOD@$K8S_PROVIDER_MODULE"
  json="$(cd "$work" && go mod download -json "$K8S_MOD@$K8S_PROVIDER_MODULE" 2>&1 || true)"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")"
  [[ -n "$dir" && -f "$dir/cmd/pulumi-resource-kubernetes/main.go" ]] ||
    die "the Go module proxy did not serve $K8S_MOD@$K8S_PROVIDER_MODULE: $(grep -o '"Error": .*' <<<"$json" | head -1)"
  local f
  for f in main.go generate.go schema.json terraform-mapping.json; do
    install -m 0644 "$dir/cmd/pulumi-resource-kubernetes/$f" "$work/$f"
  done
  local gover
  gover="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$dir/go.mod" | head -1)"
  printf 'module bizra.local/toolchain/kubernetes\n\ngo %s\n\nrequire %s %s\n' "${gover:-1.24}" "$K8S_MOD" \
    "$K8S_PROVIDER_MODULE" >"$work/go.mod.new"
  if ! cmp -s "$work/go.mod.new" "$work/go.mod.src" 2>/dev/null || [[ ! -f "$work/go.sum" ]]; then
    cp "$work/go.mod.new" "$work/go.mod"
    cp "$work/go.mod.new" "$work/go.mod.src"
    log "kubernetes v$K8S_PROVIDER_VERSION: resolving dependencies (go mod tidy)"
    (cd "$work" && go mod tidy)
  fi
  rm -f "$work/go.mod.new"
  log "kubernetes v$K8S_PROVIDER_VERSION: writing the embedded schema (VERSION=$K8S_PROVIDER_VERSION go run generate.go)"
  (cd "$work" && VERSION="$K8S_PROVIDER_VERSION" nice -n 10 go run generate.go)
  log "kubernetes v$K8S_PROVIDER_VERSION: compiling the provider (slow when cold)"
  (cd "$work" && gobuild -trimpath \
    -ldflags "-s -w -X $K8S_MOD/pkg/version.Version=$K8S_PROVIDER_VERSION" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  echo "$K8S_STAMP" >"$out.stamp"
  log "kubernetes v$K8S_PROVIDER_VERSION: built in $((SECONDS - t0))s"
}

T0=$SECONDS
build_cli
build_langhost
build_k8s
[[ "$(readlink "$PLUGIN_DIR/pulumi-resource-kubernetes" 2>/dev/null)" == "$K8S_BIN/pulumi-resource-kubernetes" ]] ||
  install_plugin
"$PULUMI_BIN/pulumi" version >/dev/null 2>&1 || die "$PULUMI_BIN/pulumi does not run"
log "ready in $((SECONDS - T0))s: pulumi $("$PULUMI_BIN/pulumi" version), kubernetes provider" \
  "$(head -c 60 "$K8S_BIN/pulumi-resource-kubernetes.stamp")"

if [[ "$MODE" == env ]]; then
  print_env
else
  echo "# Use the engine with:" >&2
  print_env
fi
