#!/usr/bin/env bash
# Builds the test image (a busybox from Debian's busybox-static) and pushes it to a registry.
#
#   hack/test-image.sh REGISTRY [TAG] [ARCHIVE]
#
# Pushes REGISTRY/library/busybox:TAG (TAG defaults to 1.36) over plain HTTP, and when ARCHIVE
# is given also writes the image there as an OCI archive named docker.io/library/busybox:TAG
# (what `skopeo copy ... oci-archive:` makes), for import tests.
#
# The image: /bin/busybox with a symlink per applet in /bin, /etc/passwd and /etc/group with
# root and nobody, a 1777 /tmp; Cmd ["sh"], PATH set. One layer, linux/amd64, OCI media types.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 1 && $# -le 3 ]] || {
    echo "usage: $0 REGISTRY [TAG] [ARCHIVE]" >&2
    exit 2
}
registry=$1
tag=${2:-1.36}
archive=${3:-}

for tool in umoci skopeo; do
    command -v "$tool" >/dev/null 2>&1 || need_apt umoci skopeo
done
[[ -x /bin/busybox ]] || need_apt busybox-static

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
layout="$work/oci"
image="$layout:busybox"

umoci init --layout "$layout"
umoci new --image "$image"
umoci unpack --image "$image" "$work/bundle" >/dev/null

rootfs="$work/bundle/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root"
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
install -m 0755 /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [[ "$applet" == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
done
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"

umoci repack --image "$image" "$work/bundle"
umoci config --image "$image" --os linux --architecture amd64 \
    --config.cmd=sh \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umoci gc --layout "$layout"

skopeo copy --quiet --dest-tls-verify=false \
    "oci:$image" "docker://$registry/library/busybox:$tag" >&2
log "pushed $registry/library/busybox:$tag"
if [[ -n "$archive" ]]; then
    mkdir -p "$(dirname "$archive")"
    rm -f "$archive"
    skopeo copy --quiet "oci:$image" "oci-archive:$archive:docker.io/library/busybox:$tag" >&2
    log "wrote $archive"
fi
