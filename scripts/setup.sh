#!/usr/bin/env bash
# Installs everything the tests need, from the project's own files only. Idempotent: a second run takes seconds.
#   bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

step "npm ci (Pulumi program, tests, and the local packages node-app/contract and node-app/evidence)"
npm ci --no-audit --no-fund

step "npm ci (node-app; policy packs policies/quality-gates, policies/k8s-hardening: the engine runs each pack from its own node_modules)"
for pack in node-app policies/quality-gates policies/k8s-hardening; do
  # Skipped when package-lock.json is not newer than the installed tree (npm writes node_modules/.package-lock.json).
  if [ -f "$pack/node_modules/.package-lock.json" ] && ! [ "$pack/package-lock.json" -nt "$pack/node_modules/.package-lock.json" ]; then
    echo "$pack: node_modules up to date"
  else
    npm --prefix "$pack" ci --no-audit --no-fund
  fi
done

step "native Ed25519 verifier (Rust N-API addon: node-app/native/bizra_native.node)"
# cargo build --release --locked; fetches crates from crates.io on first run, then incremental (seconds).
bash node-app/native/build.sh

step "CRD schemas for the schema tests, at pinned versions from the Go module proxy (scripts/crds.sh -> .toolchain/crds/)"
bash scripts/crds.sh

step "Python venv for schema validation (requirements.txt)"
if [ ! -x .toolchain/venv/bin/python ] || ! .toolchain/venv/bin/pip freeze 2>/dev/null | grep -qxF -f <(grep -v '^#' requirements.txt | grep .); then
  python3 -m venv .toolchain/venv
  .toolchain/venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
echo "venv ok: $(.toolchain/venv/bin/pip freeze | tr '\n' ' ')"

step "Prometheus, promtool, Alertmanager and Chromium (Debian packages) for the monitoring, alerting and report tests"
# The tests start their own Prometheus and Alertmanager on random loopback ports; packaged services on :9090/:9093
# (systemd hosts start them) do not interfere. Chromium renders the post-deploy report page headless.
missing=""
for pair in promtool:prometheus prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
if [ -z "$missing" ]; then
  echo "ok: $(promtool --version 2>&1 | head -1); $(prometheus-alertmanager --version 2>&1 | head -1); $(chromium --version 2>/dev/null)"
else
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
  # shellcheck disable=SC2086 # one word per package
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(echo $missing | tr ' ' '\n' | sort -u) fonts-dejavu-core
  echo "installed:$missing"
fi

step "Redis server (Debian package 'redis-server') for the shared-state tests of node-app"
# The tests start their own redis-server on random loopback ports (node-app/test/support/redis.ts).
if command -v redis-server >/dev/null 2>&1; then
  echo "redis ok: $(redis-server --version | head -1)"
else
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
  echo "redis installed: $(redis-server --version | head -1)"
fi

step "Debian packages for the local cluster and its images: containerd, runc, CNI plugins, buildah, skopeo, mmdebstrap, docker-registry"
CLUSTER_DEBS=(containerd runc containernetworking-plugins buildah skopeo mmdebstrap docker-registry iptables)
missing_debs=()
for deb in "${CLUSTER_DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing_debs+=("$deb")
done
if [ ${#missing_debs[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing_debs[@]}"
fi
echo "cluster packages ok: $(containerd --version | cut -d' ' -f3), runc $(runc --version | sed -n 's/^runc version //p'), buildah $(buildah --version | cut -d' ' -f3)"

step "Pulumi engine and the real Kubernetes provider (toolchain/pulumi.sh); etcd, the Kubernetes components and CoreDNS (toolchain/kubernetes.sh)"
# Both are cached under .toolchain/ and in the machine's Go caches: seconds when built, many minutes cold.
# `time` lines: the cold cost of each build step (docs/cluster.md lists the measured figures).
time bash toolchain/pulumi.sh >/dev/null
time bash toolchain/kubernetes.sh >/dev/null

step "Images for the local cluster (scripts/images.sh all: pause, Node.js base from mmdebstrap, node-app/Dockerfile by buildah)"
time bash scripts/images.sh all >/dev/null

step "Monitoring stack of the local cluster: Prometheus Operator and Prometheus from the Go module proxy, their images (docs/cluster-monitoring.md)"
# Cached by version under .toolchain/ and ~/.cache/bizra-delivery-toolchain: seconds when built; cold, 227 CPU seconds
# for the operator and its reloader and 177 for Prometheus (.toolchain/delivery-build-times.log has each build's figures).
time bash scripts/delivery-toolchain.sh build prometheus-operator prometheus >/dev/null
time bash scripts/images.sh monitoring >/dev/null

step "Supply chain: buildah and docker-registry (Debian), cosign, syft and actionlint (toolchain/supply-chain.sh) for the release tests"
# The release builds the node image with buildah (no Docker daemon) and pushes to a loopback docker-registry.
if command -v buildah >/dev/null 2>&1 && command -v docker-registry >/dev/null 2>&1; then
  echo "buildah ok: $(buildah --version); docker-registry ok"
else
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends buildah docker-registry
fi
# Built from the Go module proxy, cached by version under .toolchain/ and ~/.cache/bizra-supply-chain.
bash toolchain/supply-chain.sh >/dev/null

step "Kyverno v1.19.1: the CLI and the admission controller (scripts/delivery-toolchain.sh build kyverno) for the admission tests"
# One module and one Go build cache for both commands; cached under .toolchain/kyverno-v<version>/ and
# ~/.cache/bizra-delivery-toolchain (a fresh clone on this machine copies them in seconds).
time bash scripts/delivery-toolchain.sh build kyverno >/dev/null

step "Flagger v1.36.1: the controller and its load tester (scripts/delivery-toolchain.sh build flagger) for the canary scenarios"
# tests/cluster-canary.test.ts runs both against the local cluster; cached under .toolchain/flagger-v<version>/ and
# ~/.cache/bizra-delivery-toolchain (docs/controllers.md has the cold build's figures).
time bash scripts/delivery-toolchain.sh build flagger >/dev/null
