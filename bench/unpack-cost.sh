#!/usr/bin/env bash
# What the unpackers of executables, installers and old archives cost where
# nothing is packed: race A of run.sh (100,000 SHA-256 IOCs over ~1 GB of
# this machine's files, containers on, as a scan runs by default) with two
# takedown binaries side by side, interleaved, in one run. The corpus is
# run.sh's less Debian's clamav-testfiles, which mkcorpus.py takes from
# /usr/share when the package is installed: those are packed (PESpin, ASPack,
# NSIS, AutoIt, ...), and unpacking them is the new work itself, not its
# cost elsewhere. A second race on the whole corpus shows that work too.
#
#   before  OLD: a binary built from the commit before those unpackers
#           (b91d4c62), e.g.
#             git worktree add /tmp/td-before b91d4c62
#             (cd /tmp/td-before && cargo build --release -p takedown)
#             OLD=/tmp/td-before/target/release/takedown bash bench/unpack-cost.sh
#   after   TD: this tree's target/release/takedown (built unless SKIP_BUILD=1)
#
# Target: "after" at most 5% slower than "before", with the same hits.
# Knobs: OLD (required), TD, RUNS (default 5), THREADS (default 2),
# TARGET_BYTES (corpus size, 1 GiB), SKIP_BUILD=1, and lib.sh's SETTLE_MAX
# and RETRIES. Output: bench/work/unpack-cost.md; logs in
# bench/work/unpack-cost/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work/unpack-cost
RUNS=${RUNS:-5}
THREADS=${THREADS:-2}
TARGET_BYTES=${TARGET_BYTES:-$((1 << 30))}
TD=${TD:-$ROOT/target/release/takedown}
CORPUS=$HERE/work/corpus
TABLE=$HERE/work/unpack-cost.md

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

[ -n "${OLD:-}" ] || die "OLD (a takedown binary from before the unpackers) is required; see the header of $0"
[ -x "$OLD" ] || die "OLD=$OLD is not an executable"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found: apt-get install time"
mkdir -p "$W"
cd "$ROOT"
if [ "${SKIP_BUILD:-0}" != 1 ] && [ "$TD" = "$ROOT/target/release/takedown" ]; then
    log "building takedown (cargo build --release -p takedown)"
    cargo build --release -p takedown >&2
fi
[ -x "$TD" ] || die "$TD not built: run cargo build --release -p takedown"

make_corpus
# The corpus without the packed samples, as hard links (no copy).
PLAIN=$HERE/work/corpus-unpacked
rm -rf "$PLAIN"
cp -al "$CORPUS" "$PLAIN"
find "$PLAIN" -depth -type d -name clamav-testfiles -exec rm -rf {} +
PLAIN_FILES=$(find "$PLAIN" -type f | wc -l)
PLAIN_BYTES=$(find "$PLAIN" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
echo "corpus less clamav-testfiles: $PLAIN_FILES files, $PLAIN_BYTES bytes" >&2
log "hash IOCs (100,000 SHA-256 as .hsb)"
python3 "$HERE/mkiocs.py" --planted "$HERE/work/planted.tsv" --out "$W" --count 100000

scan() { printf '%s\n' "$1" scan --no-builtin -s "$W/iocs.hsb" -j "$THREADS" --format json --no-progress "$2"; }
# shellcheck disable=SC2034 # used by rounds through a nameref
mapfile -t CMD_before < <(scan "$OLD" "$PLAIN")
# shellcheck disable=SC2034
mapfile -t CMD_after < <(scan "$TD" "$PLAIN")
# shellcheck disable=SC2034
mapfile -t CMD_before_all < <(scan "$OLD" "$CORPUS")
# shellcheck disable=SC2034
mapfile -t CMD_after_all < <(scan "$TD" "$CORPUS")
log "race A, before and after ($RUNS rounds, interleaved)"
rounds before after before_all after_all

# The same files found, and the same work done, or the comparison means
# nothing.
hitlist() { grep '"type":"finding"' "$W/out.$1" | python3 -c '
import json, sys
for line in sys.stdin:
    f = json.loads(line)
    if f.get("detections"):
        print(f["path"])' | sort -u; }
for id in before after before_all after_all; do hitlist "$id" >"$W/hits.$id"; done
cmp -s "$W/hits.before" "$W/hits.after" || die "the two binaries found different files: diff $W/hits.before $W/hits.after"
for id in before after before_all after_all; do td_summary "$id"; done

CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
line() {
    median "$1"
    echo "| $2 | $3 | $WALL | $((RSS / 1024)) | $(wc -l <"$W/hits.$1") | $RUNLOG |"
}
ratio() {
    local a b
    median "$1"; a=$WALL
    median "$2"; b=$WALL
    awk -v a="$a" -v b="$b" -v what="$3" 'BEGIN {
        d = (a / b - 1) * 100
        printf "%s: after / before %.3f (%+.1f%%)", what, a / b, d
        if (what ~ /nothing packed/) printf "; target: at most +5%% (%s)", (d <= 5 ? "met" : "MISSED")
        printf "\n"
    }'
}
{
    echo "Unpacker cost (bench/unpack-cost.sh): race A of run.sh; $(nproc) x $CPU; median of $RUNS interleaved runs,"
    echo "page cache warm. Before: $("$OLD" --version) ($OLD, built $(date -r "$OLD" '+%F %T')); after: $("$TD" --version)"
    echo "($TD, built $(date -r "$TD" '+%F %T'); tree at $(git rev-parse --short HEAD) when run)."
    echo
    echo "| corpus | binary | wall s | peak RSS MB | hit files | runs |"
    echo "|---|---|---:|---:|---:|---|"
    line before "nothing packed: $PLAIN_FILES files, $((PLAIN_BYTES / 1000000)) MB" before
    line after "" after
    line before_all "the whole corpus (with clamav-testfiles): $CORPUS_FILES files, $((CORPUS_BYTES / 1000000)) MB" before
    line after_all "" after
    echo
    ratio after before "nothing packed"
    ratio after_all before_all "with the packed samples"
    [ "$CONTENDED_RUNS" = 0 ] || echo "warning: $CONTENDED_RUNS run(s) stayed contended after retries"
} | tee "$TABLE"
