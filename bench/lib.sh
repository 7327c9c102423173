# Shared by the bench scripts (source it): logging, contention-aware timing
# and interleaved rounds. Expects HERE, W (work dir), RUNS and CORPUS set.

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }

# Contention. Anything else running (a cargo build, tests) skews a race
# badly on a small machine. So:
#  - settle waits (up to 10 min, or SETTLE_MAX seconds) until the CPUs are idle (< 0.2 cores busy
#    over 2 s) before each timed run;
#  - timed measures "foreign" CPU: all CPU time the system spent during the
#    run (from /proc/stat, steal included) minus the timed command's own
#    user+sys. A run with foreign CPU > max(0.5 s, 5% of wall x nproc) is
#    contended: rounds retries it (twice at most, or RETRIES times), and the
#    report flags it.
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)
CONTENDED_RUNS=0
cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
settle() {
    local waited=0 b0 b1
    while :; do
        b0=$(cpu_busy); sleep 2; b1=$(cpu_busy)
        # busy jiffies over 2 s; 0.2 cores = 0.4 s = 0.4 * CLK_TCK jiffies.
        if awk -v d=$((b1 - b0)) -v t="$CLK_TCK" 'BEGIN {exit !(d < 0.4 * t)}'; then
            return
        fi
        if [ "$waited" -ge "${SETTLE_MAX:-600}" ]; then
            echo "   warning: CPUs still busy after ${SETTLE_MAX:-600} s of waiting; timing anyway" >&2
            return
        fi
        [ "$waited" -eq 0 ] && echo "   (CPUs busy with something else, e.g. another build; waiting ...)" >&2
        sleep 8
        waited=$((waited + 10))
    done
}

# make_corpus: the corpus of run.sh in $CORPUS, about TARGET_BYTES of this
# machine's files plus planted samples (mkcorpus.py builds it once and
# reuses it); sets CORPUS_FILES and CORPUS_BYTES.
make_corpus() {
    log "corpus (~$((TARGET_BYTES >> 20)) MiB of this machine's files + planted samples)"
    python3 "$HERE/mkcorpus.py" --out "$CORPUS" --target "$TARGET_BYTES" \
        /usr/lib/x86_64-linux-gnu /usr/share/doc /usr/share \
        /usr/lib/python3 /usr/lib/python3.11 /usr/lib/gcc /usr/lib/jvm /usr/bin
    CORPUS_FILES=$(find "$CORPUS" -type f | wc -l)
    CORPUS_BYTES=$(find "$CORPUS" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
    echo "corpus: $CORPUS_FILES files, $CORPUS_BYTES bytes" >&2
}

# warm: reads the whole corpus so that every timed run starts with it in the
# page cache (not tar to /dev/null: GNU tar skips reading then).
warm() { find "$CORPUS" -type f -print0 | xargs -0 cat >/dev/null; }

# timed NAME CMD...: runs CMD under GNU time, stdout to $W/out.NAME, stderr
# to $W/err.NAME; sets WALL (s) and RSS (peak, KiB). Exit 1 means "found"
# for every tool here; anything above is reported but does not stop the run.
timed() {
    local name=$1; shift
    local rc=0
    local b0 b1 user sys
    settle
    b0=$(cpu_busy)
    /usr/bin/time -f '%e %M %U %S' -o "$W/time.$name" "$@" >"$W/out.$name" 2>"$W/err.$name" || rc=$?
    b1=$(cpu_busy)
    # GNU time writes "Command exited with non-zero status N" first then.
    read -r WALL RSS user sys < <(tail -n 1 "$W/time.$name") || die "no timing for $name"
    FOREIGN=$(awk -v d=$((b1 - b0)) -v t="$CLK_TCK" -v u="$user" -v s="$sys" \
        'BEGIN {f = d / t - u - s; printf "%.2f", (f < 0 ? 0 : f)}')
    CONTENDED=$(awk -v f="$FOREIGN" -v w="$WALL" -v n="$NPROC" \
        'BEGIN {print (f > 0.5 && f > 0.05 * w * n) ? 1 : 0}')
    if [ "$rc" -ge 126 ]; then
        die "$name could not run (exit $rc): $(tail -n 2 "$W/err.$name")"
    elif [ "$rc" -gt 1 ]; then
        echo "warning: $name exited $rc; last lines of its stderr:" >&2
        tail -n 5 "$W/err.$name" >&2
    fi
    printf '   %-22s %7.2f s  %7.1f MiB peak RSS  user+sys %6.2f s  foreign CPU %5.2f s%s  (exit %d)\n' \
        "$name" "$WALL" "$(awk -v r="$RSS" 'BEGIN {print r / 1024}')" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" "$FOREIGN" \
        "$([ "$CONTENDED" = 1 ] && echo ' CONTENDED')" "$rc" >&2
}

# rounds ID...: RUNS rounds; each round warms the page cache and runs every
# ID once (the command is the array CMD_ID), interleaved so that drift
# hits all tools alike. Round 1's output is kept as out.ID for the hit
# lists; every run's "wall rss" goes to $W/runs.ID.
rounds() {
    local id r
    for id in "$@"; do : >"$W/runs.$id"; done
    for r in $(seq 1 "$RUNS"); do
        for id in "$@"; do
            local -n cmd="CMD_$id"
            local try=0
            while :; do
                warm
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
    for id in "$@"; do
        cp "$W/out.$id.r1" "$W/out.$id"
        cp "$W/err.$id.r1" "$W/err.$id"
    done
}

# median ID: sets WALL and RSS to the medians of the runs of ID, and RUNLOG
# to every run ("wall/rss" pairs).
median() {
    WALL=$(awk '{print $1}' "$W/runs.$1" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    RSS=$(awk '{print $2}' "$W/runs.$1" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    RUNLOG=$(awk '{printf "%s%.2f s/%.0f MB%s", (NR > 1 ? ", " : ""), $1, $2 / 1024, \
        ($4 == 1 ? " (contended: " $3 " s foreign CPU)" : "")}' "$W/runs.$1")
}

# row ID RACE TOOL SIGNATURES FILES DETS PEERS: one line of the table (the
# median of ID's runs); PEERS: comma-separated ids to give ratios against.
row() {
    median "$1"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$WALL" "$RSS" \
        "$5" "$6" "$7" "$RUNLOG" >>"$RESULTS"
}

hits() { python3 "$HERE/hits.py" "$1" "$CORPUS" "$W/out.$2" --list "$W/hits.$2"; }

td_summary() {
    grep '"type":"summary"' "$W/out.$1" | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
print("   %s: files_scanned=%s bytes_scanned=%s bytes_read=%s errors=%s skipped=%s"
      % (sys.argv[1], s.get("files_scanned"), s.get("bytes_scanned"), s.get("bytes_read"),
         s.get("errors"), s.get("skipped")))' "$1" >&2 || true
}
