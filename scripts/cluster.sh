#!/usr/bin/env bash
# A single-node Kubernetes cluster built from source, inside a network namespace of its own.
#
#   scripts/cluster.sh up        start it (refused if one runs or a port is taken); prints the kubeconfig at the end
#   scripts/cluster.sh down      stop it: no process, mount or network namespace of it is left
#   scripts/cluster.sh status    exit 0 if it runs (and say what runs), 3 if not
#   scripts/cluster.sh env       KEY=VALUE lines: NETNS, KUBECONFIG, KUBECTL, CTR, STATE, LOGS, NODE_IP, ...
#   scripts/cluster.sh exec CMD  run CMD inside the namespace with KUBECONFIG set (e.g. `exec kubectl get pods -A`)
#   scripts/cluster.sh import-image ARCHIVE NAME   import an OCI archive into the node's containerd as NAME
#
# What runs (all inside network namespace $NETNS; nothing listens outside it, pod addresses exist only in it):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy (iptables), kubelet (built by
# toolchain/kubernetes.sh from the same k8s.io/kubernetes version), CoreDNS as the cluster DNS (same script),
# containerd + runc + the CNI bridge plugin (Debian packages). State, certificates and the logs of every component live in $STATE (.cluster/ in the repo, git-ignored).
# Ctrl-C during `up` tears everything down again. See docs/cluster.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${BIZRA_CLUSTER_DIR:-$ROOT/.cluster}"
NETNS="${BIZRA_CLUSTER_NETNS:-bizra-cluster}"
NODE_NAME=bizra-node
# The node's address: one end of a veth pair inside the namespace (the kubelet refuses a loopback node IP, and the
# kernel here has no dummy links). Both ends stay in the namespace.
NODE_IP=10.200.0.1
NODE_CIDR=10.200.0.0/24
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/24
KUBERNETES_SERVICE_IP=10.96.0.1
CLUSTER_DOMAIN=cluster.local
# The cluster DNS (CoreDNS) answers on the node address: pods reach it through their bridge gateway.
DNS_IP=$NODE_IP
# Ports inside the namespace (one definition; docs/cluster.md lists them).
ETCD_PORT=2379
ETCD_PEER_PORT=2380
APISERVER_PORT=6443
CONTROLLER_MANAGER_PORT=10257
SCHEDULER_PORT=10259
KUBELET_PORT=10250
KUBELET_HEALTHZ_PORT=10248
KUBE_PROXY_HEALTHZ_PORT=10256
KUBE_PROXY_METRICS_PORT=10249
DNS_PORT=53
COREDNS_HEALTH_PORT=8080
COREDNS_READY_PORT=8181
COREDNS_METRICS_PORT=9153
PORTS=("etcd:$ETCD_PORT" "etcd-peer:$ETCD_PEER_PORT" "kube-apiserver:$APISERVER_PORT"
  "kube-controller-manager:$CONTROLLER_MANAGER_PORT" "kube-scheduler:$SCHEDULER_PORT" "kubelet:$KUBELET_PORT"
  "kubelet-healthz:$KUBELET_HEALTHZ_PORT" "kube-proxy-healthz:$KUBE_PROXY_HEALTHZ_PORT"
  "kube-proxy-metrics:$KUBE_PROXY_METRICS_PORT" "coredns:$DNS_PORT" "coredns-health:$COREDNS_HEALTH_PORT"
  "coredns-ready:$COREDNS_READY_PORT" "coredns-metrics:$COREDNS_METRICS_PORT")
# Every component this script starts, in start order (pid files, liveness checks, status).
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler coredns containerd kube-proxy kubelet)
PAUSE_IMAGE=docker.io/local/pause:bizra
READY_TIMEOUT="${BIZRA_CLUSTER_READY_TIMEOUT:-180}"

LOGS="$STATE/logs"
PKI="$STATE/pki"
RUN="$STATE/run"
KUBECONFIG_FILE="$STATE/kubeconfig"
CTRD_SOCK="$RUN/containerd.sock"
NSFILE="/run/netns/$NETNS"
LOCK="$STATE.lock"

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

