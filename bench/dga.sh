#!/usr/bin/env bash
# bench/dga.sh: the Performance points of issue 26 for `takedown dga`, side
# by side in one run.
#
# 1. Generation. Every family with a known seed, every known seed (what
#    `takedown dga gen --family all` generates: the `known` entries of
#    `takedown dga list --format json`), every day of a two-year window:
#    the public reference implementations (the oracles), run as black boxes
#    by bench/dga_oracles.py (one Python process per family that loads the
#    family's script and calls the functions its command line calls, per
#    day and seed, or per period where the script's own table defines one;
#    Ranbyus "may" is a C program, compiled untimed with gcc -O2 and run
#    once per day and seed; Panda Banker's scripts are Python 2), against
#    `takedown dga gen --family F` per family and `--family all` for the
#    total. Both sides write every domain to a file. The sorted unique sets
#    must be equal, per family and in total (the script fails otherwise,
#    showing differences). Target: takedown at least 100x faster.
#    Families without a known seed (vawtrak/v1) are in neither side.
# 2. Match. NAMES names (DGA_PERCENT % of them domains of the window, in
#    mixed case, a fifth of those under `www.`; the rest made-up names under
#    common TLDs), built once by bench/dga_names.py, untimed; then
#    `takedown dga match --family all --from FROM --to TO - < names`. The
#    matched count (standard error) must be at least the number of DGA
#    names put in. Reports names per second (target: at least 1,000,000 on
#    2 cores) and, separately, the index build (a match of one name).
#
# Knobs (environment):
#   ORACLE_BADERJ  (required) extracted github.com/baderj/domain_generation_algorithms
#   ORACLE_PANDA   (required) extracted github.com/tildedennis/malware (panda_banker/)
#   FROM, TO       window, default 2015-12-01 .. 2017-11-30
#   NAMES          names for the match race, default 10000000
#   DGA_PERCENT    share of DGA names in them, default 10
#   RUNS           timed runs of each takedown command, default 3 (median)
#   ORACLE_RUNS    timed runs of each oracle family, default 1 (median)
#   SKIP_BUILD=1   do not run `cargo build --release --locked -p takedown`
#   TD             the takedown binary, default target/release/takedown
#   PYTHON3, PYTHON2  interpreters (PYTHON2 default: python2 on PATH, else
#                  pyenv's 2.7 from `pyenv root`)
#   WORK           scratch directory, default ${TMPDIR:-/tmp}/takedown-dga-bench
#                  (the names file is kept there and reused while NAMES,
#                  DGA_PERCENT and the window do not change)
#   SETTLE_MAX     seconds to wait for idle CPUs before each timed run, default 120
#   PROFILE=1      also `perf record` the `--family all` generation and the
#                  match (needs perf) and print the top symbols
#
# Dependencies: bash, coreutils, python3 (3.9+), python2 (2.7), gcc, cargo
# (unless SKIP_BUILD=1), git (only to extract the oracles, below).
#
# Oracles: clones of github.com/baderj/domain_generation_algorithms and
# github.com/tildedennis/malware; extract the parts the drivers run (the
# commits the vectors were made from):
#   mkdir -p /tmp/oracle-baderj /tmp/oracle-panda
#   git -C domain_generation_algorithms archive \
#     09961a14f4ab72837b9139470271a4fbf767f565 nymaim nymaim2 shiotob tinba vawtrak \
#     qakbot ranbyus corebot gozi newgoz | tar -x -C /tmp/oracle-baderj
#   git -C malware archive HEAD panda_banker \
#     | tar -x -C /tmp/oracle-panda
#
# Reproduce (from the repository root; ~3 minutes on 2 cores plus the build,
# the first run also spends ~1 minute writing the 10 million names):
#   ORACLE_BADERJ=/tmp/oracle-baderj ORACLE_PANDA=/tmp/oracle-panda bash bench/dga.sh
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
FROM=${FROM:-2015-12-01}
TO=${TO:-2017-11-30}
NAMES=${NAMES:-10000000}
DGA_PERCENT=${DGA_PERCENT:-10}
RUNS=${RUNS:-3}
ORACLE_RUNS=${ORACLE_RUNS:-1}
TD=${TD:-$ROOT/target/release/takedown}
WORK=${WORK:-${TMPDIR:-/tmp}/takedown-dga-bench}
SETTLE_MAX=${SETTLE_MAX:-120}
export LC_ALL=C

