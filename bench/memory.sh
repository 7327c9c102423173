#!/usr/bin/env bash
# bench/memory.sh: process memory, takedown against libyara's `yara`, side
# by side in one run.
#
#   Processes: VICTIMS (20) test processes of VICTIM_MIB (200) MiB of heap
#   each, filled with pseudo-random bytes (bench/memvictim.c, compiled
#   here with gcc), EICAR planted in the heap of two of them; EXTRA (10)
#   everyday processes (python3, perl, sleep: interpreters and their
#   libraries); with ALL_PROCESSES=1 also every other process of the
#   machine (not kernel threads). The PID list is taken once; both tools
#   get exactly it.
#
#   Rules: the signature-base YARA files (Neo23x0/signature-base, its
#   `yara/` directory, given as RULES_DIR) that BOTH tools load whole
#   (bench/memrules.py: each file compiled alone by yarac with the Loki
#   externals defined; `takedown sigs check` for takedown; a file either
#   one cannot load whole is left out for both), plus one rule matching
#   the EICAR string anywhere (the planted marker). No network needed.
#
#   (a) takedown scan --pid P... (all PIDs in one run, its workers over
#       the processes; memory with the YARA rules by blocks, executables
#       with every engine) -- compiled rules cached by an untimed run.
#   (b) yara -C RULES.yarc PID, once per PID, one after the other: the
#       yara CLI scans one process per run (it attaches with ptrace and
#       stops the process while it reads it) -- rules precompiled by yarac.
#   (c) diagnostic: the same yara runs, NPROC at a time (xargs -P). Peak
#       RSS is then that of the largest single yara, not their sum.
#
#   Target (issue 21): takedown at least 2x faster than yara over the same
#   PIDs with the same rules, at lower peak RSS.
#
# Usage (from the repository root):
#   bash bench/memory.sh /path/to/signature-base/yara
#   RULES_DIR=/path/to/signature-base bash bench/memory.sh   # yara/ is found below
# Knobs (environment): RULES_DIR, VICTIMS, VICTIM_MIB, EXTRA, ALL_PROCESSES,
# RUNS (timed runs per tool, default 3, medians reported), SKIP_BUILD=1,
# TD (the takedown binary), SETTLE_MAX (seconds to wait for idle CPUs).
# Needs root (or CAP_SYS_PTRACE) for ALL_PROCESSES=1; the test processes
# are the user's own. Dependencies: bash, gcc, python3, GNU time (Debian:
# time), yara and yarac (Debian: yara).
# Everything generated goes to bench/work/memory/ (git-ignored); the
# results table to bench/work/memory-results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/bench
W=$ROOT/bench/work/memory
RULES_DIR=${1:-${RULES_DIR:-}}
VICTIMS=${VICTIMS:-20}
VICTIM_MIB=${VICTIM_MIB:-200}
EXTRA=${EXTRA:-10}
ALL_PROCESSES=${ALL_PROCESSES:-0}
RUNS=${RUNS:-3}
TD=${TD:-$ROOT/target/release/takedown}
EXTERNALS=(filename filepath extension filetype owner)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

need gcc "install gcc"
need python3 "install python3"
need yara "install libyara's command-line tools (apt-get install yara)"
need yarac "install libyara's command-line tools (apt-get install yara)"
[ -x /usr/bin/time ] || die "GNU time is needed (apt-get install time)"
[ -n "$RULES_DIR" ] || die "give signature-base's yara/ directory: bash bench/memory.sh DIR (or RULES_DIR=DIR)"
[ -d "$RULES_DIR/yara" ] && RULES_DIR=$RULES_DIR/yara
[ -d "$RULES_DIR" ] || die "no rules directory at $RULES_DIR"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release --locked -p takedown)
fi
[ -x "$TD" ] || die "no takedown binary at $TD"

