#!/usr/bin/env bash
# Races takedown against its peers on this machine, in one run:
#
#   A  hash IOCs:  clamscan vs takedown (.hsb, and a Loki hash file)
#   B  YARA:       yr (yara-x CLI) vs yara (libyara) vs takedown, with the
#                  signature-base rules that compile with both yr and yara
#   S  start-up:   takedown on an empty directory, cold and warm cache
#
# and prints a Markdown table (also written to bench/work/results.md).
# Everything generated lives in bench/work/ (gitignored). See bench/README.md.
#
# Environment knobs: RUNS (timed runs per tool, default 3; the table shows
# the median), THREADS (default 2), TARGET_BYTES (corpus size, default
# 1 GiB), SKIP_BUILD=1 (use the existing target/release/takedown), YR (path
# of yr), SIGBASE_GIT (required: the git directory of a clone of
# Neo23x0/signature-base, e.g. signature-base/.git; its HEAD is used).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work
RUNS=${RUNS:-3}
THREADS=${THREADS:-2}
TARGET_BYTES=${TARGET_BYTES:-$((1 << 30))}
SIGBASE_GIT=${SIGBASE_GIT:-}
TD=$ROOT/target/release/takedown
CORPUS=$W/corpus
RESULTS=$W/results.tsv
EXTERNALS=(filename filepath extension filetype owner)

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# ---------------------------------------------------------------- tools
need python3 "install python3"
need git "install git"
need clamscan "install ClamAV (apt-get install clamav)"
need yara "install libyara's command-line tools (apt-get install yara)"
need yarac "install libyara's command-line tools (apt-get install yara)"
need pgrep "install procps"
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
# What is being measured, taken now: the tree may change during the run.
TD_BUILD="takedown $("$TD" --version | awk '{print $2}') (binary of $(date -r "$TD" '+%F %T'); tree at \
$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null \
|| echo ' + uncommitted crates/ changes') when the run started)"

: >"$RESULTS"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- corpus
make_corpus

log "hash IOCs (100,000 SHA-256 as .hsb and as a Loki hash file)"
python3 "$HERE/mkiocs.py" --planted "$W/planted.tsv" --out "$W" --count 100000
SIZE_MATCHES=$(python3 - "$W/iocs.hsb" "$CORPUS" <<'EOF'
import os, sys
sizes = {int(l.split(":")[1]) for l in open(sys.argv[1])}
n = b = 0
for d, _, fs in os.walk(sys.argv[2]):
    for f in fs:
        s = os.path.getsize(os.path.join(d, f))
        if s in sizes:
            n += 1
            b += s
print(f"{n} files / {b / 1e6:.0f} MB")
EOF
)
echo "corpus files whose size equals some .hsb IOC's size (a size-gated scanner hashes these): $SIZE_MATCHES" >&2

# ---------------------------------------------------------------- race A
log "race A: hash IOCs ($RUNS runs each)"
# clamscan: --infected lists only hits (same work, less output).
CMD_clamscan_hsb=(clamscan --no-summary --infected -d "$W/iocs.hsb" -r "$CORPUS")
CMD_takedown_hsb=("$TD" scan --no-builtin -s "$W/iocs.hsb" -j "$THREADS" --format json --no-progress "$CORPUS")
CMD_takedown_loki=("$TD" scan --no-builtin -s "$W/hash-iocs.txt" -j "$THREADS" --format json --no-progress "$CORPUS")
rounds clamscan_hsb takedown_hsb takedown_loki
row clamscan_hsb A "clamscan $(clamscan --version | cut -d/ -f1 | awk '{print $2}')" \
    "100k SHA-256 (.hsb)" $(hits clamscan clamscan_hsb) -
row takedown_hsb A takedown "100k SHA-256 (.hsb), --no-builtin" $(hits takedown takedown_hsb) clamscan_hsb
row takedown_loki A takedown "100k SHA-256 (Loki hash file, no sizes), --no-builtin" \
    $(hits takedown takedown_loki) clamscan_hsb

