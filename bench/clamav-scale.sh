#!/usr/bin/env bash
# Race E, ClamAV signatures at scale: takedown vs clamscan with the same
# generated database, 4,000,000 SHA-256 hash signatures (.hsb) plus
# 100,000 body signatures (.ndb) (bench/mkclamdb.py), on the ~1 GiB corpus
# of bench/run.sh (bench/mkcorpus.py):
#
#   load   each tool loads the database and scans one empty file
#   scan   each tool scans the corpus (containers opened by both)
#
# Prints a Markdown table with the ratios (also bench/work/clamav-scale.md)
# and checks that both tools detect the same set of files.
#
# Knobs: RUNS (default 1: clamscan takes minutes here), THREADS (default 2;
# clamscan is single-threaded), TARGET_BYTES (corpus size, default 1 GiB),
# HASHES (default 4000000), BODIES (default 100000), SKIP_BUILD=1, TD (the
# takedown binary; default target/release/takedown, or under
# CARGO_TARGET_DIR).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work
RUNS=${RUNS:-1}
THREADS=${THREADS:-2}
TARGET_BYTES=${TARGET_BYTES:-$((1 << 30))}
HASHES=${HASHES:-4000000}
BODIES=${BODIES:-100000}
TD=${TD:-${CARGO_TARGET_DIR:-$ROOT/target}/release/takedown}
CORPUS=$W/corpus
DB=$W/clamdb
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

need python3 "install python3"
need clamscan "install ClamAV (apt-get install clamav)"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found: apt-get install time"
mkdir -p "$W"
cd "$ROOT"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building takedown (cargo build --release -p takedown)"
    cargo build --release -p takedown >&2
fi
[ -x "$TD" ] || die "$TD not built: run cargo build --release -p takedown"

make_corpus

log "database: $HASHES SHA-256 (.hsb) + $BODIES body signatures (.ndb)"
KEY="$HASHES $BODIES $(md5sum <"$HERE/mkclamdb.py") $(md5sum <"$W/planted.tsv")"
if [ "$(cat "$DB.key" 2>/dev/null)" != "$KEY" ] || [ ! -s "$DB/bench.ndb" ]; then
    rm -rf "$DB"
    python3 "$HERE/mkclamdb.py" --planted "$W/planted.tsv" --corpus "$CORPUS" --out "$DB" \
        --hashes "$HASHES" --bodies "$BODIES" >"$W/clamdb.sources"
    echo "$KEY" >"$DB.key"
fi
echo "database: $(wc -l <"$DB/bench.hsb") .hsb lines ($(du -m "$DB/bench.hsb" | cut -f1) MB), $(wc -l <"$DB/bench.ndb") .ndb lines" >&2
echo "planted body signatures cut from: $(tr '\n' ' ' <"$W/clamdb.sources")" >&2
EMPTY=$W/empty-file
: >"$EMPTY"

# clamscan: only the generated database (-d; no main.cvd), --infected lists
# only hits. takedown: no built-in pack, the same directory, THREADS threads.
CMD_clam_load=(clamscan --no-summary -d "$DB" "$EMPTY")
CMD_td_load=("$TD" scan --no-builtin -s "$DB" --format json --no-progress "$EMPTY")
CMD_clam_scan=(clamscan --no-summary --infected -d "$DB" -r "$CORPUS")
CMD_td_scan=("$TD" scan --no-builtin -s "$DB" -j "$THREADS" --format json --no-progress "$CORPUS")

log "load: $RUNS interleaved rounds"
rounds clam_load td_load
median clam_load; CL_WALL=$WALL; CL_RSS=$RSS; CL_LOG=$RUNLOG
median td_load; TL_WALL=$WALL; TL_RSS=$RSS; TL_LOG=$RUNLOG
grep -i 'warning\|error' "$W/err.td_load" | head -5 >&2 || true

log "scan: $RUNS interleaved rounds (clamscan takes minutes)"
rounds clam_scan td_scan
median clam_scan; CS_WALL=$WALL; CS_RSS=$RSS; CS_LOG=$RUNLOG
median td_scan; TS_WALL=$WALL; TS_RSS=$RSS; TS_LOG=$RUNLOG
read -r C_FILES C_DETS < <(hits clamscan clam_scan)
read -r T_FILES T_DETS < <(hits takedown td_scan)
td_summary td_scan
echo "hit files:" >&2
printf '   clamscan  %s\n' "$(tr '\n' ' ' <"$W/hits.clam_scan")" >&2
printf '   takedown  %s\n' "$(tr '\n' ' ' <"$W/hits.td_scan")" >&2
if cmp -s "$W/hits.clam_scan" "$W/hits.td_scan"; then
    SAME="yes: the same $C_FILES files"
else
    SAME="**NO** (diff bench/work/hits.clam_scan bench/work/hits.td_scan)"
fi

python3 - "$W/clamav-scale.md" <<EOF
import sys
mb = $CORPUS_BYTES / 1e6
cl, tl, cs, ts = $CL_WALL, $TL_WALL, $CS_WALL, $TS_WALL
clr, tlr, csr, tsr = $CL_RSS / 1024, $TL_RSS / 1024, $CS_RSS / 1024, $TS_RSS / 1024
def ok(b): return "met" if b else "**NOT MET**"
out = [
    f"- database: $HASHES SHA-256 \`.hsb\` lines + $BODIES \`.ndb\` lines (bench/mkclamdb.py)",
    f"- corpus: $CORPUS_FILES files, {mb:,.0f} MB; $RUNS run(s) each, interleaved, page cache warm",
    f"- clamscan $(clamscan --version | cut -d/ -f1 | awk '{print $2}') (single-threaded), takedown -j $THREADS; "
    f"machine: $(nproc) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg)",
    "",
    "| step | tool | wall s | MB/s | peak RSS MB | hit files (detections) | clamscan / takedown |",
    "|---|---|---:|---:|---:|---:|---|",
    f"| load (empty file) | clamscan | {cl:.2f} | | {clr:.0f} | | |",
    f"| load (empty file) | **takedown** | {tl:.2f} | | {tlr:.0f} | | time {cl / tl:.1f}x, RSS {clr / tlr:.1f}x (target 2x: {ok(cl >= 2 * tl and clr >= 2 * tlr)}) |",
    f"| scan corpus | clamscan | {cs:.2f} | {mb / cs:.0f} | {csr:.0f} | $C_FILES ($C_DETS) | |",
    f"| scan corpus | **takedown** | {ts:.2f} | {mb / ts:.0f} | {tsr:.0f} | $T_FILES ($T_DETS) | throughput {cs / ts:.1f}x (target 3x: {ok(cs >= 3 * ts)}), RSS {csr / tsr:.1f}x |",
    "",
    "- same detections: $SAME",
    "- runs: clamscan load $CL_LOG; takedown load $TL_LOG; clamscan scan $CS_LOG; takedown scan $TS_LOG",
]
text = "\n".join(out) + "\n"
open(sys.argv[1], "w").write(text)
print(text)
EOF
