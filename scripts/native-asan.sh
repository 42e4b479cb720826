#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into a
# scratch folder (build/ stays untouched) and runs, against the real
# xenstored:
#   1. the native and xenstore test files, with the instrumented addon
#      (memory errors abort the test process);
#   2. test/native/stress-driver.mjs with LeakSanitizer; leaks whose stack
#      passes through the addon or libxenstore fail the run (Node's own
#      exit-time allocations are not ours to judge).
# Usage: bash scripts/native-asan.sh   (ROUNDS=n for a longer stress run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
[ -x .cache/xen/root/usr/lib/xen-4.17/bin/xenstored ] || bash scripts/setup.sh

work=$(mktemp -d /tmp/xen-domconfig-asan.XXXXXX)
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "native-asan: building the instrumented addon in $work" >&2
cp -r binding.gyp native "$work/"
ln -s "$root/node_modules" "$work/node_modules"
sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
(cd "$work" && CXXFLAGS="$sanitize" CFLAGS="$sanitize" LDFLAGS="-fsanitize=address,undefined" \
    npx --prefix "$root" node-gyp rebuild >"$work/build.log" 2>&1) || { cat "$work/build.log" >&2; exit 1; }
addon="$work/build/Release/xen_domconfig.node"
nm -D "$addon" >"$work/symbols.txt"; grep -q __asan_init "$work/symbols.txt" || { echo "native-asan: the addon is not instrumented" >&2; exit 1; }

export XEN_DOMCONFIG_NATIVE=$addon
asan_preload="$(gcc -print-file-name=libasan.so)"

echo "native-asan: 1/2 test files with the instrumented addon" >&2
LD_PRELOAD="$asan_preload" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:handle_segv=0 \
    npx vitest run test/native test/xenstore/ops.test.ts test/xenstore/transaction.test.ts \
    test/xenstore/watch.test.ts test/xenstore/lifecycle.test.ts

echo "native-asan: 2/2 stress driver with LeakSanitizer" >&2
rundir="$work/xenstored"
mkdir -p "$rundir"
env -i PATH="$PATH" XENSTORED_RUNDIR="$rundir" LD_PRELOAD="$root/.cache/xen/libfakehv.so" \
    "$root/.cache/xen/root/usr/lib/xen-4.17/bin/xenstored" -N 2>"$work/xenstored.log" &
daemon_pid=$!
for _ in $(seq 200); do [ -S "$rundir/socket" ] && break; sleep 0.025; done
[ -S "$rundir/socket" ] || { cat "$work/xenstored.log" >&2; exit 1; }

status=0
LD_PRELOAD="$asan_preload" XENSTORED_PATH="$rundir/socket" ROUNDS="${ROUNDS:-20}" \
    ASAN_OPTIONS=detect_leaks=1:handle_segv=0:exitcode=0 LSAN_OPTIONS=exitcode=0:report_objects=0 \
    node --expose-gc test/native/stress-driver.mjs >"$work/stress.log" 2>&1 || status=$?
cat "$work/stress.log" | grep -v '^ *#' | grep -E 'stress driver|ERROR|SUMMARY' >&2 || true
if [ "$status" -ne 0 ] || grep -q 'ERROR: AddressSanitizer' "$work/stress.log"; then
    echo "native-asan: FAILED (driver exit $status)" >&2
    cat "$work/stress.log" >&2
    exit 1
fi
# LeakSanitizer prints one blank-line separated block per leak; keep those
# whose stack passes through our code, except V8's own heap pages (allocated
# by v8::internal, e.g. when an error we create triggers a GC): the garbage
# collector owns them and Node does not free them at exit.
ours=$(awk 'BEGIN { RS = "" } /leak of/ && /native\/[a-z_]+\.(cc|h)|xen_domconfig\.node|libxenstore|xdc::/ && !/#1 0x[0-9a-f]+ in v8::internal::/' "$work/stress.log")
if [ -n "$ours" ]; then
    echo "native-asan: FAILED, leaks through the addon or libxenstore:" >&2
    echo "$ours" >&2
    exit 1
fi
leaks=$(grep -c '^\(Direct\|Indirect\) leak' "$work/stress.log" || true)
echo "native-asan: OK (no memory errors; $leaks exit-time leak records, none through the addon or libxenstore)" >&2
