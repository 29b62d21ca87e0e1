#!/usr/bin/env bash
# Cached, idempotent build of etcd, the Kubernetes components and CoreDNS from the Go module proxy: the loopback API
# server of the end-to-end tests (tests/support/apiserver.ts) and the single-node cluster (scripts/cluster.sh).
#
# Usage: toolchain/kubernetes.sh [COMMAND] [--force]
#   build  (default)  build whatever is missing, then print the binary paths
#   paths             print the binary paths (KEY=path lines); exit 3 if any is not built yet
#   clean             remove .toolchain/k8s-v<K8S_VERSION>, .toolchain/etcd-v<ETCD_VERSION>, .toolchain/coredns-v<COREDNS_VERSION>
#   --force           rebuild even when a binary with a matching stamp exists
#
# Outputs (keyed by version; a second run with nothing to do takes well under a second):
#   .toolchain/k8s-v<K8S_VERSION>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy,kubelet,kubectl}
#     (one generated module, one `go build` of the six commands, so the packages they share compile once)
#   .toolchain/etcd-v<ETCD_VERSION>/bin/etcd
#   .toolchain/coredns-v<COREDNS_VERSION>/bin/coredns (the cluster DNS; a module of its own, see build_coredns)
#
# Versions come from toolchain/kubernetes/versions.env; K8S_VERSION / ETCD_VERSION / COREDNS_VERSION in the
# environment override them. Other knobs: K8S_TOOLCHAIN_DIR (default <repo>/.toolchain), K8S_TOOLCHAIN_CACHE
# (machine-wide copy of built binaries, reused by fresh clones; default ~/.cache/bizra-k8s-toolchain;
# set to "off" to disable), K8S_TOOLCHAIN_NICE (default 10). GOMODCACHE / GOCACHE are the go command's
# usual ones (user-level by default, so a fresh clone on the same machine compiles warm).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SUPPORT="$HERE/kubernetes"

# Bump when the build recipe (flags, generated files) changes so that stamped binaries are rebuilt
# (recipe 2: empty gitCommit instead of the "$Format:%H$" placeholder).
# (recipe 3: the five Kubernetes commands from one module and one build.)
RECIPE=3

versions_value() { # KEY -> value from versions.env
  sed -n "s/^$1=\\([^[:space:]#]*\\).*/\\1/p" "$SUPPORT/versions.env" | tail -n1
}
K8S_VERSION="${K8S_VERSION:-$(versions_value K8S_VERSION)}"
ETCD_VERSION="${ETCD_VERSION:-$(versions_value ETCD_VERSION)}"
COREDNS_VERSION="${COREDNS_VERSION:-$(versions_value COREDNS_VERSION)}"
K8S_VERSION="${K8S_VERSION#v}"
ETCD_VERSION="${ETCD_VERSION#v}"
COREDNS_VERSION="${COREDNS_VERSION#v}"
[[ "$K8S_VERSION" =~ ^1\.[0-9]+\.[0-9]+$ ]] || { echo "k8s-toolchain: bad K8S_VERSION '$K8S_VERSION'" >&2; exit 2; }
[[ "$ETCD_VERSION" =~ ^3\.[0-9]+\.[0-9]+$ ]] || { echo "k8s-toolchain: bad ETCD_VERSION '$ETCD_VERSION'" >&2; exit 2; }
[[ "$COREDNS_VERSION" =~ ^1\.[0-9]+\.[0-9]+$ ]] || { echo "k8s-toolchain: bad COREDNS_VERSION '$COREDNS_VERSION' (1.MINOR.PATCH)" >&2; exit 2; }

