# shellcheck shell=bash
# Shared by the kubelet benchmarks (pods.sh, streaming.sh): a private registry with the
# busybox test image and a release `rkube server` WITH its agent, both in a temporary
# directory, all removed again on exit (server stopped, `rkube killall`, registry stopped).
# Source it after hack/lib.sh, then call `agent_up`. It sets:
#
#   BENCH_DIR       the temporary directory (under ${RKUBE_BENCH_DIR:-/var/tmp})
#   RKUBE           the release rkube binary
#   KUBECONFIG      the admin kubeconfig the server wrote (exported)
#   RKUBE_PID       the server's pid
#   REGISTRY_ADDR   127.0.0.1:PORT of the registry
#   NODE_NAME, POD_BRIDGE, KUBELET_PORT
#
# Names and ports are unique per run (like test/e2e's Cluster::start_with_agent), so a
# benchmark can run next to the e2e tests on one machine.

# The drivers import hack/bench/stats.py: no __pycache__ in the tree.
export PYTHONDONTWRITEBYTECODE=1

KUBECTL_127=/usr/lib/google-cloud-sdk/bin/kubectl.1.27
KUBECTL_133=/usr/lib/google-cloud-sdk/bin/kubectl.1.33

# shellcheck disable=SC2317 # called by the EXIT trap
agent_cleanup() {
    local rc=$?
    set +e
    if [[ -n "${RKUBE_PID:-}" ]] && kill -0 "$RKUBE_PID" 2>/dev/null; then
        kill -TERM "$RKUBE_PID"
        if ! wait_until 30 agent_server_gone; then
            log "rkube server (pid $RKUBE_PID) still running after 30s; sending KILL"
            kill -KILL "$RKUBE_PID"
        fi
        wait "$RKUBE_PID" 2>/dev/null
    fi
    if [[ -n "${BENCH_DIR:-}" && -n "${POD_BRIDGE:-}" && -x "${RKUBE:-}" ]]; then
        "$RKUBE" killall --data-dir "$BENCH_DIR/data" --pod-bridge "$POD_BRIDGE" >&2 ||
            log "warning: rkube killall failed"
    fi
    if [[ -n "${BENCH_DIR:-}" ]]; then
        "$RKUBE_ROOT/hack/registry.sh" stop "$BENCH_DIR/registry"
        if [[ -n "${BENCH_KEEP:-}" ]]; then
            log "kept $BENCH_DIR (BENCH_KEEP set)"
        else
            rm -rf "$BENCH_DIR"
        fi
    fi
    exit "$rc"
}

agent_server_gone() {
    ! kill -0 "$RKUBE_PID" 2>/dev/null
}

agent_ready() {
    "$KUBECTL_133" --request-timeout 5s get --raw /readyz
}

agent_node_ready() {
    [[ "$("$KUBECTL_133" get node "$NODE_NAME" \
        -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

agent_default_sa() {
    "$KUBECTL_133" get serviceaccount default -n default
}

# agent_up: builds rkube (release) unless RKUBE_BIN is given, starts the registry and the
# server with its agent, and waits until the node is Ready.
agent_up() {
    need_apt build-essential pkg-config protobuf-compiler libprotobuf-dev docker-registry skopeo umoci \
        busybox-static curl python3 nftables iproute2
    # As hack/test.sh: pip's client, Debian's where pip cannot install.
    python3 -c 'import kubernetes' >/dev/null 2>&1 ||
        python3 -m pip install --quiet kubernetes || need_apt python3-kubernetes
    [[ -x "$KUBECTL_127" && -x "$KUBECTL_133" ]] ||
        die "kubectl 1.27 and 1.33 are missing (hack/install.sh installs the kubectl package)"

    if [[ -n "${RKUBE_BIN:-}" ]]; then
        RKUBE=$RKUBE_BIN
    else
        ensure_cargo
        section "build rkube (release)"
        cargo build --release -p rkube
        RKUBE="${CARGO_TARGET_DIR:-$RKUBE_ROOT/target}/release/rkube"
    fi

    local base="${RKUBE_BENCH_DIR:-/var/tmp}"
    mkdir -p "$base"
    BENCH_DIR="$(mktemp -d "$base/rkube-bench.XXXXXX")"
    trap agent_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    log "bench directory: $BENCH_DIR ($(stat -f -c %T "$BENCH_DIR"))"

    section "registry"
    REGISTRY_ADDR="$("$RKUBE_ROOT/hack/registry.sh" start "$BENCH_DIR/registry" "$(free_port)")"
    "$RKUBE_ROOT/hack/test-image.sh" "$REGISTRY_ADDR" 1.36
    printf 'mirrors:\n  docker.io:\n    endpoint:\n      - "http://%s"\n' "$REGISTRY_ADDR" \
        >"$BENCH_DIR/registries.yaml"

    section "rkube server with agent"
    local port
    port="$(free_port)"
    KUBELET_PORT="$(free_port)"
    NODE_NAME="bench-$KUBELET_PORT"
    POD_BRIDGE="rkb$KUBELET_PORT"
    KUBECONFIG="$BENCH_DIR/kubeconfig.yaml"
    export KUBECONFIG
    "$RKUBE" server --data-dir "$BENCH_DIR/data" \
        --bind-address 127.0.0.1 --https-listen-port "$port" \
        --write-kubeconfig "$KUBECONFIG" --log-format json \
        --node-name "$NODE_NAME" --node-ip 127.0.0.1 --kubelet-port "$KUBELET_PORT" \
        --pod-bridge "$POD_BRIDGE" --cluster-cidr "10.$((100 + KUBELET_PORT % 100)).0.0/16" \
        --private-registry "$BENCH_DIR/registries.yaml" \
        </dev/null >/dev/null 2>"$BENCH_DIR/server.log" &
    RKUBE_PID=$!
    wait_until 60 agent_ready || {
        tail -n 30 "$BENCH_DIR/server.log" >&2
        die "rkube server not ready in 60s"
    }
    wait_until 60 agent_node_ready || die "node $NODE_NAME not Ready in 60s"
    wait_until 60 agent_default_sa || die "no default ServiceAccount in 60s"
    log "server pid $RKUBE_PID on 127.0.0.1:$port; node $NODE_NAME Ready (kubelet :$KUBELET_PORT, bridge $POD_BRIDGE)"
}
