#!/usr/bin/env bash
# The one-command cluster: installs build dependencies, builds and installs
# rkube (hack/install.sh), then runs `rkube server` in the foreground. Extra
# arguments go to `rkube server`, e.g.:
#
#   hack/up.sh --data-dir /tmp/rkube --https-listen-port 7443
#   hack/up.sh --datastore-endpoint http://127.0.0.1:2379
#   hack/up.sh --config /etc/rkube/config.yaml
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$RKUBE_ROOT/hack/install.sh"

INSTALL_PATH=${RKUBE_INSTALL_PATH:-/usr/local/bin/rkube}
section "rkube server $*"
log "kubeconfig: /etc/rkube/rkube.yaml (unless --write-kubeconfig says otherwise); stop with Ctrl-C"
if [[ "$(id -u)" -eq 0 ]]; then
    exec "$INSTALL_PATH" server "$@"
fi
command -v sudo >/dev/null 2>&1 || die "rkube server needs root (it writes /var/lib/rkube and /etc/rkube)"
exec sudo "$INSTALL_PATH" server "$@"