TC="${K8S_TOOLCHAIN_DIR:-$ROOT/.toolchain}"
CACHE="${K8S_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bizra-k8s-toolchain}"
NICE="${K8S_TOOLCHAIN_NICE:-10}"
K8S_DIR="$TC/k8s-v$K8S_VERSION"
ETCD_DIR="$TC/etcd-v$ETCD_VERSION"
ETCD_BIN="$ETCD_DIR/bin/etcd"
COREDNS_DIR="$TC/coredns-v$COREDNS_VERSION"
COREDNS_BIN="$COREDNS_DIR/bin/coredns"
# The commands built from k8s.io/kubernetes, in the order `paths` prints them.
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)
APISERVER_BIN="$K8S_DIR/bin/kube-apiserver"
k8s_bin() { echo "$K8S_DIR/bin/$1"; }
k8s_var() { local v=${1^^}; echo "${v//-/_}_BIN"; }   # kube-apiserver -> KUBE_APISERVER_BIN

cmd="build"
force=0
for arg in "$@"; do
  case "$arg" in
    build|paths|clean) cmd="$arg" ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "k8s-toolchain: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

T0=$SECONDS
log() { printf '[k8s-toolchain +%4ss] %s\n' "$((SECONDS - T0))" "$*" >&2; }

export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false" CGO_ENABLED=0 GOWORK=off
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"

go_version() { go env GOVERSION 2>/dev/null || echo unknown; }
stamp_text() { # NAME VERSION
  printf 'name=%s version=%s recipe=%s go=%s goos=%s goarch=%s\n' "$1" "$2" "$RECIPE" "$(go_version)" \
    "$(go env GOOS)" "$(go env GOARCH)"
}
is_current() { # BIN NAME VERSION
  [[ -x "$1" && -f "$1.stamp" ]] && [[ "$(cat "$1.stamp")" == "$(stamp_text "$2" "$3")" ]]
}

print_paths() {
  local c
  for c in "${K8S_CMDS[@]}"; do printf '%s=%s\n' "$(k8s_var "$c")" "$(k8s_bin "$c")"; done
  printf 'ETCD_BIN=%s\n' "$ETCD_BIN"
  printf 'COREDNS_BIN=%s\n' "$COREDNS_BIN"
}
all_k8s_built() { local c; for c in "${K8S_CMDS[@]}"; do [[ -x "$(k8s_bin "$c")" ]] || return 1; done; }

case "$cmd" in
  paths)
    print_paths
    all_k8s_built && [[ -x "$ETCD_BIN" && -x "$COREDNS_BIN" ]] || exit 3
    exit 0 ;;
  clean)
    rm -rf "$K8S_DIR" "$ETCD_DIR" "$COREDNS_DIR"
    log "removed $K8S_DIR, $ETCD_DIR and $COREDNS_DIR"
    exit 0 ;;
esac

command -v go >/dev/null || { echo "k8s-toolchain: the go command is required" >&2; exit 1; }

# One build at a time per toolchain dir (parallel test workers may all call this).
mkdir -p "$TC"
exec 9>"$TC/k8s-toolchain.lock"
if ! flock -n 9; then
  log "another k8s-toolchain build holds $TC/k8s-toolchain.lock; waiting"
  flock 9
fi

# Heartbeat so that CI logs show a long compile is alive. It must not keep the lock (fd 9) or the
# caller's stdout/stderr open once the build is over, so its sleeps are detached from both.
heartbeat() { # PID WHAT
  local pid=$1 what=$2 start=$SECONDS s=""
  trap '[[ -n "$s" ]] && kill "$s" 2>/dev/null; exit 0' TERM
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30 </dev/null >/dev/null 2>&1 9>&- &
    s=$!
    wait "$s" 2>/dev/null || true
    kill -0 "$pid" 2>/dev/null && log "still $what ($((SECONDS - start))s)"
  done
}
run_logged() { # WHAT -- CMD...
  local what=$1; shift
  "$@" &
  local pid=$!
  heartbeat "$pid" "$what" 9>&- &
  local hb=$!
  local rc=0
  wait "$pid" || rc=$?
  kill "$hb" 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  return "$rc"
}
gocmd() { nice -n "$NICE" go "$@"; }

