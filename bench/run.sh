#!/usr/bin/env bash
# Races takedown against its peers on this machine, in one run:
#
#   A  hash IOCs:  clamscan vs takedown (.hsb, and Loki hash file)
#   B  YARA:       yr (yara-x CLI) vs yara (libyara) vs takedown, with the
#                  signature-base rules that compile with both yr and yara
#   S  start-up:   takedown on an empty directory, cold and warm cache
#
# and prints a Markdown table (also written to bench/work/results.md).
# Everything generated lives in bench/work/ (gitignored). See bench/README.md.
#
# Environment knobs: THREADS (default 2), TARGET_BYTES (corpus size, default
# 1 GiB), SKIP_BUILD=1 (use the existing target/release/takedown),
# YR (path of yr), SIGBASE_GIT (bare git dir of Neo23x0/signature-base).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work
THREADS=${THREADS:-2}
TARGET_BYTES=${TARGET_BYTES:-$((1 << 30))}
SIGBASE_GIT=${SIGBASE_GIT:-/work/.mirror/Neo23x0+signature-base/repo}
TD=$ROOT/target/release/takedown
CORPUS=$W/corpus
RESULTS=$W/results.tsv
EXTERNALS=(filename filepath extension filetype owner)

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"
}

# ---------------------------------------------------------------- tools
need python3 "install python3"
need git "install git"
need clamscan "install ClamAV (apt-get install clamav)"
need yara "install libyara's CLI (apt-get install yara)"
need yarac "install libyara's CLI (apt-get install yara)"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found: apt-get install time"
YR=${YR:-$(command -v yr || echo "$HOME/.cargo/bin/yr")}
[ -x "$YR" ] || die "yr (yara-x CLI) not found at $YR: cargo install yara-x-cli --version 1.22.1 --locked"

mkdir -p "$W"
cd "$ROOT"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building takedown (cargo build --release)"
    cargo build --release >&2
fi
[ -x "$TD" ] || die "$TD not built: run cargo build --release"

# ---------------------------------------------------------------- helpers
# Reads the whole corpus once so every timed run starts with it in the
# page cache (tar to /dev/null is no good: GNU tar skips reading then).
warm() { settle; find "$CORPUS" -type f -print0 | xargs -0 cat >/dev/null; }

# settle: a compiler running beside a race (someone else's cargo build on
# this 2-core machine) would skew it. Wait up to 10 minutes for any rustc
# to finish; if one is still running, go on but flag the run.
CONTENDED=""
settle() {
    local waited=0
    while pgrep -x rustc >/dev/null 2>&1; do
        if [ "$waited" -ge 600 ]; then
            echo "warning: rustc still running after 10 min; timing anyway (flagged)" >&2
            CONTENDED="yes: a rustc process was running during some timed runs"
            return
        fi
        [ "$waited" -eq 0 ] && echo "waiting for a running rustc (another build) to finish ..." >&2
        sleep 10; waited=$((waited + 10))
    done
}

# timed ID CMD...: runs CMD with GNU time, stdout to $W/out.ID, stderr to
# $W/err.ID; sets WALL (s) and RSS (KiB). Exit 1 ("found") is success for
# every tool here; anything else is reported but does not stop the run.
timed() {
    local id=$1; shift
    local rc=0
    settle
    /usr/bin/time -f '%e %M' -o "$W/time.$id" "$@" >"$W/out.$id" 2>"$W/err.$id" || rc=$?
    read -r WALL RSS < <(tail -n 1 "$W/time.$id") || die "no timing for $id"
    if [ "$rc" -gt 1 ]; then
        echo "warning: $id exited $rc; last lines of its stderr:" >&2
        tail -n 5 "$W/err.$id" >&2
    fi
    printf '   %-16s %7.2f s  %7.1f MiB RSS  (exit %d)\n' "$id" "$WALL" "$(awk -v r="$RSS" 'BEGIN {print r / 1024}')" "$rc" >&2
}

# row ID RACE TOOL SIGNATURES FILES DETS PEER_ID: one line of the table.
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$WALL" "$RSS" "$5" "$6" "$7" >>"$RESULTS"; }

