#!/usr/bin/env bash
# Builds the prebuilt addons the npm package ships, so that `npm install
# xen-domconfig` needs no compiler on glibc Linux hosts:
#   prebuilds/linux-x64/xen-domconfig.glibc.node    native build
#   prebuilds/linux-arm64/xen-domconfig.glibc.node  Debian's aarch64 cross compiler
# prebuildify --napi: one N-API file serves every Node version; --tag-libc
# names the C library, so node-gyp-build never hands a glibc build to a musl
# host (that host builds from source at install instead). Each build runs in
# a scratch copy under .cache/prebuilds, leaving build/ (the tests' addon)
# untouched, and is redone only when its sources change.
# Then scripts/arm64-sysroot.sh prepares what test/package/arm64.test.ts runs
# the arm64 build with (qemu-user, an arm64 sysroot, Node for arm64).
# Usage: bash scripts/prebuilds.sh   (npm run prebuilds; npm pack runs it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
bash scripts/setup.sh   # compiler, node_modules, libxen-dev
cache=$root/.cache/prebuilds
mkdir -p "$cache/log"
export DEBIAN_FRONTEND=noninteractive
say() { echo "prebuilds: $*" >&2; }

apt_log="$cache/log/apt.log"
source scripts/apt.sh

ensure_packages g++-aarch64-linux-gnu binutils-aarch64-linux-gnu file

# node-gyp reads npm's configuration from the environment only: outside
# `npm run`, hand it npm's nodedir (Node's own headers, no download).
nodedir=${npm_config_nodedir:-$(npm config get nodedir)}
[ "$nodedir" = undefined ] || [ "$nodedir" = null ] || export npm_config_nodedir=$nodedir
node_version=$(node -p process.versions.node)

# build ARCH FILE-PATTERN [VAR=VALUE…]: prebuildify for linux-ARCH with the
# given environment; `file` must describe the result with FILE-PATTERN.
build() {
    local arch=$1 pattern=$2; shift 2
    local out=prebuilds/linux-$arch/xen-domconfig.glibc.node
    local sum
    sum=$(cat binding.gyp native/* scripts/prebuilds.sh | sha256sum | cut -c1-64)
    if [ -e "$out" ] && [ "$(cat "$cache/$arch.sum" 2>/dev/null)" = "$sum" ]; then return; fi
    say "building linux-$arch"
    local work=$cache/$arch
    rm -rf "$work" "prebuilds/linux-$arch"
    mkdir -p "$work"
    cp -r binding.gyp native package.json "$work/"
    ln -s "$root/node_modules" "$work/node_modules"
    local started=$SECONDS
    (cd "$work" && env "$@" npx --prefix "$root" prebuildify --napi --strip --tag-libc \
        --arch "$arch" --target "$node_version" --out "$root" >"$cache/log/$arch.log" 2>&1) \
        || { cat "$cache/log/$arch.log" >&2; exit 1; }
    local described
    described=$(file -b "$out")
    if ! grep -q -- "$pattern" <<<"$described"; then
        say "$out is not the expected binary ($pattern): $described"
        exit 1
    fi
    echo "$sum" > "$cache/$arch.sum"
    say "$out ($((SECONDS - started)) s): $described"
}

build x64 'ELF 64-bit LSB shared object, x86-64'
build arm64 'ELF 64-bit LSB shared object, ARM aarch64' \
    CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
    PREBUILD_STRIP_BIN=aarch64-linux-gnu-strip

bash scripts/arm64-sysroot.sh