# Reuse a binary another clone on this machine already built (same stamp), else build it.
from_cache() { # BIN NAME VERSION
  [[ "$CACHE" != "off" ]] || return 1
  local cached="$CACHE/$2-v$3/$(basename "$1")"
  if [[ $force -eq 0 ]] && is_current "$cached" "$2" "$3"; then
    mkdir -p "$(dirname "$1")"
    cp -f "$cached" "$1.tmp" && mv -f "$1.tmp" "$1"
    cp -f "$cached.stamp" "$1.stamp"
    log "$2 v$3: copied from machine cache $cached"
    return 0
  fi
  return 1
}
to_cache() { # BIN NAME VERSION
  [[ "$CACHE" != "off" ]] || return 0
  local dir="$CACHE/$2-v$3"
  mkdir -p "$dir" 2>/dev/null || return 0
  cp -f "$1" "$dir/.$(basename "$1").tmp" && mv -f "$dir/.$(basename "$1").tmp" "$dir/$(basename "$1")" \
    && cp -f "$1.stamp" "$dir/$(basename "$1").stamp" || true
}

# ---------------------------------------------------------------------------------------------- etcd
build_etcd() {
  local v=$ETCD_VERSION src="$ETCD_DIR/src"
  log "etcd v$v: preparing module in $src"
  rm -rf "$src"
  mkdir -p "$src" "$ETCD_DIR/bin"
  cp "$SUPPORT/etcd-main.go.txt" "$src/main.go"
  # server/v3 requires api, client/pkg, client/v3 and pkg at the same version; its own replaces point at
  # sibling directories and are ignored for a dependency, so tidy resolves them at v$v from the proxy.
  local gomod
  gomod="$(gocmd mod download -json "go.etcd.io/etcd/server/v3@v$v" | sed -n 's/^\s*"GoMod": "\(.*\)",*$/\1/p')"
  local goline
  goline="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$gomod" | head -n1)"
  cat >"$src/go.mod" <<EOF
// Generated by toolchain/kubernetes.sh: builds the etcd server binary at v$v.
module bizra.local/k8s-toolchain/etcd

go ${goline:-1.24}

require (
	go.etcd.io/etcd/server/v3 v$v
	go.etcd.io/etcd/api/v3 v$v
	go.etcd.io/etcd/client/pkg/v3 v$v
	go.etcd.io/etcd/client/v3 v$v
	go.etcd.io/etcd/pkg/v3 v$v
)
EOF
  log "etcd v$v: resolving modules (go mod tidy)"
  (cd "$src" && run_logged "resolving etcd modules" gocmd mod tidy)
  log "etcd v$v: compiling (nice $NICE)"
  local ld="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$v"
  (cd "$src" && run_logged "compiling etcd" gocmd build -trimpath -ldflags "$ld" -o "$ETCD_BIN.tmp" .)
  mv -f "$ETCD_BIN.tmp" "$ETCD_BIN"
  stamp_text etcd "$v" >"$ETCD_BIN.stamp"
  "$ETCD_BIN" --version | sed 's/^/    /' >&2
}