echo "hit files:" >&2
for id in clamscan_hsb takedown_hsb takedown_loki; do
    printf '   %-14s %s\n' "$id" "$(tr '\n' ' ' <"$W/hits.$id")" >&2
done
if cmp -s "$W/hits.clamscan_hsb" "$W/hits.takedown_hsb" && cmp -s "$W/hits.clamscan_hsb" "$W/hits.takedown_loki"; then
    RACE_A_SETS="the same $(wc -l <"$W/hits.clamscan_hsb") files for all three: $(tr '\n' ' ' <"$W/hits.clamscan_hsb")"
else
    RACE_A_SETS="**HIT SETS DIFFER** (see bench/work/hits.*)"
fi
echo "race A hit files: $RACE_A_SETS" >&2
td_summary takedown_hsb
td_summary takedown_loki

# ---------------------------------------------------------------- race B
log "race B: YARA (signature-base, $RUNS runs each)"
[ -n "$SIGBASE_GIT" ] || die "set SIGBASE_GIT to the git directory of a Neo23x0/signature-base clone (e.g. SIGBASE_GIT=~/src/signature-base/.git)"
[ -d "$SIGBASE_GIT" ] || die "signature-base git dir not found at $SIGBASE_GIT (set SIGBASE_GIT)"
SIGBASE_REV=$(git --git-dir="$SIGBASE_GIT" rev-parse HEAD)
if [ "$(cat "$W/sigbase.rev" 2>/dev/null)" != "$SIGBASE_REV" ]; then
    rm -rf "$W/sigbase" && mkdir -p "$W/sigbase"
    git --git-dir="$SIGBASE_GIT" archive HEAD yara iocs | tar -x -C "$W/sigbase"
    echo "$SIGBASE_REV" >"$W/sigbase.rev"
fi
# The common set: files that compile, each alone, with yr AND with yarac,
# copied to yara-common/ and given to all three tools. Cached by
# signature-base revision and both compilers' versions.
COMMON_KEY="$SIGBASE_REV $("$YR" --version) yara $(yara --version) $(md5sum <"$HERE/yaracommon.py")"
if [ "$(cat "$W/yara-common.key" 2>/dev/null)" != "$COMMON_KEY" ] || [ ! -d "$W/yara-common" ]; then
    echo "checking $(ls "$W/sigbase/yara" | wc -l) signature-base files with yr and yarac ..." >&2
    python3 "$HERE/yaracommon.py" "$W/sigbase/yara" "$W/yara-common" "$YR" "$(command -v yarac)" \
        "$THREADS" >"$W/yara-common.counts"
    echo "$COMMON_KEY" >"$W/yara-common.key"
fi
echo "signature-base YARA files: $(cat "$W/yara-common.counts")" >&2
awk -F'\t' '$2 != "common" {printf "   excluded %s (%s): %s\n", $1, $2, $3}' "$W/yara-common.tsv" >&2
COMMON_FILES=$(find "$W/yara-common" -type f | wc -l)

# Precompile for yr and yara so that no racer's time includes compiling
# (takedown's own cache is populated by an untimed run below).
#  - yr: one namespace per file (--path-as-namespace), as takedown does.
#  - yarac: libyara puts all files in one namespace unless told otherwise,
#    and signature-base reuses rule names across files; each file gets its
#    own namespace with yarac's NAMESPACE:FILE syntax (the namespace is the
#    file name), so nothing is dropped and all three run the same rules.
# The externals are defined as empty strings for yr and yara (takedown sets
# real per-file values, as Loki does).
YR_DEFS=()
YARA_DEFS=()
for e in "${EXTERNALS[@]}"; do
    YR_DEFS+=(-d "$e=\"\"")
    YARA_DEFS+=(-d "$e=")
