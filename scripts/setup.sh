#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for xen-domconfig's demo, tests and
# benchmarks. Idempotent: every step is skipped when already done.
#   1. Debian packages: libxen-dev (Xen headers and libxenstore4), a compiler,
#      zsh and man (the completion and man page tests run them).
#   2. Debian's real C xenstored from xen-utils-4.17, downloaded with
#      `apt-get download` and unpacked into .cache/xen/root (never installed).
#   3. The LD_PRELOAD library that lets it run without a hypervisor.
#   4. npm ci, the native addon, and the TypeScript build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
cache=$root/.cache/xen
mkdir -p "$cache/debs" "$cache/log"
export DEBIAN_FRONTEND=noninteractive
say() { echo "setup: $*" >&2; }

apt_log="$cache/log/apt.log"
source scripts/apt.sh

# 1. packages
ensure_packages libxen-dev libxenstore4 xenstore-utils gcc g++ make python3 zsh groff-base man-db

# 2. the real xenstored, at the version of the installed Xen libraries
version=$(dpkg-query -W -f='${Version}' libxenmisc4.17)
if [ "$(cat "$cache/root/.version" 2>/dev/null)" != "$version" ]; then
    say "fetching xen-utils-4.17 $version"
    rm -rf "$cache/root" "$cache/debs"; mkdir -p "$cache/root" "$cache/debs"
    (cd "$cache/debs" && apt_quiet download -q "xen-utils-4.17=$version")
    dpkg-deb -x "$cache"/debs/xen-utils-4.17_*.deb "$cache/root"
    echo "$version" > "$cache/root/.version"
fi
[ -x "$cache/root/usr/lib/xen-4.17/bin/xenstored" ] || { say "xenstored missing after unpack"; exit 1; }

# Rebuilds $2 from the listed sources when their checksum changes.
stamp_ok() { [ -e "$2" ] && [ "$(cat "$1" 2>/dev/null)" = "$3" ]; }
sources_sum() { cat "$@" | sha256sum | cut -c1-64; }

# 3. fake hypervisor for xenstored
sum=$(sources_sum test/harness/fakehv.c)
if ! stamp_ok "$cache/.fakehv.sum" "$cache/libfakehv.so" "$sum"; then
    say "building libfakehv.so"
    gcc -O2 -Wall -Wextra -fPIC -shared -o "$cache/libfakehv.so" test/harness/fakehv.c -ldl
    echo "$sum" > "$cache/.fakehv.sum"
fi

# 4. node modules, addon, TypeScript
sum=$(sources_sum package-lock.json)
if ! stamp_ok "$cache/.npm.sum" node_modules "$sum"; then
    say "npm ci"
    npm ci --ignore-scripts --no-audit --no-fund >"$cache/log/npm.log" 2>&1 || { cat "$cache/log/npm.log" >&2; exit 1; }
    echo "$sum" > "$cache/.npm.sum"
fi
sum=$(sources_sum binding.gyp native/*)
if ! stamp_ok "$cache/.addon.sum" build/Release/xen_domconfig.node "$sum"; then
    say "building the addon"
    npx node-gyp rebuild >"$cache/log/node-gyp.log" 2>&1 || { cat "$cache/log/node-gyp.log" >&2; exit 1; }
    echo "$sum" > "$cache/.addon.sum"
fi
npm run -s build:ts
