#!/usr/bin/env bash
# The one-command cluster: installs build dependencies, builds and installs
# rkube (hack/install.sh), then runs `rkube server` (control plane + agent) in
# the foreground. Extra arguments go to `rkube server`, e.g.:
#
#   hack/up.sh --data-dir /tmp/rkube --https-listen-port 7443
#   hack/up.sh --datastore-endpoint http://127.0.0.1:2379
#   hack/up.sh --config /etc/rkube/config.yaml
#
# Machines without internet access can't pull images from Docker Hub, so unless
# --private-registry is given (or RKUBE_LOCAL_REGISTRY=0), this also starts a
# local OCI registry on 127.0.0.1:5000 (Debian's docker-registry, storage in
# /var/lib/rkube-registry) holding busybox:1.36 built from busybox-static, and
# points the docker.io mirror at it: `kubectl run x --image=busybox:1.36` works
# offline. Images missing from it are still pulled from their registry.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$RKUBE_ROOT/hack/install.sh"

INSTALL_PATH=${RKUBE_INSTALL_PATH:-/usr/local/bin/rkube}
args=("$@")

if [[ "${RKUBE_LOCAL_REGISTRY:-1}" != 0 && " $* " != *" --private-registry "* ]]; then
    section "local registry (docker.io mirror) on 127.0.0.1:5000"
    need_apt docker-registry skopeo umoci busybox-static
    reg_dir=/var/lib/rkube-registry
    if ! curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:5000/v2/; then
        as_root "$RKUBE_ROOT/hack/registry.sh" start "$reg_dir" 5000 >/dev/null
    fi
    if ! curl -fsS -o /dev/null --max-time 5 http://127.0.0.1:5000/v2/library/busybox/manifests/1.36 \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json'; then
        "$RKUBE_ROOT/hack/test-image.sh" 127.0.0.1:5000 1.36 >/dev/null
    fi
    as_root mkdir -p /etc/rkube
    as_root tee /etc/rkube/registries.yaml >/dev/null <<'YAML'
# Written by hack/up.sh: Docker Hub images are looked up in the local registry first.
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000"]
YAML
    args+=(--private-registry /etc/rkube/registries.yaml)
    log "busybox:1.36 is served by the local registry (stop it: hack/registry.sh stop $reg_dir)"
fi

section "rkube server ${args[*]}"
log "kubeconfig: /etc/rkube/rkube.yaml (unless --write-kubeconfig says otherwise); stop with Ctrl-C"
log "then, in another shell: export KUBECONFIG=/etc/rkube/rkube.yaml; kubectl get nodes"
log "containers keep running after the server stops (as k3s); 'rkube killall' removes them"
if [[ "$(id -u)" -eq 0 ]]; then
    exec "$INSTALL_PATH" server "${args[@]}"
fi
command -v sudo >/dev/null 2>&1 || die "rkube server needs root (it writes /var/lib/rkube and /etc/rkube)"
exec sudo "$INSTALL_PATH" server "${args[@]}"