k8s_paths() { bash "$ROOT/toolchain/kubernetes.sh" paths; }
load_paths() {
  local out
  out="$(k8s_paths)" || die "the Kubernetes binaries are not built: run \`bash toolchain/kubernetes.sh\` (or scripts/setup.sh)"
  eval "$out"
}

in_ns() { nsenter --net="$NSFILE" -- "$@"; }

print_env() {
  load_paths
  cat <<EOF
NETNS=$NETNS
NETNS_FILE=$NSFILE
STATE=$STATE
LOGS=$LOGS
KUBECONFIG=$KUBECONFIG_FILE
KUBECTL=$KUBECTL_BIN
CTR_ADDRESS=$CTRD_SOCK
NODE_NAME=$NODE_NAME
NODE_IP=$NODE_IP
POD_CIDR=$POD_CIDR
SERVICE_CIDR=$SERVICE_CIDR
CLUSTER_DOMAIN=$CLUSTER_DOMAIN
DNS_IP=$DNS_IP
DNS_PORT=$DNS_PORT
COREDNS=$COREDNS_BIN
APISERVER_URL=https://$NODE_IP:$APISERVER_PORT
PAUSE_IMAGE=$PAUSE_IMAGE
EOF
}

running() { [[ -e "$NSFILE" && -f "$RUN/up" ]]; }

# How to call this script for this cluster: with the settings that select it when they are not the defaults.
self_cmd() {
  local pre=""
  [[ -n "${BIZRA_CLUSTER_NETNS:-}" ]] && pre+="BIZRA_CLUSTER_NETNS=$NETNS "
  [[ -n "${BIZRA_CLUSTER_DIR:-}" ]] && pre+="BIZRA_CLUSTER_DIR=$STATE "
  echo "${pre}scripts/cluster.sh"
}