die() { printf 'bench/dga.sh: %s\n' "$*" >&2; exit 1; }
log() { printf '== %s\n' "$*" >&2; }

# --- prerequisites ----------------------------------------------------------
[ -n "${ORACLE_BADERJ:-}" ] || die "set ORACLE_BADERJ (see the header for how to extract it)"
[ -n "${ORACLE_PANDA:-}" ] || die "set ORACLE_PANDA (see the header for how to extract it)"
[ -f "$ORACLE_BADERJ/nymaim/dga.py" ] || die "ORACLE_BADERJ=$ORACLE_BADERJ has no nymaim/dga.py"
[ -f "$ORACLE_PANDA/panda_banker/dga.py" ] || die "ORACLE_PANDA=$ORACLE_PANDA has no panda_banker/dga.py"
ORACLE_BADERJ=$(cd "$ORACLE_BADERJ" && pwd)
ORACLE_PANDA=$(cd "$ORACLE_PANDA" && pwd)
PYTHON3=${PYTHON3:-python3}
"$PYTHON3" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null ||
    die "needs Python 3.9 or later as PYTHON3 ($PYTHON3)"
py2_ok() { "$1" -c 'import sys; assert sys.version_info[0] == 2' 2>/dev/null; }
if [ -z "${PYTHON2:-}" ]; then
    if py2_ok python2; then
        PYTHON2=python2
    elif command -v pyenv >/dev/null; then
        PYTHON2=$(ls -d "$(pyenv root)"/versions/2.7*/bin/python2 2>/dev/null | tail -n 1)
    fi
fi
[ -n "${PYTHON2:-}" ] && py2_ok "$PYTHON2" || die "needs Python 2.7 (Panda Banker's scripts): set PYTHON2"
# The interpreters themselves, not pyenv's shims: a shim is a shell script
# that adds ~50 ms to every start, which would be charged to the oracles.
PYTHON3=$("$PYTHON3" -c 'import sys; print(sys.executable)')
PYTHON2=$("$PYTHON2" -c 'import sys; print(sys.executable)')
command -v gcc >/dev/null || die "needs gcc (Ranbyus' reference implementation is C)"
[ "$RUNS" -ge 1 ] && [ "$ORACLE_RUNS" -ge 1 ] && [ "$NAMES" -ge 1 ] || die "RUNS, ORACLE_RUNS and NAMES must be positive"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "cargo build --release --locked -p takedown"
    (cd "$ROOT" && cargo build --release --locked -p takedown)
fi
[ -x "$TD" ] || die "no takedown binary at $TD"
"$TD" dga list >/dev/null 2>&1 || die "$TD has no 'dga' command (an old build? unset SKIP_BUILD)"

mkdir -p "$WORK/gen"
GEN=$WORK/gen

