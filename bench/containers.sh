#!/usr/bin/env bash
# Race C, containers: takedown vs clamscan on a corpus of archives and mail
# built from this machine's files (bench/mkarchives.py), with the same
# signatures (a YARA rule for EICAR and SHA-256 IOCs of planted samples, all
# planted inside nested containers), then the bomb cases one by one.
# Prints a Markdown table (also bench/work/containers.md).
#
# Knobs: RUNS (default 3), THREADS (default 2), TARGET_BYTES (corpus size,
# default 300 MiB), SKIP_BUILD=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work
RUNS=${RUNS:-3}
THREADS=${THREADS:-2}
TARGET_BYTES=${TARGET_BYTES:-$((300 << 20))}
TD=$ROOT/target/release/takedown
CORPUS=$W/archives
BOMBS=$W/bombs
SIGS=$W/archive-sigs
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

need python3 "install python3"
need clamscan "install ClamAV (apt-get install clamav)"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found: apt-get install time"
mkdir -p "$W"
cd "$ROOT"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building takedown (cargo build --release)"
    cargo build --release >&2
fi
[ -x "$TD" ] || die "$TD not built: run cargo build --release"

log "container corpus (~$((TARGET_BYTES >> 20)) MiB) and bombs"
python3 "$HERE/mkarchives.py" --out "$CORPUS" --bombs "$BOMBS" --sigs "$SIGS" --target "$TARGET_BYTES"
CORPUS_FILES=$(find "$CORPUS" -type f | wc -l)
CORPUS_BYTES=$(find "$CORPUS" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
echo "corpus: $CORPUS_FILES files, $CORPUS_BYTES bytes" >&2

# The same signatures for both; default limits for both (ClamAV's defaults:
# 400 MiB scanned per file, 100 MiB per member, 17 levels, 10,000 files).
CMD_clamscan=(clamscan --no-summary --infected -r -d "$SIGS/bench.yar" -d "$SIGS/planted.hsb" "$CORPUS")
CMD_takedown=("$TD" scan --no-builtin -s "$SIGS" -j "$THREADS" --no-cache --format json --no-progress "$CORPUS")

log "race C: $RUNS interleaved rounds"
rounds clamscan takedown
median clamscan; C_WALL=$WALL; C_RSS=$RSS; C_LOG=$RUNLOG
median takedown; T_WALL=$WALL; T_RSS=$RSS; T_LOG=$RUNLOG
read -r C_FILES C_DETS < <(hits clamscan clamscan)
read -r T_FILES T_DETS < <(hits takedown takedown)
T_MEMBERS=$(grep '"type":"summary"' "$W/out.takedown" | python3 -c 'import json,sys; print(json.load(sys.stdin)["members_scanned"])')

log "bombs, one at a time"
: >"$W/bombs.tsv"
for b in 42.zip overlap.zip zeros10g.gz; do
    CMD_bomb_td=("$TD" scan --no-cache --format json --no-progress -j 1 "$BOMBS/$b")
    CMD_bomb_clam=(clamscan --no-summary -d "$SIGS/bench.yar" -d "$SIGS/planted.hsb" "$BOMBS/$b")
    timed "bomb_td_$b" "${CMD_bomb_td[@]}"
    TW=$WALL; TR=$RSS
    LIMITS=$(python3 -c '
import json, sys
seen = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    for p in o.get("problems", []):
        k = p.get("limit") or p["kind"]
        seen[k] = seen.get(k, 0) + 1
print(", ".join(f"{k} x{v}" for k, v in sorted(seen.items())) or "none")' "$W/out.bomb_td_$b")
    timed "bomb_clam_$b" "${CMD_bomb_clam[@]}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$(stat -c %s "$BOMBS/$b")" "$TW" "$TR" "$LIMITS" "$WALL" "$RSS" >>"$W/bombs.tsv"
done

python3 - "$W" "$CORPUS_FILES" "$CORPUS_BYTES" "$C_WALL" "$C_RSS" "$C_FILES" "$C_DETS" "$C_LOG" \
    "$T_WALL" "$T_RSS" "$T_FILES" "$T_DETS" "$T_LOG" "$T_MEMBERS" "$THREADS" "$RUNS" \
    "$("$TD" --version); $(clamscan --version)" <<'PY'
import sys
(w, nfiles, nbytes, cw, crss, cf, cd, clog, tw, trss, tf, td, tlog, members, threads, runs,
 versions) = sys.argv[1:]
mb = int(nbytes) / 1e6
cw, tw = float(cw), float(tw)
out = ["# takedown benchmark: containers", "",
       f"- corpus: {nfiles} files, {mb:,.0f} MB of archives and mail (bench/mkarchives.py); "
       f"{runs} interleaved runs per tool, medians; takedown -j {threads}, clamscan single-threaded",
       f"- versions: {versions}", "",
       "| tool | wall s | MB/s | peak RSS MB | hit files / detections | objects inside scanned |",
       "|---|---:|---:|---:|---:|---:|",
       f"| clamscan | {cw:.2f} | {mb / cw:.0f} | {int(crss) / 1024:.0f} | {cf} / {cd} | |",
       f"| takedown | {tw:.2f} | {mb / tw:.0f} | {int(trss) / 1024:.0f} | {tf} / {td} | {members} |",
       "", f"clamscan/takedown = **{cw / tw:.2f}x** wall (target: at least 3x); "
       f"hit files {tf} vs {cf} (target: at least as many). "
       "clamscan reports one detection per file; takedown every detection of every member.",
       "", f"Every run: clamscan {clog}; takedown {tlog}", "",
       "| bomb | size | takedown wall s | takedown peak RSS MB | limits reported | clamscan wall s | clamscan peak RSS MB |",
       "|---|---:|---:|---:|---|---:|---:|"]
for line in open(f"{w}/bombs.tsv"):
    b, size, tw_, tr, lim, cw_, cr = line.rstrip("\n").split("\t")
    out.append(f"| {b} | {int(size):,} | {float(tw_):.2f} | {int(tr) / 1024:.0f} | {lim} | {float(cw_):.2f} | {int(cr) / 1024:.0f} |")
out.append("")
out.append("Target: takedown's peak RSS under 256 MiB on every bomb.")
text = "\n".join(out) + "\n"
print(text)
open(f"{w}/containers.md", "w").write(text)
PY