# ------------------------------------------------------------------------------------------- CoreDNS
# A module of its own rather than a seventh command of the Kubernetes module (measured on the go.mod files of the
# releases): CoreDNS v1.15.0 requires k8s.io/api, apimachinery and client-go v0.37.1, which the Kubernetes module's
# staging replaces would pin back to v0.36.x (a downgrade). v1.14.2 to v1.14.7 would join, but raise modules the
# Kubernetes commands are built with above what Kubernetes v1.36.3 ships (v1.14.2: x/net, x/sys, x/crypto and four
# more; v1.14.7: grpc, otel, prometheus and 24 more): all six rebuilt, on a dependency set upstream did not release.
# Only v1.14.0 and v1.14.1 leave that build list as it is, and both predate the fix of CVE-2026-32936 (v1.14.3).
# On its own, CoreDNS builds with exactly the requirements it was released with.
build_coredns() {
  local v=$COREDNS_VERSION src="$COREDNS_DIR/src"
  log "coredns v$v: preparing module in $src"
  rm -rf "$src"
  mkdir -p "$src" "$COREDNS_DIR/bin"
  cp "$SUPPORT/coredns-main.go.txt" "$src/main.go"
  local info gomod goline commit
  info="$(gocmd mod download -json "github.com/coredns/coredns@v$v")"
  gomod="$(jq -r '.GoMod // empty' <<<"$info")"
  commit="$(jq -r '.Origin.Hash // empty' <<<"$info")"
  goline="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$gomod" | head -n1)"
  {
    echo "// Generated by toolchain/kubernetes.sh: CoreDNS v$v with the plugins of toolchain/kubernetes/coredns-main.go.txt."
    echo "module bizra.local/k8s-toolchain/coredns"
    echo
    echo "go ${goline:-1.26}"
    echo
    echo "require github.com/coredns/coredns v$v"
  } >"$src/go.mod"
  log "coredns v$v: resolving modules (go mod tidy)"
  (cd "$src" && run_logged "resolving coredns modules" gocmd mod tidy)
  log "coredns v$v: compiling (nice $NICE)"
  # Upstream's Makefile stamps coremain.GitCommit the same way (short commit).
  local ld="-s -w -X github.com/coredns/coredns/coremain.GitCommit=${commit:0:7}"
  (cd "$src" && run_logged "compiling coredns" gocmd build -trimpath -ldflags "$ld" -o "$COREDNS_BIN.tmp" .)
  mv -f "$COREDNS_BIN.tmp" "$COREDNS_BIN"
  stamp_text coredns "$v" >"$COREDNS_BIN.stamp"
  "$COREDNS_BIN" -version | sed 's/^/    /' >&2
}