# --- timing -----------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)
cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# settle: waits (up to SETTLE_MAX s) until less than 0.3 cores are busy
# over a second, so that another process's build does not skew a run.
settle() {
    local waited=0 b0 b1
    while :; do
        b0=$(cpu_busy); sleep 1; b1=$(cpu_busy)
        awk -v d=$((b1 - b0)) -v t="$CLK_TCK" 'BEGIN {exit !(d < 0.3 * t)}' && return
        if [ "$waited" -ge "$SETTLE_MAX" ]; then
            echo "   warning: CPUs still busy after ${SETTLE_MAX} s; timing anyway" >&2
            return
        fi
        waited=$((waited + 1))
    done
}
# timed OUT ERR CMD...: runs CMD (stdin from $STDIN, default /dev/null;
# stdout to OUT, stderr to ERR), sets WALL
# (s, ms resolution), RC, and FOREIGN (CPU seconds others used meanwhile,
# from /proc/stat minus the command's own user+sys; > 5% of the machine
# marks the run contended: CONTENDED=1).
CONTENDED_RUNS=0
timed() {
    local out=$1 err=$2; shift 2
    local b0 b1 t
    settle
    b0=$(cpu_busy)
    t=$( { TIMEFORMAT='%3R %3U %3S'; time { rc=0; "$@" <"${STDIN:-/dev/null}" >"$out" 2>"$err" || rc=$?; echo "$rc" >"$err.rc"; }; } 2>&1 )
    b1=$(cpu_busy)
    RC=$(cat "$err.rc")
    read -r WALL user sys <<<"$t"
    FOREIGN=$(awk -v d=$((b1 - b0)) -v k="$CLK_TCK" -v u="$user" -v s="$sys" \
        'BEGIN {f = d / k - u - s; printf "%.2f", (f < 0 ? 0 : f)}')
    CONTENDED=$(awk -v f="$FOREIGN" -v w="$WALL" -v n="$NPROC" \
        'BEGIN {print (f > 0.3 && f > 0.05 * w * n) ? 1 : 0}')
    [ "$CONTENDED" = 1 ] && CONTENDED_RUNS=$((CONTENDED_RUNS + 1))
    return 0
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# repeat N LABEL OUT ERR OKRC CMD...: N timed runs, every one must exit with
# OKRC; sets MED (median wall) and FLAG ("*" when a run was contended).
repeat() {
    local n=$1 label=$2 out=$3 err=$4 okrc=$5; shift 5
    local walls="" i
    FLAG=""
    for ((i = 1; i <= n; i++)); do
        timed "$out" "$err" "$@"
        [ "$RC" = "$okrc" ] || { cat "$err" >&2; die "$label exited $RC (expected $okrc): $*"; }
        walls="$walls $WALL"
        [ "$CONTENDED" = 1 ] && FLAG="*"
        if [ "$CONTENDED" = 1 ]; then
            echo "   $label run $i: $WALL s (contended: others used $FOREIGN CPU s)" >&2
        else
            echo "   $label run $i: $WALL s" >&2
        fi
    done
    MED=$(echo "$walls" | median)
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.0f", a / b; else print "inf"}'; }

# --- 1. generation ------------------------------------------------------------
"$TD" dga list --format json >"$GEN/known.json"
# The families `--family all` generates: those with a known entry.
FAMILIES=$("$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(f["family"] for f in d["families"] if any(v["known"] for v in f["variants"])))
' "$GEN/known.json")
SKIPPED=$("$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
out = []
for f in d["families"]:
    if not f["variants"]:
        out.append(f["family"] + " (not implemented)")
    for v in f["variants"]:
        if not v["known"]:
            out.append(f["family"] + ("/" + v["variant"] if v["variant"] else "") + " (no known seed)")
print(", ".join(out) or "none")
' "$GEN/known.json")
DRIVERS=" $("$PYTHON3" "$HERE/dga_oracles.py" --families) "
for f in $FAMILIES; do
    case $DRIVERS in *" $f "*) ;; *) die "family $f has known seeds but bench/dga_oracles.py has no driver for it: add one to its FAMILIES table";; esac
done

# Per-family table: the interpreter and oracle directory of each driver.
oracle_cmd() {
    case $1 in
        pandabanker) echo "$PYTHON2 $ORACLE_PANDA" ;;
        *) echo "$PYTHON3 $ORACLE_BADERJ" ;;
    esac
}

log "compiling ranbyus/may/dga.c (gcc -O2, untimed)"
gcc -O2 -o "$WORK/ranbyus-may" "$ORACLE_BADERJ/ranbyus/may/dga.c" 2>"$WORK/gcc.log" || { cat "$WORK/gcc.log" >&2; die "gcc failed"; }
export RANBYUS_MAY_BIN=$WORK/ranbyus-may

log "generation, $FROM .. $TO: families $FAMILIES"
echo "   load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
declare -A O_S T_S N_DOM DRIVER_NOTE
FAIL=0
for f in $FAMILIES; do
    read -r py odir <<<"$(oracle_cmd "$f")"
    repeat "$ORACLE_RUNS" "oracle $f" "$GEN/oracle.$f" "$GEN/oracle.$f.err" 0 \
        "$py" "$HERE/dga_oracles.py" "$f" "$odir" "$FROM" "$TO" "$GEN/known.json"
    O_S[$f]=$MED${FLAG}
    DRIVER_NOTE[$f]=$(grep '^driver:' "$GEN/oracle.$f.err" | sed 's/^driver: //')
    repeat "$RUNS" "takedown $f" "$GEN/td.$f" "$GEN/td.$f.err" 0 \
        "$TD" dga gen --family "$f" --from "$FROM" --to "$TO"
    T_S[$f]=$MED${FLAG}
    sort -u "$GEN/oracle.$f" >"$GEN/oracle.$f.sorted"
    sort -u "$GEN/td.$f" >"$GEN/td.$f.sorted"
    N_DOM[$f]=$(wc -l <"$GEN/td.$f.sorted")
    if ! cmp -s "$GEN/oracle.$f.sorted" "$GEN/td.$f.sorted"; then
        FAIL=1
        echo "DIFFERENT SETS for $f: oracle $(wc -l <"$GEN/oracle.$f.sorted") unique, takedown ${N_DOM[$f]} unique; first differences (< oracle only, > takedown only):" >&2
        comm -3 "$GEN/oracle.$f.sorted" "$GEN/td.$f.sorted" | head -n 10 | sed 's/^\t/> /; t; s/^/< /' >&2
    fi