done
YARA_NS_ARGS=()
for f in "$W"/yara-common/*; do YARA_NS_ARGS+=("$(basename "$f"):$f"); done

timed yr_compile "$YR" compile --relaxed-re-syntax --path-as-namespace "${YR_DEFS[@]}" \
    -o "$W/yr-rules.yarc" "$W/yara-common"
[ -s "$W/yr-rules.yarc" ] || die "yr compile failed: $(tail -3 "$W/err.yr_compile")"
YR_COMPILE_WALL=$WALL YR_COMPILE_RSS=$RSS
timed yarac_compile yarac "${YARA_DEFS[@]}" "${YARA_NS_ARGS[@]}" "$W/yara-rules.yarc"
[ -s "$W/yara-rules.yarc" ] || die "yarac failed: $(tail -3 "$W/err.yarac_compile")"
YARAC_COMPILE_WALL=$WALL YARAC_COMPILE_RSS=$RSS

TD_B_SIGS=(-s "$W/yara-common" -s "$W/sigbase/iocs/hash-iocs.txt" -s "$W/sigbase/iocs/filename-iocs.txt")
# yr wants every option before its positional arguments.
CMD_yr=("$YR" scan -p "$THREADS" -r "${YR_DEFS[@]}" -C "$W/yr-rules.yarc" "$CORPUS")
CMD_yara=(yara -C -p "$THREADS" -r "$W/yara-rules.yarc" "$CORPUS")
# --no-containers: yr and yara do not look inside archives, so neither does
# takedown here (race C, bench/containers.sh, measures unpacking).
CMD_takedown_yara=("$TD" scan -j "$THREADS" --no-containers "${TD_B_SIGS[@]}" --cache-dir "$W/cache" --format json --no-progress "$CORPUS")
# Diagnostic: the same YARA set alone (no builtin pack, no hash or name
# IOCs), i.e. exactly the rules yr and yara run.
CMD_takedown_yaraonly=("$TD" scan -j "$THREADS" --no-containers --no-builtin -s "$W/yara-common" --cache-dir "$W/cache"
    --format json --no-progress "$CORPUS")
# Diagnostic: the one pass with every rule run on every copy of the same
# content (docs/copies.md), i.e. without reusing any result.
CMD_takedown_rescan=("${CMD_takedown_yara[@]}" --rescan-copies)
echo "untimed takedown runs to populate its compiled-rules cache ..." >&2
timed takedown_yara_cachefill "${CMD_takedown_yara[@]}"
timed takedown_yaraonly_cachefill "${CMD_takedown_yaraonly[@]}"
if grep -qi 'error\|warning' "$W/err.takedown_yara_cachefill"; then
    echo "takedown signature-load messages: $(grep -ci 'error\|warning' "$W/err.takedown_yara_cachefill") lines (bench/work/err.takedown_yara_cachefill)" >&2
fi

rounds yr yara takedown_yara takedown_yaraonly takedown_rescan
row yr B "yr $("$YR" --version | awk '{print $2}') (yara-x)" "$COMMON_FILES YARA files (precompiled .yarc)" \
    $(hits yara yr) takedown_yara
row yara B "yara $(yara --version) (libyara)" "$COMMON_FILES YARA files (precompiled .yarc)" \
    $(hits yara yara) takedown_yara
row takedown_yara B takedown "$COMMON_FILES YARA files (cached) + sigbase hash & filename IOCs + builtin pack" \
    $(hits takedown takedown_yara) yr,yara
row takedown_yaraonly B "takedown (diagnostic)" "$COMMON_FILES YARA files only (cached), --no-builtin" \
    $(hits takedown takedown_yaraonly) yr,yara
row takedown_rescan B "takedown (diagnostic)" "the one pass above, --rescan-copies" \
    $(hits takedown takedown_rescan) yr,yara
td_summary takedown_yara
python3 - "$W" >&2 <<'EOF'
import collections, json, os, sys
w = sys.argv[1]
def yara_names(f):
    c = collections.Counter()
    for line in open(os.path.join(w, f), errors="replace"):
        parts = line.split(" ", 1)
        if len(parts) == 2 and parts[1].startswith("/"):
            c[parts[0]] += 1
    return dict(c)
def td_names(f):
    c = collections.Counter()
    for line in open(os.path.join(w, f)):
        o = json.loads(line)
        if o.get("type") == "finding":
            for d in o.get("detections", []):
                c[f"{d['engine']}:{d['name']}"] += 1
    return dict(c)
print("   detections by rule:")
print("     yr:               ", yara_names("out.yr"))
print("     yara:             ", yara_names("out.yara"))
print("     takedown:         ", td_names("out.takedown_yara"))
print("     takedown yaraonly:", td_names("out.takedown_yaraonly"))
print("     takedown rescan:  ", td_names("out.takedown_rescan"))
EOF
echo "hit files:" >&2
for id in yr yara takedown_yara takedown_yaraonly takedown_rescan; do
    printf '   %s (%d): %s\n' "$id" "$(wc -l <"$W/hits.$id")" "$(tr '\n' ' ' <"$W/hits.$id")" >&2
done

# ---------------------------------------------------------------- start-up
log "start-up on an empty directory (signature-base set)"
EMPTY=$W/empty
rm -rf "$EMPTY" "$W/cache-startup"
mkdir -p "$EMPTY"
TD_S=("$TD" scan -j "$THREADS" "${TD_B_SIGS[@]}" --no-progress --cache-dir "$W/cache-startup" "$EMPTY")
timed td_cold "${TD_S[@]}"
COLD_WALL=$WALL COLD_RSS=$RSS
: >"$W/runs.td_warm"
for i in 1 2 3; do
    timed "td_warm$i" "${TD_S[@]}"
    echo "$WALL $RSS" >>"$W/runs.td_warm"
done
median td_warm
WARM_WALL=$WALL WARM_RSS=$RSS WARM_LOG=$RUNLOG
timed yr_empty "$YR" scan -p "$THREADS" "${YR_DEFS[@]}" -C "$W/yr-rules.yarc" "$EMPTY"
YR_EMPTY_WALL=$WALL YR_EMPTY_RSS=$RSS
timed yara_empty yara -C -p "$THREADS" "$W/yara-rules.yarc" "$EMPTY"
YARA_EMPTY_WALL=$WALL YARA_EMPTY_RSS=$RSS
TD_SIGS=$(grep -m1 '^Signatures:' "$W/out.td_warm1" | sed 's/^Signatures: *//' || true)
echo "takedown's count of the race-B signature set: $TD_SIGS" >&2