hits() { python3 "$HERE/hits.py" "$1" "$CORPUS" "$W/out.$2" --list "$W/hits.$2"; }

: >"$RESULTS"

# ---------------------------------------------------------------- corpus
log "corpus (~$((TARGET_BYTES >> 20)) MiB of this machine's files + planted samples)"
python3 "$HERE/mkcorpus.py" --out "$CORPUS" --target "$TARGET_BYTES" \
    /usr/lib/x86_64-linux-gnu /usr/share/doc /usr/share \
    /usr/lib/python3 /usr/lib/python3.11 /usr/lib/gcc /usr/lib/jvm /usr/bin
CORPUS_FILES=$(find "$CORPUS" -type f | wc -l)
CORPUS_BYTES=$(find "$CORPUS" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
echo "corpus: $CORPUS_FILES files, $CORPUS_BYTES bytes" >&2

log "hash IOCs (100,000 SHA-256: .hsb and Loki)"
python3 "$HERE/mkiocs.py" --planted "$W/planted.tsv" --out "$W" --count 100000
SIZE_MATCHES=$(python3 - "$W/iocs.hsb" "$CORPUS" <<'EOF'
import os, sys
sizes = {int(l.split(":")[1]) for l in open(sys.argv[1])}
n = b = 0
for d, _, fs in os.walk(sys.argv[2]):
    for f in fs:
        s = os.path.getsize(os.path.join(d, f))
        if s in sizes:
            n += 1; b += s
print(f"{n} files / {b / 1e6:.0f} MB")
EOF
)
echo "corpus files whose size matches some .hsb IOC (must be hashed): $SIZE_MATCHES" >&2

# ---------------------------------------------------------------- race A
log "race A: hash IOCs"
warm
timed clamscan-hsb clamscan --no-summary --infected -d "$W/iocs.hsb" -r "$CORPUS"
row clamscan-hsb A clamscan "100k SHA-256 (.hsb)" $(hits clamscan clamscan-hsb) -
warm
timed takedown-hsb "$TD" scan --no-builtin -s "$W/iocs.hsb" -j "$THREADS" \
    --format json --no-progress "$CORPUS"
row takedown-hsb A takedown "100k SHA-256 (.hsb)" $(hits takedown takedown-hsb) clamscan-hsb
warm
timed takedown-loki "$TD" scan --no-builtin -s "$W/hash-iocs.txt" -j "$THREADS" \
    --format json --no-progress "$CORPUS"
row takedown-loki A takedown "100k SHA-256 (Loki, no sizes)" $(hits takedown takedown-loki) clamscan-hsb

echo "hit files:" >&2
for id in clamscan-hsb takedown-hsb takedown-loki; do
    printf '   %-14s %s\n' "$id" "$(tr '\n' ' ' <"$W/hits.$id")" >&2
done
if cmp -s "$W/hits.clamscan-hsb" "$W/hits.takedown-hsb" && cmp -s "$W/hits.clamscan-hsb" "$W/hits.takedown-loki"; then
    RACE_A_SETS="same $(wc -l <"$W/hits.clamscan-hsb") hit files for all three: $(tr '\n' ' ' <"$W/hits.clamscan-hsb")"
else
    RACE_A_SETS="HIT SETS DIFFER (see bench/work/hits.*)"
fi
echo "$RACE_A_SETS" >&2
for id in takedown-hsb takedown-loki; do
    grep '"type":"summary"' "$W/out.$id" | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
print("   '"$id"' summary: files_scanned=%s bytes_scanned=%s bytes_read=%s" % (s.get("files_scanned"), s.get("bytes_scanned"), s.get("bytes_read")))' >&2 || true
done

# ---------------------------------------------------------------- race B
log "race B: YARA (signature-base)"
[ -d "$SIGBASE_GIT" ] || die "signature-base git dir not found at $SIGBASE_GIT (set SIGBASE_GIT)"
SIGBASE_REV=$(git --git-dir="$SIGBASE_GIT" rev-parse HEAD)
if [ "$(cat "$W/sigbase.rev" 2>/dev/null)" != "$SIGBASE_REV" ]; then
    rm -rf "$W/sigbase" && mkdir -p "$W/sigbase"
    git --git-dir="$SIGBASE_GIT" archive HEAD yara iocs | tar -x -C "$W/sigbase"
    echo "$SIGBASE_REV" >"$W/sigbase.rev"
fi
# The common set: files that compile, each alone, with yr AND with yarac.
# Cached by signature-base revision and both compilers' versions.
COMMON_KEY="$SIGBASE_REV $("$YR" --version) yara $(yara --version)"
if [ "$(cat "$W/yara-common.key" 2>/dev/null)" != "$COMMON_KEY" ] || [ ! -d "$W/yara-common" ]; then
    echo "checking $(ls "$W/sigbase/yara" | wc -l) signature-base files with yr and yarac ..." >&2
    python3 "$HERE/yaracommon.py" "$W/sigbase/yara" "$W/yara-common" "$YR" "$(command -v yarac)" "$THREADS" >"$W/yara-common.counts"
    echo "$COMMON_KEY" >"$W/yara-common.key"
fi
echo "signature-base YARA files: $(cat "$W/yara-common.counts")" >&2
awk -F'\t' '$2 != "common" {printf "   excluded %s (%s): %s\n", $1, $2, $3}' "$W/yara-common.tsv" >&2
COMMON_FILES=$(ls "$W/yara-common" | wc -l)

# Precompile for yr and yara so that neither race includes compile time
# (takedown's cache is warmed by an untimed run below).
#  - yr: one namespace per file (--path-as-namespace), as takedown does.
#  - yara/yarac: libyara puts all files in one namespace unless told
#    otherwise, and signature-base reuses rule names across files; each
#    file gets its own namespace with yarac's NAMESPACE:FILE syntax (the
#    namespace is the file name), so nothing is dropped.
YR_DEFS=(); YARA_DEFS=()
for e in "${EXTERNALS[@]}"; do YR_DEFS+=(-d "$e=\"\""); YARA_DEFS+=(-d "$e="); done
YARA_NS_ARGS=()
for f in "$W"/yara-common/*; do YARA_NS_ARGS+=("$(basename "$f"):$f"); done

timed yr-compile "$YR" compile --relaxed-re-syntax --path-as-namespace "${YR_DEFS[@]}" \
    -o "$W/yr-rules.yarc" "$W/yara-common"
[ -s "$W/yr-rules.yarc" ] || die "yr compile failed: $(tail -3 "$W/err.yr-compile")"
YR_COMPILE_WALL=$WALL; YR_COMPILE_RSS=$RSS
timed yarac-compile yarac "${YARA_DEFS[@]}" "${YARA_NS_ARGS[@]}" "$W/yara-rules.yarc"
[ -s "$W/yara-rules.yarc" ] || die "yarac failed: $(tail -3 "$W/err.yarac-compile")"
YARAC_COMPILE_WALL=$WALL; YARAC_COMPILE_RSS=$RSS

TD_B=("$TD" scan -j "$THREADS" -s "$W/yara-common" -s "$W/sigbase/iocs/hash-iocs.txt"
      -s "$W/sigbase/iocs/filename-iocs.txt" --cache-dir "$W/cache"
      --format json --no-progress "$CORPUS")
echo "untimed takedown run to populate its compiled-rules cache ..." >&2
timed takedown-yara-warmup "${TD_B[@]}"
if grep -qi 'error\|warning' "$W/err.takedown-yara-warmup"; then
    echo "takedown load issues: $(grep -ci 'error\|warning' "$W/err.takedown-yara-warmup") lines on stderr (bench/work/err.takedown-yara-warmup)" >&2
fi

warm
timed yr "$YR" scan -C "$W/yr-rules.yarc" -p "$THREADS" -r "${YR_DEFS[@]}" "$CORPUS"
row yr B "yr 1.22 (yara-x)" "$COMMON_FILES YARA files (precompiled)" $(hits yara yr) -
warm
timed yara yara -C -p "$THREADS" -r "$W/yara-rules.yarc" "$CORPUS"
row yara B "yara $(yara --version) (libyara)" "$COMMON_FILES YARA files (precompiled)" $(hits yara yara) -
warm
timed takedown-yara "${TD_B[@]}"
row takedown-yara B takedown "$COMMON_FILES YARA files (cached) + sigbase hash & filename IOCs + builtin" \
    $(hits takedown takedown-yara) yr
python3 - "$W/out.takedown-yara" "$CORPUS" >&2 <<'EOF'
import collections, json, os, sys
by = collections.Counter()
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("type") == "finding":
        for d in o.get("detections", []):
            by[d.get("engine", "?")] += 1
print("   takedown detections by engine:", dict(by))
EOF
echo "hit files (first 15 per tool):" >&2
for id in yr yara takedown-yara; do
    printf '   %s (%d):\n' "$id" "$(wc -l <"$W/hits.$id")" >&2
    head -n 15 "$W/hits.$id" | sed 's/^/      /' >&2
done

# ---------------------------------------------------------------- start-up
log "start-up on an empty directory"
EMPTY=$W/empty; rm -rf "$EMPTY"; mkdir -p "$EMPTY"
TD_S=("$TD" scan -j "$THREADS" -s "$W/yara-common" -s "$W/sigbase/iocs/hash-iocs.txt"
      -s "$W/sigbase/iocs/filename-iocs.txt" --no-progress)
rm -rf "$W/cache-startup"
timed td-cold "${TD_S[@]}" --cache-dir "$W/cache-startup" "$EMPTY"
COLD_WALL=$WALL; COLD_RSS=$RSS
WARM_WALLS=()
for i in 1 2 3; do
    timed "td-warm$i" "${TD_S[@]}" --cache-dir "$W/cache-startup" "$EMPTY"
    WARM_WALLS+=("$WALL $RSS")
done
read -r WARM_WALL WARM_RSS < <(printf '%s\n' "${WARM_WALLS[@]}" | sort -n | sed -n 2p)
timed yr-empty "$YR" scan -C "$W/yr-rules.yarc" -p "$THREADS" "${YR_DEFS[@]}" "$EMPTY"
YR_EMPTY_WALL=$WALL; YR_EMPTY_RSS=$RSS
timed yara-empty yara -C -p "$THREADS" "$W/yara-rules.yarc" "$EMPTY"
YARA_EMPTY_WALL=$WALL; YARA_EMPTY_RSS=$RSS
TD_SIGS=$(grep -m1 '^Signatures:' "$W/out.td-warm1" | sed 's/^Signatures: *//' || true)
echo "takedown signatures (signature-base set + builtin): $TD_SIGS" >&2

cat >"$W/startup.tsv" <<EOF
takedown, cold (empty cache: compile + write cache)	$COLD_WALL	$COLD_RSS
takedown, warm (cache populated; median of 3)	$WARM_WALL	$WARM_RSS
yr compile (source -> .yarc)	$YR_COMPILE_WALL	$YR_COMPILE_RSS
yr scan -C (load .yarc)	$YR_EMPTY_WALL	$YR_EMPTY_RSS
yarac (source -> .yarc)	$YARAC_COMPILE_WALL	$YARAC_COMPILE_RSS
yara -C (load .yarc)	$YARA_EMPTY_WALL	$YARA_EMPTY_RSS
EOF

# ---------------------------------------------------------------- report
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
python3 "$HERE/table.py" --results "$RESULTS" --startup "$W/startup.tsv" \
    --bytes "$CORPUS_BYTES" --files "$CORPUS_FILES" --nproc "$(nproc)" --cpu "$CPU" \
    --threads "$THREADS" --contended "${CONTENDED:-no}" --size-matches "$SIZE_MATCHES" --race-a-sets "$RACE_A_SETS" \
    --common "$(cat "$W/yara-common.counts")" --sigbase-rev "$SIGBASE_REV" --td-sigs "$TD_SIGS" \
    --versions "takedown $("$TD" --version | awk '{print $2}'); $(clamscan --version); $("$YR" --version); yara $(yara --version)" \
    --out "$W/results.md"