mkdir -p "$W"
PIDS_STARTED=()
cleanup() {
    for p in "${PIDS_STARTED[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# ---------------------------------------------------------------- rules
log "rules: the files of $RULES_DIR that yarac and takedown both load whole"
KEY="$(cat "$RULES_DIR"/*.yar* | md5sum) $(yara --version) $("$TD" --version) $(md5sum <"$HERE/memrules.py")"
if [ "$(cat "$W/rules.key" 2>/dev/null)" != "$KEY" ] || [ ! -d "$W/rules" ]; then
    python3 "$HERE/memrules.py" "$RULES_DIR" "$W/rules" "$TD" "$(command -v yarac)" "$NPROC" >"$W/rules.counts"
    echo "$KEY" >"$W/rules.key"
fi
echo "   signature-base files: $(cat "$W/rules.counts")" >&2
awk -F'\t' '$2 != "common" {printf "   left out %s (%s): %s\n", $1, $2, $3}' "$W/memory-rules.tsv" >&2
# The marker: EICAR anywhere, written as hex so that no file holds it.
EICAR_HEX=$(printf '%s%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' 'EICAR-STANDARD-ANTIVIRUS-' 'TEST-FILE!$H+H*' |
    od -An -tx1 | tr -s ' \n' ' ')
printf 'rule Bench_Eicar_Marker { strings: $e = {%s} condition: $e }\n' "$EICAR_HEX" >"$W/rules/zz-bench-marker.yar"
RULE_FILES=$(find "$W/rules" -type f | wc -l)

YARA_DEFS=()
for e in "${EXTERNALS[@]}"; do YARA_DEFS+=(-d "$e="); done
# One namespace per file (libyara otherwise puts all files in one, and
# signature-base reuses rule names across files).
YARA_NS_ARGS=()
for f in "$W"/rules/*; do YARA_NS_ARGS+=("$(basename "$f"):$f"); done
yarac "${YARA_DEFS[@]}" "${YARA_NS_ARGS[@]}" "$W/rules.yarc" 2>"$W/err.yarac" ||
    die "yarac failed: $(tail -3 "$W/err.yarac")"
echo "   takedown: filling its compiled-rules cache (untimed)" >&2
"$TD" sigs check --cache-dir "$W/cache" "$W/rules" >"$W/out.sigs-check" 2>&1 || true
TD_RULES=$(grep -m1 -o '[0-9,]* YARA rules' "$W/out.sigs-check" || echo "? YARA rules")

# ---------------------------------------------------------------- processes
log "starting $VICTIMS processes of $VICTIM_MIB MiB and $EXTRA everyday ones"
gcc -O2 -o "$W/memvictim" "$HERE/memvictim.c"
VICTIM_PIDS=()
for i in $(seq 1 "$VICTIMS"); do
    mark=""
    # EICAR in the heap of two of them.
    if [ "$i" -eq 3 ] || [ "$i" -eq "$VICTIMS" ]; then mark=eicar; fi
    "$W/memvictim" "$VICTIM_MIB" "$i" $mark >"$W/victim.$i.out" &
    VICTIM_PIDS+=("$!")
    PIDS_STARTED+=("$!")
done
EXPECTED_MARKED="${VICTIM_PIDS[2]} ${VICTIM_PIDS[$((VICTIMS - 1))]}"
for i in $(seq 1 "$EXTRA"); do
    case $((i % 3)) in
        0) python3 -c 'import time, json, email, http.client; time.sleep(1e6)' & ;;
        1) perl -e 'sleep 1000000' & ;;
        2) sleep 1000000 & ;;
    esac
    PIDS_STARTED+=("$!")
done
for i in $(seq 1 "$VICTIMS"); do
    until grep -q ready "$W/victim.$i.out" 2>/dev/null; do sleep 0.2; done
done
sleep 1
PIDS=("${PIDS_STARTED[@]}")
if [ "$ALL_PROCESSES" = 1 ]; then
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        # Kernel threads and zombies have an empty command line (files of
        # /proc have size 0 for `test -s`: read a byte).
        [ -n "$(head -c 1 "$d/cmdline" 2>/dev/null | tr -d '\0')" ] || continue
        [ "$p" = "$$" ] && continue
        case " ${PIDS[*]} " in *" $p "*) continue ;; esac
        PIDS+=("$p")
    done
fi
echo "   ${#PIDS[@]} processes; EICAR planted in PIDs $EXPECTED_MARKED" >&2
printf '%s\n' "${PIDS[@]}" >"$W/pids"

TD_ARGS=()
for p in "${PIDS[@]}"; do TD_ARGS+=(--pid "$p"); done
CMD_takedown=("$TD" scan --no-builtin -s "$W/rules" --cache-dir "$W/cache" --format json --no-progress "${TD_ARGS[@]}")
# yara: exit 1 when it cannot attach to one PID; the loop goes on.
CMD_yara=(bash -c 'for p in $(cat "$1"); do yara -C "$2" "$p" || true; done' yara-loop "$W/pids" "$W/rules.yarc")
CMD_yara_parallel=(bash -c 'xargs -P "$3" -n 1 yara -C "$2" <"$1" || true' yara-par "$W/pids" "$W/rules.yarc" "$NPROC")

# ---------------------------------------------------------------- race
log "race: $RUNS rounds of takedown, yara (one PID at a time), yara ($NPROC at a time)"
CONTENDED_RUNS=0
for id in takedown yara yara_parallel; do : >"$W/runs.$id"; done
for r in $(seq 1 "$RUNS"); do
    for id in takedown yara yara_parallel; do
        declare -n cmd="CMD_$id"
        try=0
        while :; do
            timed "$id.r$r" "${cmd[@]}"
            [ "$CONTENDED" = 1 ] && [ "$try" -lt "${RETRIES:-2}" ] || break
            try=$((try + 1))
            echo "   retrying $id.r$r (contended)" >&2
        done
        unset -n cmd
        [ "$CONTENDED" = 1 ] && CONTENDED_RUNS=$((CONTENDED_RUNS + 1))
        echo "$WALL $RSS $FOREIGN $CONTENDED" >>"$W/runs.$id"
    done
done
for id in takedown yara yara_parallel; do cp "$W/out.$id.r1" "$W/out.$id"; done

# ---------------------------------------------------------------- report
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
python3 - "$W" "$NPROC" "$CPU" "$VICTIMS" "$VICTIM_MIB" "$EXTRA" "$ALL_PROCESSES" "${#PIDS[@]}" \
    "$EXPECTED_MARKED" "$RULE_FILES" "$(cat "$W/rules.counts")" "$TD_RULES" "$CONTENDED_RUNS" \
    "$("$TD" --version) ; yara $(yara --version)" <<'PY' | tee "$ROOT/bench/work/memory-results.md"
import collections, json, statistics, sys
(w, nproc, cpu, victims, mib, extra, allp, npids, marked, rule_files, counts, td_rules,
 contended, versions) = sys.argv[1:]
marked = set(int(p) for p in marked.split())

def runs(id):
    rows = [l.split() for l in open(f"{w}/runs.{id}")]
    wall = statistics.median(float(r[0]) for r in rows)
    rss = statistics.median(int(r[1]) for r in rows)
    log = ", ".join(f"{float(r[0]):.2f} s/{int(r[1]) / 1024:.0f} MB" + (" (contended)" if r[3] == "1" else "")
                    for r in rows)
    return wall, rss / 1024, log

def yara_hits(id):
    hits = collections.defaultdict(set)
    for line in open(f"{w}/out.{id}", errors="replace"):
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            hits[int(parts[1])].add(parts[0].split(":")[-1])
    return hits

def td_hits():
    hits = collections.defaultdict(set)
    summary = {}
    for line in open(f"{w}/out.takedown"):
        o = json.loads(line)
        if o.get("type") == "summary":
            summary = o
        elif o.get("type") == "finding" and o.get("process") and o["path"].endswith("/mem"):
            for d in o["detections"]:
                hits[o["process"]["pid"]].add(d["name"])
    return hits, summary

td, summ = td_hits()
ya, yp = yara_hits("yara"), yara_hits("yara_parallel")
mem = summ.get("memory_scanned", 0)
print(f"{npids} processes: {victims} of {mib} MiB of pseudo-random heap (EICAR planted in 2), {extra} everyday "
      f"ones (python3, perl, sleep){', and every other process of the machine' if allp == '1' else ''}; "
      f"{mem / 1e6:,.0f} MB of memory scanned by takedown; {nproc} cores ({cpu}).")
print(f"Rules: {rule_files} files ({counts}; the rest left out for both), plus the EICAR marker rule; "
      f"takedown: {td_rules}. Medians of the runs; {versions}.\n")
print("| tool | wall s | MB/s | peak RSS MB | processes with a match | marker found in | runs | takedown vs it |")
print("|---|---:|---:|---:|---:|---|---|---|")
tw, tr, tl = runs("takedown")
for id, name, hits in [("takedown", "**takedown scan --pid ...** (all PIDs, one run)", td),
                       ("yara", "yara 4 -C, one PID per run, one after the other", ya),
                       ("yara_parallel", f"yara 4 -C, one PID per run, {nproc} at a time (diagnostic; RSS of one yara)", yp)]:
    wall, rss, log = runs(id)
    found = sorted(p for p, rules in hits.items() if "Bench_Eicar_Marker" in rules)
    vs = "" if id == "takedown" else (f"{wall / tw:.2f}x faster, peak RSS "
                                      + (f"{rss / tr:.2f}x lower" if tr < rss else f"{tr / rss:.2f}x higher"))
    print(f"| {name} | {wall:.2f} | {mem / 1e6 / wall:,.0f} | {rss:.0f} | {len(hits)} | "
          f"{'both planted' if set(found) == marked else found} | {log} | {vs} |")
only_td = {p: td[p] - ya.get(p, set()) for p in td if td[p] - ya.get(p, set())}
only_ya = {p: ya[p] - td.get(p, set()) for p in ya if ya[p] - td.get(p, set())}
print(f"\nMatches (process, rule) found by takedown only: {sum(len(v) for v in only_td.values())} {dict(only_td) or ''}; "
      f"by yara only: {sum(len(v) for v in only_ya.values())} {dict(only_ya) or ''}.")
yw, yr, _ = runs("yara")
print(f"\nTarget: at least 2x faster than yara at lower peak RSS: {yw / tw:.2f}x, RSS {yr:.0f} vs {tr:.0f} MB: "
      f"{'met' if yw / tw >= 2 and tr < yr else 'NOT met'}.")
if contended != "0":
    print(f"\nwarning: {contended} timed runs saw other CPU load.")
PY