# ------------------------------------------------------------- kube-apiserver, -controller-manager, -scheduler, kubelet, kubectl
build_k8s() {
  local v=$K8S_VERSION src="$K8S_DIR/src"
  local minor=${v#1.}; minor=${minor%%.*}
  local staging_v="0.${v#1.}"
  log "kubernetes v$v: preparing module in $src"
  rm -rf "$src"
  mkdir -p "$src" "$K8S_DIR/bin"

  local info gomod modtime goline
  info="$(gocmd mod download -json "k8s.io/kubernetes@v$v")"
  gomod="$(sed -n 's/^\s*"GoMod": "\(.*\)",*$/\1/p' <<<"$info")"
  modtime="$(sed -n 's/^\s*"Time": "\(.*\)",*$/\1/p' <<<"$info")"
  goline="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$gomod" | head -n1)"

  # Every k8s.io/<staging> module that k8s.io/kubernetes replaces with ./staging/src/... is required at
  # v0.0.0; point each at the published v0.<minor>.<patch>. A staging module the proxy does not serve
  # (none that these commands import) gets an empty local stub so that the module graph still loads.
  local staging=()
  mapfile -t staging < <(sed -n 's#^\s*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\1#p' "$gomod" | sort -u)
  [[ ${#staging[@]} -gt 0 ]] || { echo "k8s-toolchain: no staging replaces found in $gomod" >&2; exit 1; }
  log "kubernetes v$v: checking ${#staging[@]} staging modules at v$staging_v"
  local args=() m
  for m in "${staging[@]}"; do args+=("$m@v$staging_v"); done
  local dl
  dl="$(gocmd mod download -json "${args[@]}" 2>/dev/null || true)"
  local missing
  missing="$(jq -r 'select(.Error != null) | .Path' <<<"$dl")"

  {
    echo "// Generated by toolchain/kubernetes.sh: builds k8s.io/kubernetes/cmd/{${K8S_CMDS[*]}} at v$v."
    echo "module bizra.local/k8s-toolchain/kubernetes"
    echo
    echo "go ${goline:-1.24}"
    echo
    echo "require k8s.io/kubernetes v$v"
    echo
    for m in "${K8S_CMDS[@]}"; do echo "tool k8s.io/kubernetes/cmd/$m"; done
    echo
    echo "replace ("
    for m in "${staging[@]}"; do
      if grep -qxF "$m" <<<"$missing"; then
        local stub="stubs/${m#k8s.io/}"
        mkdir -p "$src/$stub"
        printf 'module %s\n\ngo 1.24\n' "$m" >"$src/$stub/go.mod"
        printf '\t%s => ./%s\n' "$m" "$stub"
        log "  $m@v$staging_v not served by the proxy: using an empty stub (no built command imports it)"
      else
        printf '\t%s => %s v%s\n' "$m" "$m" "$staging_v"
      fi
    done
    echo ")"
  } >"$src/go.mod"

  log "kubernetes v$v: resolving modules (go mod tidy; the first run downloads a few hundred MB)"
  (cd "$src" && run_logged "resolving kubernetes modules" gocmd mod tidy)

  # Same version stamping as kubernetes' hack/lib/version.sh, so clients see a valid server version.
  local ld="-s -w" pkg
  local date
  date="$(sed 's/\.[0-9]*Z$/Z/' <<<"${modtime:-1970-01-01T00:00:00Z}")"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  # One `go build` of all commands: packages they share (most of k8s.io/kubernetes/pkg) compile once.
  local pkgs=() tmp="$K8S_DIR/bin.tmp"
  for m in "${K8S_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$m"); done
  rm -rf "$tmp" && mkdir -p "$tmp"
  log "kubernetes v$v: compiling ${K8S_CMDS[*]} (nice $NICE; slow when cold: docs/cluster.md has measured times)"
  (cd "$src" && run_logged "compiling kubernetes" gocmd build -trimpath -ldflags "$ld" -o "$tmp/" "${pkgs[@]}")
  for m in "${K8S_CMDS[@]}"; do
    mv -f "$tmp/$m" "$(k8s_bin "$m")"
    stamp_text "$m" "$v" >"$(k8s_bin "$m").stamp"
  done
  rmdir "$tmp"
  "$APISERVER_BIN" --version | sed 's/^/    /' >&2
}

all_k8s_current() { local c; for c in "${K8S_CMDS[@]}"; do is_current "$(k8s_bin "$c")" "$c" "$K8S_VERSION" || return 1; done; }
all_k8s_from_cache() {
  local c
  for c in "${K8S_CMDS[@]}"; do
    [[ "$CACHE" != "off" && $force -eq 0 ]] && is_current "$CACHE/$c-v$K8S_VERSION/$c" "$c" "$K8S_VERSION" || return 1
  done
  for c in "${K8S_CMDS[@]}"; do from_cache "$(k8s_bin "$c")" "$c" "$K8S_VERSION"; done
}

if [[ $force -eq 0 ]] && is_current "$ETCD_BIN" etcd "$ETCD_VERSION"; then
  log "etcd v$ETCD_VERSION: up to date ($ETCD_BIN)"
elif ! from_cache "$ETCD_BIN" etcd "$ETCD_VERSION"; then
  build_etcd
  to_cache "$ETCD_BIN" etcd "$ETCD_VERSION"
fi

if [[ $force -eq 0 ]] && is_current "$COREDNS_BIN" coredns "$COREDNS_VERSION"; then
  log "coredns v$COREDNS_VERSION: up to date ($COREDNS_BIN)"
elif ! from_cache "$COREDNS_BIN" coredns "$COREDNS_VERSION"; then
  build_coredns
  to_cache "$COREDNS_BIN" coredns "$COREDNS_VERSION"
fi

if [[ $force -eq 0 ]] && all_k8s_current; then
  log "kubernetes v$K8S_VERSION: up to date ($K8S_DIR/bin: ${K8S_CMDS[*]})"
elif ! all_k8s_from_cache; then
  build_k8s
  for c in "${K8S_CMDS[@]}"; do to_cache "$(k8s_bin "$c")" "$c" "$K8S_VERSION"; done
fi

log "done"
print_paths
