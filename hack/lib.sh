# shellcheck shell=bash
# Shared helpers for rkube's scripts. Source it; do not run it:
#
#   # shellcheck source=hack/lib.sh
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Everything here prints diagnostics on stderr only, so callers can keep stdout
# for machine-readable output (hack/etcd.sh prints just the endpoint there).

if [[ -n "${_RKUBE_LIB_SH:-}" ]]; then
    return 0
fi
_RKUBE_LIB_SH=1

# The repository root (the parent of hack/).
RKUBE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export RKUBE_ROOT

# log MESSAGE...: one line on stderr, prefixed with the calling script's name.
log() {
    printf '[%s] %s\n' "${RKUBE_LOG_PREFIX:-$(basename "$0")}" "$*" >&2
}

# die MESSAGE...: log and exit 1.
die() {
    log "error: $*"
    exit 1
}

# section TITLE: a visible header between the steps of a long script.
section() {
    printf '\n==== %s ====\n' "$*" >&2
}

# as_root CMD...: runs CMD as root (directly when already root, else via sudo).
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root for: $* (run as root or install sudo)"
    fi
}

# pkg_installed PKG: true when the Debian package PKG is installed.
pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

_RKUBE_APT_UPDATED=
# need_apt PKG...: installs only those of the Debian packages PKG... that are
# missing, running `apt-get update` once (per shell) before the first install.
need_apt() {
    local missing=() pkg
    for pkg in "$@"; do
        pkg_installed "$pkg" || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get to install them"
    if [[ -z "$_RKUBE_APT_UPDATED" ]]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 </dev/null
        _RKUBE_APT_UPDATED=1
    fi
    log "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 </dev/null
}

# ensure_cargo: puts ~/.cargo/bin on PATH when cargo is not already there, and
# fails clearly if there is still no cargo.
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
        PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
        export PATH
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install a Rust toolchain (rustup or Debian's cargo), then rerun"
}

# tcp_open HOST PORT: true when something accepts TCP connections at HOST:PORT.
tcp_open() {
    local host=$1 port=$2
    if command -v timeout >/dev/null 2>&1; then
        # shellcheck disable=SC2016 # expanded by the inner bash
        timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
    else
        (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
    fi
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
# (Another process may still take it before the caller binds it; callers that
# start servers should retry on "address already in use".)
free_port() {
    local port tries
    if command -v python3 >/dev/null 2>&1 &&
        port="$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null)" && [[ -n "$port" ]]; then
        printf '%s\n' "$port"
        return 0
    fi
    # No python3: probe random high ports with bash's /dev/tcp.
    for ((tries = 0; tries < 200; tries++)); do
        port=$((20000 + RANDOM % 30000))
        if ! tcp_open 127.0.0.1 "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    log "error: found no free port on 127.0.0.1"
    return 1
}

# wait_until DEADLINE_SECONDS CMD...: runs CMD (quietly) until it succeeds;
# returns 1 once DEADLINE_SECONDS have passed without success. The short sleep
# between polls only paces the loop; the condition is what is waited for.
wait_until() {
    local deadline=$(($(date +%s) + $1))
    shift
    while true; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if (($(date +%s) >= deadline)); then
            return 1
        fi
        sleep 0.1
    done
}

# wait_tcp HOST PORT DEADLINE_SECONDS: waits until HOST:PORT accepts TCP
# connections; returns 1 (after a log line) if it does not within the deadline.
wait_tcp() {
    local host=$1 port=$2 deadline=$3
    if ! wait_until "$deadline" tcp_open "$host" "$port"; then
        log "timed out after ${deadline}s waiting for ${host}:${port}"
        return 1
    fi
}

# pid_is PID NAME: true when process PID is alive and its command name is NAME
# (guards against signalling a recycled pid).
pid_is() {
    local pid=$1 name=$2 comm state
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
    [[ "$comm" == "$name" ]] || return 1
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)"
    [[ "$state" != "Z" ]]
}

# kubeconfig_field FIELD KUBECONFIG: the first base64 FIELD of the kubeconfig (the cluster's
# CA, the user's certificate or key), decoded.
kubeconfig_field() {
    sed -n "s/^ *$1: *//p" "$2" | head -n 1 | base64 -d
}

# node_is_ready PORT KUBECONFIG NODE: true when the API server on 127.0.0.1:PORT reports NODE
# Ready, read with the kubeconfig's client certificate.
node_is_ready() {
    local port=$1 kc=$2 node=$3
    curl -sf --max-time 5 --cacert <(kubeconfig_field certificate-authority-data "$kc") \
        --cert <(kubeconfig_field client-certificate-data "$kc") \
        --key <(kubeconfig_field client-key-data "$kc") \
        "https://127.0.0.1:$port/api/v1/nodes/$node" |
        python3 -c 'import json, sys
conds = json.load(sys.stdin).get("status", {}).get("conditions", [])
sys.exit(0 if any(c["type"] == "Ready" and c["status"] == "True" for c in conds) else 1)'
}

# stop_pid PID SECONDS: SIGTERM, SIGKILL if PID still runs after SECONDS, then reap it (a child
# of this shell). Nothing when PID is empty or gone.
stop_pid() {
    local pid=$1 secs=$2
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid"
    wait_until "$secs" pid_gone "$pid" || kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
}
pid_gone() {
    ! kill -0 "$1" 2>/dev/null
}

# server_args MODE DATA_DIR KUBECONFIG PREFIX: the arguments of an `rkube server` on a free
# loopback port (PORT), with its agent (MODE agent: node PREFIX-<port> in SERVER_NODE, pod
# bridge in SERVER_BRIDGE, a cluster CIDR of its own) or without (no-agent: both empty), in
# the array SERVER_ARGS. PREFIX names the node and, by its first letter, the bridge.
server_args() {
    local mode=$1 data=$2 kc=$3 prefix=$4 kport
    PORT="$(free_port)"
    SERVER_ARGS=(server --data-dir "$data" --bind-address 127.0.0.1 --https-listen-port "$PORT"
        --write-kubeconfig "$kc" --log-format json)
    SERVER_NODE=""
    SERVER_BRIDGE=""
    if [[ "$mode" == no-agent ]]; then
        SERVER_ARGS+=(--disable-agent)
        return
    fi
    kport="$(free_port)"
    SERVER_NODE="$prefix-$kport"
    SERVER_BRIDGE="rk${prefix:0:1}$kport"
    SERVER_ARGS+=(--node-name "$SERVER_NODE" --node-ip 127.0.0.1 --kubelet-port "$kport"
        --pod-bridge "$SERVER_BRIDGE" --cluster-cidr "10.$((100 + kport % 100)).0.0/16")
}