done
repeat "$RUNS" "takedown all" "$GEN/td.all" "$GEN/td.all.err" 0 \
    "$TD" dga gen --family all --from "$FROM" --to "$TO"
T_ALL=$MED$FLAG
sort -u "$GEN/td.all" >"$GEN/td.all.sorted"
for f in $FAMILIES; do cat "$GEN/oracle.$f"; done | sort -u >"$GEN/oracle.all.sorted"
N_ORACLE_ALL=$(wc -l <"$GEN/oracle.all.sorted")
N_TD_ALL=$(wc -l <"$GEN/td.all.sorted")
if ! cmp -s "$GEN/oracle.all.sorted" "$GEN/td.all.sorted"; then
    FAIL=1
    echo "DIFFERENT SETS for all: oracle $N_ORACLE_ALL unique, takedown --family all $N_TD_ALL unique; first differences (< oracle only, > takedown only):" >&2
    comm -3 "$GEN/oracle.all.sorted" "$GEN/td.all.sorted" | head -n 10 | sed 's/^\t/> /; t; s/^/< /' >&2
fi
[ "$FAIL" = 0 ] || die "the oracles and takedown generate different domains (files in $GEN)"

# Start-up alone, for reading the rows of the small families: there both
# sides spend most of their time starting their process.
repeat "$RUNS" "start-up python3" /dev/null "$GEN/start.err" 0 "$PYTHON3" -c pass
S_PY3=$MED$FLAG
repeat "$RUNS" "start-up python2" /dev/null "$GEN/start.err" 0 "$PYTHON2" -c pass
S_PY2=$MED$FLAG
repeat "$RUNS" "start-up takedown" /dev/null "$GEN/start.err" 0 "$TD" --version
S_TD=$MED$FLAG

# --- 2. match -----------------------------------------------------------------
NAMES_FILE=$WORK/names.txt
STAMP="$NAMES $DGA_PERCENT $FROM $TO $(cksum <"$GEN/td.all.sorted" | cut -d' ' -f1) v1"
if [ -f "$NAMES_FILE" ] && [ "$(cat "$WORK/names.stamp" 2>/dev/null | head -n 1)" = "$STAMP" ]; then
    INSERTED=$(sed -n 2p "$WORK/names.stamp")
    log "match: reusing $NAMES_FILE"
else
    log "match: building $NAMES names ($DGA_PERCENT % DGA) into $NAMES_FILE (untimed)"
    rm -f "$WORK/names.stamp"
    INSERTED=$("$PYTHON3" "$HERE/dga_names.py" "$NAMES" "$(awk -v p="$DGA_PERCENT" 'BEGIN {print p / 100}')" \
        "$GEN/td.all.sorted" "$NAMES_FILE")
    printf '%s\n%s\n' "$STAMP" "$INSERTED" >"$WORK/names.stamp"
fi
cat "$NAMES_FILE" >/dev/null # page cache warm
echo not-a-dga-name.example >"$WORK/one.txt"
MATCH=(dga match --family all --from "$FROM" --to "$TO" -)
STDIN=$WORK/one.txt repeat "$RUNS" "index build (match of 1 name)" /dev/null "$WORK/match1.err" 1 \
    "$TD" "${MATCH[@]}"
T_INDEX=$MED$FLAG
STDIN=$NAMES_FILE repeat "$RUNS" "match $NAMES names" /dev/null "$WORK/match.err" 0 \
    "$TD" "${MATCH[@]}"
