#!/bin/bash
# make-goldens.sh [OUTDIR]: regenerates the oracle goldens (default: ./oracle next to this
# script) with the real xl/libxl 4.17 of ../shared/fakexen. Inputs: oracle/cfg/*.cfg
# (`xl -N create`), oracle/disk-specs.txt (`xl -N block-attach 0 SPEC`),
# oracle/vif-specs.txt (`xl -N network-attach 0 k=v ...`), oracle/vtpm-specs.txt.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
KIT=${FAKEXEN_KIT:-$ROOT/../shared/fakexen}
IN=$HERE/oracle
OUT=${1:-$IN}
export FAKEXEN_WORK=${FAKEXEN_WORK:-/tmp/xen-domconfig-fakexen}
export FAKEXEN_RUN=$FAKEXEN_WORK/run-config-goldens-$$
FX="bash $KIT/fakexen.sh"
mkdir -p "$OUT"
bash "$KIT/setup.sh" > /dev/null
$FX start > /dev/null
trap '$FX stop > /dev/null 2>&1 || true; rm -rf "$FAKEXEN_RUN"' EXIT
xl() { $FX xl "$@"; }

for cfg in "$IN"/cfg/*.cfg; do
    xl -N create "$cfg" > "$OUT/create-$(basename "$cfg" .cfg).json" 2> /dev/null
done

# each spec file: one spec per line, '#' comments; NN counts the specs
each_spec() {
    local file=$1 n=0 spec
    while IFS= read -r spec; do
        [[ -z $spec || $spec == \#* ]] && continue
        n=$((n + 1))
        printf '%02d\t%s\n' "$n" "$spec"
    done < "$file"
}

each_spec "$IN/disk-specs.txt" | while IFS=$'\t' read -r n spec; do
    xl -N block-attach 0 "$spec" > "$OUT/block-attach-$n.raw" 2> /dev/null || {
        echo "xl refused disk spec $n: $spec" >&2; rm -f "$OUT/block-attach-$n.raw"; }
done
each_spec "$IN/vif-specs.txt" | while IFS=$'\t' read -r n spec; do
    IFS=, read -r -a items <<< "$spec"
    xl -N network-attach 0 "${items[@]}" > "$OUT/network-attach-$n.raw" 2> /dev/null || {
        echo "xl refused vif spec $n: $spec" >&2; rm -f "$OUT/network-attach-$n.raw"; }
done
each_spec "$IN/vtpm-specs.txt" | while IFS=$'\t' read -r n spec; do
    IFS=, read -r -a items <<< "$spec"
    xl -N vtpm-attach 0 "${items[@]}" > "$OUT/vtpm-attach-$n.raw" 2> /dev/null || {
        echo "xl refused vtpm spec $n: $spec" >&2; rm -f "$OUT/vtpm-attach-$n.raw"; }
done
echo "goldens written to $OUT"