# ------------------------------------------------------------------------------------------------ teardown
# Processes are found by id only: the pid files this script wrote, and the processes whose network namespace is
# ours or one of the pod namespaces our containerd created (containerd's shims and the containers themselves).
netns_inode() { stat -L -c %i "$1" 2>/dev/null || true; }
pids_in_netns() { # INODE -> pids whose network namespace has that inode
  local ino=$1 p
  [[ -n "$ino" ]] || return 0
  for p in /proc/[0-9]*; do
    [[ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" == "$ino" ]] && echo "${p#/proc/}"
  done
  return 0
}
stop_pidfile() { # NAME
  local f="$RUN/$1.pid" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
pod_netns_files() { # the pod network namespaces our containerd created (the CRI records them in its metadata db)
  local db="$STATE/containerd/root/io.containerd.metadata.v1.bolt/meta.db"
  [[ -f "$db" ]] || return 0
  grep -aoE '/var/run/netns/cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' "$db" 2>/dev/null |
    sed 's#^/var/run#/run#' | sort -u
}
teardown() {
  log "stopping (kubelet, kube-proxy, CoreDNS, scheduler, controller-manager, pods, containerd, apiserver, etcd)"
  stop_pidfile kubelet
  stop_pidfile kube-proxy
  stop_pidfile coredns
  stop_pidfile kube-scheduler
  stop_pidfile kube-controller-manager
  local pod_ns=()
  mapfile -t pod_ns < <(pod_netns_files)
  if [[ -S "$CTRD_SOCK" ]] && command -v ctr >/dev/null; then
    local t
    for t in $(ctr -a "$CTRD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$CTRD_SOCK" -n k8s.io tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1 || true
    done
    sleep 1
    for t in $(ctr -a "$CTRD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$CTRD_SOCK" -n k8s.io tasks rm -f "$t" >/dev/null 2>&1 || true
    done
    for t in $(ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q 2>/dev/null); do
      ctr -a "$CTRD_SOCK" -n k8s.io containers rm "$t" >/dev/null 2>&1 || true
      # The CNI plugins' result cache is machine-wide (/var/lib/cni); the pods were killed without a CNI DEL, so their
      # entries (named after the sandbox id) go here.
      rm -f /var/lib/cni/results/*-"$t"-* 2>/dev/null || true
    done
  fi
  stop_pidfile containerd
  # Whatever still lives in a pod namespace or in ours (containerd shims, container processes) is ours.
  local ns ino pid
  for ns in "${pod_ns[@]}" "$NSFILE"; do
    ino="$(netns_inode "$ns")"
    for pid in $(pids_in_netns "$ino"); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  stop_pidfile kube-apiserver
  stop_pidfile etcd
  sleep 0.5
  # Mounts under the state folder (container root filesystems, pod shm, kubelet volumes), deepest first.
  local m
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(awk -v s="$STATE/" 'index($5, s) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  for ns in "${pod_ns[@]}"; do
    [[ -e "$ns" ]] && { umount "$ns" 2>/dev/null || true; rm -f "$ns"; }
  done
  if [[ -e "$NSFILE" ]]; then ip netns delete "$NETNS" 2>/dev/null || { umount "$NSFILE" 2>/dev/null; rm -f "$NSFILE"; }; fi
  rm -f "$RUN/up"
  # Pod data (container layers, kubelet volumes) goes with the cluster; logs stay for reading.
  rm -rf "$STATE/containerd" "$STATE/kubelet" "$STATE/kubelet-pod-logs" "$STATE/cni/ipam" "$STATE/etcd" "$RUN"
  log "stopped; logs kept in $LOGS"
}

# -------------------------------------------------------------------------------------------------- pieces
make_pki() {
  mkdir -p "$PKI"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  (
    cd "$PKI"
    if [[ ! -f ca.crt ]]; then
      log "certificates (throw-away CA in $PKI)"
      rm -f ./*.crt ./*.key ./*.pub
      openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 30 -subj /CN=bizra-cluster-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    fi
    leaf() { # NAME SUBJECT EKU [SAN]: made when missing, so a state folder from an older start gains new ones
      [[ -f "$1.crt" && -f "$1.key" ]] && return 0
      local ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$3"
      [[ -n "${4:-}" ]] && ext+=$'\n'"subjectAltName=$4"
      printf '%s\n' "$ext" >"$1.ext"
      openssl req -new "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 30 -sha256 \
        -extfile "$1.ext" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    leaf apiserver /CN=kube-apiserver serverAuth \
      "IP:$NODE_IP,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
    leaf admin /O=system:masters/CN=bizra-admin clientAuth
    leaf apiserver-kubelet-client /O=system:masters/CN=kube-apiserver-kubelet-client clientAuth
    leaf kube-controller-manager /CN=system:kube-controller-manager clientAuth
    leaf kube-scheduler /CN=system:kube-scheduler clientAuth
    leaf kube-proxy /CN=system:kube-proxy clientAuth
    leaf coredns /CN=system:coredns clientAuth
    leaf kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
    leaf kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
    if [[ ! -f sa.key ]]; then
      openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out sa.key 2>/dev/null
      openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    fi
    chmod 600 ./*.key
  )
}

kubeconfig() { # USER-CERT-NAME FILE
  local ca crt key
  ca="$(base64 -w0 "$PKI/ca.crt")"; crt="$(base64 -w0 "$PKI/$1.crt")"; key="$(base64 -w0 "$PKI/$1.key")"
  cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: bizra
  cluster:
    server: https://$NODE_IP:$APISERVER_PORT
    certificate-authority-data: $ca
users:
- name: $1
  user:
    client-certificate-data: $crt
    client-key-data: $key
contexts:
- name: bizra
  context: {cluster: bizra, user: $1}
current-context: bizra
EOF
  chmod 600 "$2"
}

make_netns() {
  log "network namespace $NETNS (node address $NODE_IP on a veth pair inside it)"
  ip netns add "$NETNS"
  in_ns ip link set lo up
  in_ns ip link add bz-node type veth peer name bz-peer
  in_ns ip addr add "$NODE_IP/24" dev bz-node
  in_ns ip link set bz-node up
  in_ns ip link set bz-peer up
  # Service addresses are routed to the node link so that kube-proxy's NAT rules see them; nothing leaves.
  in_ns ip route add "$SERVICE_CIDR" dev bz-node
  in_ns sysctl -qw net.ipv4.ip_forward=1
  in_ns sysctl -qw net.ipv4.conf.all.route_localnet=1
}

# Start NAME with its output in $LOGS/NAME.log, inside the namespace, in a session of its own (so a Ctrl-C of the
# terminal reaches this script, which then tears everything down in order).
start() { # NAME CMD...
  local name=$1; shift
  setsid nsenter --net="$NSFILE" -- "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 8>&- &
  echo $! >"$RUN/$name.pid"
}

wait_for() { # WHAT TIMEOUT CMD...
  local what=$1 timeout=$2 t0=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - t0 > timeout )); then die "$what not ready after ${timeout}s (logs: $LOGS)"; fi
    local name
    for name in "${COMPONENTS[@]}"; do
      [[ -f "$RUN/$name.pid" ]] || continue
      kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null ||
        die "$name exited while waiting for $what; last lines of $LOGS/$name.log:
$(tail -n 20 "$LOGS/$name.log")"
    done
    sleep 1
  done
  log "$what ready ($((SECONDS - t0))s)"
}

port_user() { # PORT -> the ss line of a TCP listener or bound UDP socket on PORT inside the namespace, empty if free
  in_ns ss -Hlntup "sport = :$1" 2>/dev/null | head -1
}

write_containerd_config() {
  local c="$STATE/containerd/config.toml"
  mkdir -p "$STATE/containerd/root" "$STATE/containerd/state" "$STATE/containerd/opt" "$STATE/cni/net.d"
  containerd config default >"$c.default"
  # The settings docs/cluster.md explains: own root/state/socket, cgroupfs, Debian's CNI path, our CNI config,
  # OOM-score and AppArmor switches this machine kind needs, a pause image imported locally.
  sed -e "s#^root = .*#root = \"$STATE/containerd/root\"#" \
      -e "s#^state = .*#state = \"$STATE/containerd/state\"#" \
      -e "/^\[grpc\]/,/^\[/ s#^  address = .*#  address = \"$CTRD_SOCK\"#" \
      -e "/^\[ttrpc\]/,/^\[/ s#^  address = .*#  address = \"\"#" \
      -e "s#SystemdCgroup = .*#SystemdCgroup = false#" \
      -e "s#bin_dir = .*#bin_dir = \"/usr/lib/cni\"#" \
      -e "s#^      conf_dir = .*#      conf_dir = \"$STATE/cni/net.d\"#" \
      -e "s#restrict_oom_score_adj = .*#restrict_oom_score_adj = true#" \
      -e "s#disable_apparmor = .*#disable_apparmor = true#" \
      -e "s#sandbox_image = .*#sandbox_image = \"$PAUSE_IMAGE\"#" \
      -e "s#path = \"/opt/containerd\"#path = \"$STATE/containerd/opt\"#" \
      "$c.default" >"$c"
  rm -f "$c.default"
  grep -q "address = \"$CTRD_SOCK\"" "$c" || die "could not set the containerd socket in $c"
  cat >"$STATE/cni/net.d/10-bizra-bridge.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "bizra-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "bz-cni0",
      "isGateway": true,
      "isDefaultGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR" }]], "dataDir": "$STATE/cni/ipam" }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

# The cluster DNS: CoreDNS, a process in the namespace like the other components, answering on $DNS_IP:$DNS_PORT.
# cluster.local and the reverse zones come from the API (the kubernetes plugin, with its own client certificate and
# the RBAC below); every other name gets NXDOMAIN at once, since nothing outside may be asked.
write_corefile() {
  cat >"$RUN/Corefile" <<EOF
# Written by scripts/cluster.sh at each start (docs/cluster.md, "Cluster DNS").
$CLUSTER_DOMAIN:$DNS_PORT in-addr.arpa:$DNS_PORT ip6.arpa:$DNS_PORT {
    bind $DNS_IP
    errors
    log
    health 127.0.0.1:$COREDNS_HEALTH_PORT
    ready 127.0.0.1:$COREDNS_READY_PORT
    prometheus 127.0.0.1:$COREDNS_METRICS_PORT
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $RUN/coredns.kubeconfig bizra
        pods insecure
    }
    cache 30
    loadbalance
}
.:$DNS_PORT {
    bind $DNS_IP
    errors
    log
    prometheus 127.0.0.1:$COREDNS_METRICS_PORT
    template ANY ANY {
        rcode NXDOMAIN
    }
}
EOF
}

# What CoreDNS's kubernetes plugin lists and watches (the ClusterRole of CoreDNS's own Kubernetes deployment).
apply_dns_rbac() {
  in_ns "$KUBECTL_BIN" --kubeconfig "$KUBECONFIG_FILE" apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:coredns
  labels: {app.kubernetes.io/managed-by: bizra-cluster-sh}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:coredns
  labels: {app.kubernetes.io/managed-by: bizra-cluster-sh}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: system:coredns}
EOF
}

import_image() { # ARCHIVE NAME: an OCI archive whose ref annotation is NAME (fully qualified, docker.io/local/x:tag)
  local archive=$1 name=$2 ref digest
  [[ -f "$archive" ]] || die "import-image: no such archive: $archive"
  [[ "$name" == */*/*:* ]] || die "import-image: NAME must be fully qualified with a tag (docker.io/local/NAME:TAG), got '$name'"
  ctr -a "$CTRD_SOCK" -n k8s.io images import "$archive" >/dev/null
  # ctr import also adds import-<date>... names; the CRI image cache would map the image to one of them (sandbox
  # creation then fails with NotFound), so they go. The CRI's own sha256:<id> records stay.
  for ref in $(ctr -a "$CTRD_SOCK" -n k8s.io images ls -q); do
    [[ "$ref" == import-* ]] && ctr -a "$CTRD_SOCK" -n k8s.io images rm "$ref" >/dev/null 2>&1
  done
  digest="$(ctr -a "$CTRD_SOCK" -n k8s.io images ls "name==$name" | awk 'NR==2 {print $3}')"
  [[ "$digest" == sha256:* ]] || die "import-image: $archive did not give an image named $name"
  # Pod specs pin the digest (NAME-without-tag@sha256:...); with that name present the kubelet finds the image
  # locally (imagePullPolicy IfNotPresent; no registry is reachable from the namespace).
  ctr -a "$CTRD_SOCK" -n k8s.io images rm "${name%:*}@$digest" >/dev/null 2>&1 || true
  ctr -a "$CTRD_SOCK" -n k8s.io images tag "$name" "${name%:*}@$digest" >/dev/null
  log "imported $archive as $name and ${name%:*}@$digest"
}

# ------------------------------------------------------------------------------------------------------ up
cmd_up() {
  load_paths
  [[ -x "$COREDNS_BIN" ]] || die "CoreDNS is not built: run \`bash toolchain/kubernetes.sh\` (or scripts/setup.sh)"
  for b in containerd runc ctr openssl nsenter ip ss iptables; do
    command -v "$b" >/dev/null || die "$b is not installed (scripts/setup.sh installs the Debian packages containerd, runc, containernetworking-plugins)"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] ||
    die "the CNI plugins are missing in /usr/lib/cni (Debian package containernetworking-plugins)"
  mkdir -p "$STATE"
  exec 8>"$LOCK"
  flock -n 8 || die "another cluster.sh holds $LOCK (a start or stop is under way)"
  if running; then
    die "a cluster is already running (namespace $NETNS, state $STATE); stop it with \`$(self_cmd) down\`"
  fi
  if [[ -e "$NSFILE" ]]; then
    die "network namespace $NETNS exists but no cluster of this checkout runs in it: another checkout's cluster? Stop that one first, or set BIZRA_CLUSTER_NETNS"
  fi
  local image_archive="$ROOT/.toolchain/images/pause.oci.tar"
  [[ -f "$image_archive" ]] || bash "$ROOT/scripts/images.sh" pause ||
    die "could not build the pause image (scripts/images.sh pause)"

  trap 'log "interrupted"; exit 130' INT TERM
  trap 'rc=$?; if [[ $rc -ne 0 ]]; then log "start failed: tearing down"; teardown; fi' EXIT
  mkdir -p "$LOGS" "$RUN" "$STATE/etcd" "$STATE/kubelet"
  : >"$LOGS/.started"
  for f in "$LOGS"/*.log; do [[ -f "$f" ]] && mv -f "$f" "$f.previous"; done
  make_pki
  make_netns
  local p name port user
  for p in "${PORTS[@]}"; do
    name=${p%%:*}; port=${p##*:}
    user="$(port_user "$port")"
    [[ -z "$user" ]] || die "port $port (for $name) is already in use in namespace $NETNS: $user"
  done
  kubeconfig admin "$KUBECONFIG_FILE"
  kubeconfig kube-controller-manager "$RUN/controller-manager.kubeconfig"
  kubeconfig kube-scheduler "$RUN/scheduler.kubeconfig"
  kubeconfig kube-proxy "$RUN/kube-proxy.kubeconfig"
  kubeconfig kubelet "$RUN/kubelet.kubeconfig"
  kubeconfig coredns "$RUN/coredns.kubeconfig"

  log "etcd on 127.0.0.1:$ETCD_PORT"
  start etcd "$ETCD_BIN" --name bizra --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "bizra=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn
  wait_for etcd 60 in_ns curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  log "kube-apiserver on $NODE_IP:$APISERVER_PORT"
  start kube-apiserver "$KUBE_APISERVER_BIN" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$NODE_IP" --secure-port "$APISERVER_PORT" --advertise-address "$NODE_IP" \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true --kubelet-preferred-address-types InternalIP \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --profiling=false --v=1
  wait_for kube-apiserver 120 in_ns curl -sf --cacert "$PKI/ca.crt" "https://$NODE_IP:$APISERVER_PORT/readyz"

  log "kube-controller-manager, kube-scheduler (127.0.0.1:$CONTROLLER_MANAGER_PORT, :$SCHEDULER_PORT)"
  start kube-controller-manager "$KUBE_CONTROLLER_MANAGER_BIN" --kubeconfig "$RUN/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$RUN/controller-manager.kubeconfig" --authorization-kubeconfig "$RUN/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" --leader-elect=false \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --use-service-account-credentials=true --controllers '*,-nodeipam' --service-cluster-ip-range "$SERVICE_CIDR" \
    --profiling=false --v=1
  start kube-scheduler "$KUBE_SCHEDULER_BIN" --kubeconfig "$RUN/scheduler.kubeconfig" \
    --authentication-kubeconfig "$RUN/scheduler.kubeconfig" --authorization-kubeconfig "$RUN/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false --profiling=false --v=1

  log "CoreDNS on $DNS_IP:$DNS_PORT (udp, tcp) for $CLUSTER_DOMAIN"
  apply_dns_rbac
  write_corefile
  start coredns "$COREDNS_BIN" -conf "$RUN/Corefile"

  log "containerd ($CTRD_SOCK)"
  write_containerd_config
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for containerd 60 ctr -a "$CTRD_SOCK" version
  import_image "$image_archive" "$PAUSE_IMAGE"
  local img
  for img in "$ROOT"/.toolchain/images/import/*.oci.tar; do
    [[ -f "$img" && -f "$img.name" ]] && import_image "$img" "$(cat "$img.name")"
  done

  log "kube-proxy (iptables) and kubelet ($NODE_IP:$KUBELET_PORT)"
  cat >"$RUN/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $RUN/kube-proxy.kubeconfig}
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start kube-proxy "$KUBE_PROXY_BIN" --config "$RUN/kube-proxy.yaml" --v=1
  cat >"$RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
localStorageCapacityIsolation: false
containerRuntimeEndpoint: unix://$CTRD_SOCK
podCIDR: $POD_CIDR
resolvConf: $RUN/resolv.conf
clusterDomain: $CLUSTER_DOMAIN
clusterDNS: [$DNS_IP]
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
registerNode: true
podLogsDir: $STATE/kubelet-pod-logs
EOF
  # The node's own resolver list, which pods with dnsPolicy Default get (and ClusterFirst pods' search list extends):
  # empty, since no server outside the namespace may be asked. ClusterFirst pods get $DNS_IP (clusterDNS above).
  : >"$RUN/resolv.conf"
  start kubelet "$KUBELET_BIN" --config "$RUN/kubelet.yaml" --kubeconfig "$RUN/kubelet.kubeconfig" \
    --root-dir "$STATE/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=1
  wait_for "node $NODE_NAME Ready" "$READY_TIMEOUT" in_ns "$KUBECTL_BIN" --kubeconfig "$KUBECONFIG_FILE" \
    wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  wait_for "default service account" 60 in_ns "$KUBECTL_BIN" --kubeconfig "$KUBECONFIG_FILE" get serviceaccount default
  wait_for "cluster DNS (CoreDNS synced with the API)" 60 in_ns curl -sf "http://127.0.0.1:$COREDNS_READY_PORT/ready"
  touch "$RUN/up"
  trap - INT TERM EXIT
  log "up: logs in $LOGS; stop with \`$(self_cmd) down\`"
  log "look at it: $(self_cmd) exec kubectl get pods -A   (runs $KUBECTL_BIN inside $NETNS)"
  log "kubeconfig ($KUBECONFIG_FILE; the API server is reachable only inside namespace $NETNS):"
  cat "$KUBECONFIG_FILE"
}

cmd_down() {
  mkdir -p "$STATE"
  exec 8>"$LOCK"
  flock -w 60 8 || die "another cluster.sh holds $LOCK"
  if [[ ! -e "$NSFILE" && ! -d "$RUN" ]]; then log "no cluster runs (namespace $NETNS absent)"; return 0; fi
  teardown
}

cmd_status() {
  if running; then
    local n
    for n in "${COMPONENTS[@]}"; do
      if [[ -f "$RUN/$n.pid" ]] && kill -0 "$(cat "$RUN/$n.pid")" 2>/dev/null; then
        echo "$n: running (pid $(cat "$RUN/$n.pid"))"
      else
        echo "$n: NOT running (log: $LOGS/$n.log)"
      fi
    done
    return 0
  fi
  echo "no cluster runs (namespace $NETNS)"
  return 3
}

cmd_exec() {
  running || die "no cluster runs: start one with \`npm run cluster:up\`"
  load_paths
  [[ $# -gt 0 ]] || die "exec: give a command, e.g. \`scripts/cluster.sh exec kubectl get pods -A\`"
  local cmd=$1; shift
  case "$cmd" in
    kubectl) cmd="$KUBECTL_BIN" ;;
    ctr|crictl) set -- -a "$CTRD_SOCK" -n k8s.io "$@" ;;
  esac
  KUBECONFIG="$KUBECONFIG_FILE" exec nsenter --net="$NSFILE" -- "$cmd" "$@"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down ;;
  status) cmd_status ;;
  env) print_env ;;
  exec) shift; cmd_exec "$@" ;;
  import-image)
    shift; [[ $# -eq 2 ]] || die "usage: scripts/cluster.sh import-image ARCHIVE NAME"
    running || die "no cluster runs"; import_image "$@" ;;
  -h|--help|"") sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; [[ -n "${1:-}" ]] ;;
  *) die "unknown command '$1' (up, down, status, env, exec, import-image)" ;;
esac
