#!/usr/bin/env bash
# Race D, removal: quarantining N detected small files into the vault,
# durably, against the durable copy baseline `cp -a SRC DST && sync`.
# Target: takedown <= 2x the baseline. Also times the same scan without
# action, to show what the vault itself costs.
#
# Each round copies a fresh set of the files for each side (untimed, then
# synced), so both start from the same state and allocate inodes on the
# same file system. Prints a Markdown table (also bench/work/quarantine.md).
#
# Knobs: RUNS (default 3), FILES (default 10000), SIZE (bytes per file,
# default 1024), SKIP_BUILD=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work
RUNS=${RUNS:-3}
FILES=${FILES:-10000}
SIZE=${SIZE:-1024}
TD=$ROOT/target/release/takedown
Q=$W/quarantine
CORPUS=$Q/src
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

need python3 "install python3"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found: apt-get install time"
mkdir -p "$Q"
cd "$ROOT"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building takedown (cargo build --release)"
    cargo build --release >&2
fi
[ -x "$TD" ] || die "$TD not built: run cargo build --release"

log "$FILES files of $SIZE bytes, each detected by one YARA rule"
rm -rf "$Q"
mkdir -p "$CORPUS"
python3 - "$CORPUS" "$FILES" "$SIZE" <<'PY'
import os, sys
root, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    head = b"quarantine-bench-marker %d\n" % i
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(head + os.urandom(max(0, size - len(head))))
PY
echo 'rule QuarantineBench { strings: $a = "quarantine-bench-marker" condition: $a }' >"$Q/bench.yar"

fresh() { # fresh NAME: an untimed, synced copy of the corpus
    rm -rf "${Q:?}/$1"
    cp -a "$CORPUS" "$Q/$1"
    sync
}

: >"$W/runs.cp"; : >"$W/runs.quarantine"; : >"$W/runs.scan"
for r in $(seq 1 "$RUNS"); do
    log "round $r of $RUNS"
    fresh cp-in; rm -rf "$Q/cp-out"
    timed "cp.r$r" sh -c "cp -a '$Q/cp-in' '$Q/cp-out' && sync"
    echo "$WALL $RSS $FOREIGN $CONTENDED" >>"$W/runs.cp"

    fresh td-in; rm -rf "$Q/vault"
    timed "scan.r$r" "$TD" scan --no-cache -s "$Q/bench.yar" --format json --no-progress "$Q/td-in"
    echo "$WALL $RSS $FOREIGN $CONTENDED" >>"$W/runs.scan"
    timed "quarantine.r$r" "$TD" scan --no-cache -s "$Q/bench.yar" --action quarantine \
        --vault "$Q/vault" --format json --no-progress "$Q/td-in"
    echo "$WALL $RSS $FOREIGN $CONTENDED" >>"$W/runs.quarantine"
    # Check the work was done: every file in the vault, none left behind.
    q=$(grep '"type":"summary"' "$W/out.quarantine.r$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["quarantined"])')
    left=$(find "$Q/td-in" -type f | wc -l)
    items=$("$TD" quarantine list --vault "$Q/vault" --format json | grep -c '"id"')
    [ "$q" = "$FILES" ] && [ "$left" = 0 ] && [ "$items" = "$FILES" ] ||
        die "round $r: quarantined=$q, left in place=$left, vault items=$items (want $FILES, 0, $FILES)"
    rm -rf "$Q/cp-in" "$Q/cp-out" "$Q/td-in" "$Q/vault"
    sync
done

median cp; CP=$WALL; CP_LOG=$RUNLOG
median scan; SC=$WALL; SC_LOG=$RUNLOG
median quarantine; QU=$WALL; QU_RSS=$RSS; QU_LOG=$RUNLOG
RATIO=$(awk -v a="$QU" -v b="$CP" 'BEGIN {printf "%.2f", a / b}')
{
    echo "| $FILES files of $SIZE B | median wall | runs |"
    echo "|---|---:|---|"
    echo "| \`cp -a\` + \`sync\` (durable copy) | $CP s | $CP_LOG |"
    echo "| \`takedown scan --action quarantine\` | $QU s | $QU_LOG |"
    echo "| \`takedown scan\` (same scan, no action) | $SC s | $SC_LOG |"
    echo
    echo "quarantine / durable copy = **${RATIO}x** (target <= 2x); peak RSS $((QU_RSS / 1024)) MiB; $CONTENDED_RUNS contended run(s)"
} | tee "$W/quarantine.md"