cat >"$W/startup.tsv" <<EOF
takedown, cold (empty cache dir: compile YARA + write cache)	$COLD_WALL	$COLD_RSS
takedown, warm (cache populated; median of 3: $WARM_LOG)	$WARM_WALL	$WARM_RSS
yr compile (source -> .yarc; for reference)	$YR_COMPILE_WALL	$YR_COMPILE_RSS
yr scan -C (load .yarc; for reference)	$YR_EMPTY_WALL	$YR_EMPTY_RSS
yarac (source -> .yarc; for reference)	$YARAC_COMPILE_WALL	$YARAC_COMPILE_RSS
yara -C (load .yarc; for reference)	$YARA_EMPTY_WALL	$YARA_EMPTY_RSS
EOF

# ---------------------------------------------------------------- report
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
python3 "$HERE/table.py" --results "$RESULTS" --startup "$W/startup.tsv" \
    --bytes "$CORPUS_BYTES" --files "$CORPUS_FILES" --nproc "$(nproc)" --cpu "$CPU" \
    --threads "$THREADS" --runs "$RUNS" --load "$LOAD_AT_START" --contended "$CONTENDED_RUNS" \
    --size-matches "$SIZE_MATCHES" --race-a-sets "$RACE_A_SETS" \
    --common "$(cat "$W/yara-common.counts")" --sigbase-rev "$SIGBASE_REV" --td-sigs "$TD_SIGS" \
    --versions "$TD_BUILD; $(clamscan --version); $("$YR" --version); yara $(yara --version)" \
    --out "$W/results.md"