T_MATCH=$MED$FLAG
COUNTS=$(grep -o '[0-9]* names looked up, [0-9]* matched' "$WORK/match.err" || true)
READ=$(awk '{print $1}' <<<"$COUNTS")
MATCHED=$(awk '{print $5}' <<<"$COUNTS")
[ "$READ" = "$NAMES" ] || { cat "$WORK/match.err" >&2; die "match read ${READ:-?} names, not $NAMES"; }
[ "$MATCHED" -ge "$INSERTED" ] || { cat "$WORK/match.err" >&2; die "match found $MATCHED names, fewer than the $INSERTED DGA names put in"; }
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# --- report -------------------------------------------------------------------
num() { tr -d '*' <<<"$1"; }
{
    echo "## takedown dga against the reference implementations, $FROM .. $TO"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(uname -m), $NPROC CPUs, takedown $("$TD" --version 2>/dev/null | awk '{print $NF}'),"
    echo "$("$PYTHON3" --version 2>&1), $("$PYTHON2" --version 2>&1), $(gcc --version | head -n 1)."
    echo "Wall seconds: oracle median of $ORACLE_RUNS, takedown median of $RUNS; * = a run was contended."
    echo
    echo "### 1. Generation (every known seed, every day)"
    echo
    echo "| family | unique domains | oracle s | takedown s | ratio |"
    echo "|---|---:|---:|---:|---:|"
    SUM=0
    for f in $FAMILIES; do
        o=$(num "${O_S[$f]}"); t=$(num "${T_S[$f]}")
        SUM=$(awk -v a="$SUM" -v b="$o" 'BEGIN {print a + b}')
        r=$(ratio "$o" "$t")
        mark=""; [ "$r" != inf ] && [ "$r" -lt 100 ] && mark=" (below 100x)"
        printf '| %s | %s | %s | %s | %sx%s |\n' "$f" "${N_DOM[$f]}" "${O_S[$f]}" "${T_S[$f]}" "$r" "$mark"
    done
    r=$(ratio "$SUM" "$(num "$T_ALL")")
    mark=""; [ "$r" != inf ] && [ "$r" -lt 100 ] && mark=" (below 100x)"
    printf '| **total** (sum of oracles; takedown `--family all`) | %s | %.3f | %s | %sx%s |\n' \
        "$N_TD_ALL" "$SUM" "$T_ALL" "$r" "$mark"
    echo
    echo "Same domains: yes, per family and in total ($N_ORACLE_ALL unique from the oracles,"
    echo "$N_TD_ALL from \`takedown dga gen --family all\`, $(wc -l <"$GEN/td.all") lines with repeats across periods)."
    echo "Not generated by either side: $SKIPPED."
    echo "Process start-up alone (in every row above): python3 $S_PY3 s, python2 $S_PY2 s,"
    echo "takedown $S_TD s (\`--version\`)."
    echo
    echo "How the oracles ran (calls per seed):"
    for f in $FAMILIES; do echo "- ${DRIVER_NOTE[$f]}"; done
    echo
    echo "### 2. Match"
    echo
    mt=$(num "$T_MATCH"); it=$(num "$T_INDEX")
    rate=$(awk -v n="$NAMES" -v t="$mt" 'BEGIN {printf "%.0f", n / t}')
    net=$(awk -v n="$NAMES" -v t="$mt" -v i="$it" 'BEGIN {if (t > i) printf "%.0f", n / (t - i); else print "n/a"}')
    echo "| what | s | names/s |"
    echo "|---|---:|---:|"
    echo "| index build (\`dga match --family all\` of 1 name) | $T_INDEX | |"
    echo "| \`dga match --family all\` of $NAMES names | $T_MATCH | $rate |"
    echo "| the same, index build subtracted | | $net |"
    echo
    echo "$INSERTED of the names are DGA domains ($DGA_PERCENT %, mixed case, a fifth under www.);"
    echo "takedown: $COUNTS (at least $INSERTED expected)."
    if [ "$rate" -lt 1000000 ]; then echo "Below the target of 1,000,000 names/s."; else echo "Target of 1,000,000 names/s met."; fi
    if [ "$CONTENDED_RUNS" -gt 0 ]; then
        echo "$CONTENDED_RUNS timed runs were contended (other processes used over 5% of the CPUs)."
    fi
} | tee "$WORK/results.md"

if [ "${PROFILE:-0}" = 1 ]; then
    command -v perf >/dev/null || die "PROFILE=1 needs perf"
    log "perf: takedown dga gen --family all"
    perf record -q -g -o "$WORK/perf.gen" "$TD" dga gen --family all --from "$FROM" --to "$TO" >/dev/null 2>&1
    perf report -i "$WORK/perf.gen" --stdio --no-children 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 15
    log "perf: takedown dga match of $NAMES names"
    perf record -q -g -o "$WORK/perf.match" "$TD" "${MATCH[@]}" <"$NAMES_FILE" >/dev/null 2>&1 || true
    perf report -i "$WORK/perf.match" --stdio --no-children 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 15
fi
echo "(report also in $WORK/results.md)" >&2
