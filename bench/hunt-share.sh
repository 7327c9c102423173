#!/usr/bin/env bash
# bench/hunt-share.sh: shared log hunting (`takedown hunt --nats URL
# --publish` and `--worker`) against `takedown hunt` alone, side by side
# in one run, on this machine.
#
#   A generated Zeek dns.log of LINES lines (bench/mkhunt.py, default
#   3,000,000: about 520 MB) and INDICATORS (default 100,000) random
#   indicator names plus the DGA windows of every family over
#   DGA_FROM..DGA_TO, hunted by:
#     single  `takedown hunt` alone (its default threads: every core);
#     w1      a publisher and one worker, the batches carrying their lines;
#     w2      a publisher and two workers, likewise;
#     p1, p2  the same with the batches sent by path (`--by-path`; the
#             workers, given `--read-root` above the log, read each
#             range themselves and check its BLAKE3 digest).
#   A worker hunts one batch at a time (one core). Every worker and the
#   publisher run on this machine with a private
#   `nats-server -js` on loopback (its own port and store, killed at
#   exit), so the publisher, the workers and the server share its cores.
#   Timed: the publisher from start to report (workers are started and
#   ready before). Targets: two workers at least 1.8x as fast as one,
#   and within 10% of `single`, checked for both ways of sending. Every
#   shared run's report must equal the single run's, but for the
#   summary's start time, duration and host.
#
# Knobs (environment): LINES, INDICATORS, DGA_FROM (2016-11-01), DGA_TO
# (2016-11-03), RUNS (5; medians shown), BATCH_BYTES (the publisher's
# --batch-bytes; default its own), SKIP_BUILD=1, BIN
# (the takedown binary), W (scratch, default bench/work/hunt-share; needs
# about 3x the log's size), SETTLE_MAX (seconds to wait for idle CPUs
# before each run, default 600), RETRIES (re-runs of a contended run, 2).
# Dependencies: bash, python3, GNU time, nats-server (Debian nats-server).
#
# Reproduce (from the repository root):  bash bench/hunt-share.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
W=${W:-$HERE/work/hunt-share}
LINES=${LINES:-3000000}
INDICATORS=${INDICATORS:-100000}
DGA_FROM=${DGA_FROM:-2016-11-01}
DGA_TO=${DGA_TO:-2016-11-03}
RUNS=${RUNS:-5}
BIN=${BIN:-$ROOT/target/release/takedown}
CORPUS=$W/logs
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

NATS=$(PATH="$PATH:/usr/sbin:/sbin" command -v nats-server) || die "nats-server not found (apt-get install nats-server)"
need python3 "Debian: python3"
[ -x /usr/bin/time ] || die "GNU time is needed (Debian: time)"
if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build --release --locked -p takedown)
fi
[ -x "$BIN" ] || die "$BIN is not built"
mkdir -p "$W" "$CORPUS"
# The binary is copied: a rebuild while the bench runs must not change it.
cp "$BIN" "$W/takedown"
T="$W/takedown"

# Inputs, untimed, kept between runs of the script.
KEY="$LINES.$INDICATORS.$DGA_FROM.$DGA_TO"
if [ ! -e "$CORPUS/done.$KEY" ]; then
    rm -f "$CORPUS"/*
    log "generating $LINES lines in $CORPUS"
    "$T" dga gen --family all --from "$DGA_FROM" --to "$DGA_TO" 2>/dev/null |
        awk 'NF {print $NF}' | sort -u >"$W/dga.txt"
    python3 "$HERE/mkhunt.py" "$CORPUS" "$LINES" "$INDICATORS" 0 "$W/dga.txt"
    mv "$CORPUS/ind.txt" "$CORPUS/expected.txt" "$W/"
    rm -f "$CORPUS/eve.json"
    touch "$CORPUS/done.$KEY"
fi
LOG=$CORPUS/dns.log
BYTES=$(stat -c %s "$LOG")
HUNT=(-s "$W/ind.txt" --dga all --from "$DGA_FROM" --to "$DGA_TO" --format json)
PUB_EXTRA=()
[ -n "${BATCH_BYTES:-}" ] && PUB_EXTRA=(--batch-bytes "$BATCH_BYTES")

PIDS=()
NATS_PID=
cleanup() {
    for p in "${PIDS[@]}" $NATS_PID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# A private nats-server: a port of its choosing (named in its log), its
# own store, on loopback only.
rm -rf "$W/js" "$W/nats.log"
cat >"$W/nats.conf" <<EOF
host: "127.0.0.1"
port: -1
log_file: "$W/nats.log"
jetstream { store_dir: "$W/js" }
EOF
"$NATS" -c "$W/nats.conf" >/dev/null 2>&1 &
NATS_PID=$!
for _ in $(seq 100); do
    PORT=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$W/nats.log" 2>/dev/null | head -n 1 || true)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "${PORT:-}" ] || die "nats-server did not start: $(cat "$W/nats.log" 2>/dev/null)"
URL="nats://127.0.0.1:$PORT"

# CPU seconds (user + sys) a live process has used so far.
proc_cpu() {
    awk -v t="$CLK_TCK" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# start_workers N [ARGS...]: N workers (with ARGS), ready (their
# consumer found) on return.
WPIDS=()
start_workers() {
    local i n=$1
    shift
    WPIDS=()
    for i in $(seq "$n"); do
        "$T" hunt --nats "$URL" --worker "${HUNT[@]}" "$@" 2>"$W/worker.$i.err" &
        WPIDS+=($!)
        PIDS+=($!)
    done
    for i in $(seq "$n"); do
        for _ in $(seq 600); do
            grep -q "worker ready" "$W/worker.$i.err" 2>/dev/null && continue 2
            sleep 0.1
        done
        die "worker $i did not get ready: $(cat "$W/worker.$i.err")"
    done
}

# stop_workers: Ctrl-C to each; sets WBATCHES ("a+b" batches done).
stop_workers() {
    local p i=0
    WBATCHES=
    for p in "${WPIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${WPIDS[@]}"; do
        wait "$p" || die "a worker failed: $(tail -n 3 "$W"/worker.*.err)"
        i=$((i + 1))
        n=$(sed -n 's/.*worker stopped: \([0-9]*\) batches done.*/\1/p' "$W/worker.$i.err")
        WBATCHES="${WBATCHES:+$WBATCHES+}${n:-?}"
    done
    PIDS=()
}

# The streams exist once a publisher has run: a small hunt first (also
# a check that the whole chain works), untimed.
head -n 20000 "$LOG" >"$W/small.log"
"$T" hunt --nats "$URL" --publish "${HUNT[@]}" "$W/small.log" >/dev/null 2>"$W/err.warmup" &
warmup=$!
start_workers 1
rc=0
wait "$warmup" || rc=$?
[ "$rc" -le 1 ] || die "the warm-up shared hunt failed: $(tail -n 5 "$W/err.warmup")"
stop_workers

# shared NAME WORKERS [by-path]: one timed shared run (publisher's wall
# time, workers ready before). Sets WALL, RSS, FOREIGN, CONTENDED like
# lib.sh's timed, and CPU ("publisher/workers/server" seconds).
shared() {
    local name=$1 n=$2 rc=0 b0 b1 s0 s1 user sys wcpu=0 p
    local -a w0=() pub=() wextra=()
    if [ "${3:-}" = by-path ]; then
        pub=(--by-path)
        wextra=(--read-root "$CORPUS")
    fi
    settle
    start_workers "$n" "${wextra[@]}"
    for p in "${WPIDS[@]}"; do w0+=("$(proc_cpu "$p")"); done
    s0=$(proc_cpu "$NATS_PID")
    b0=$(cpu_busy)
    /usr/bin/time -f '%e %M %U %S' -o "$W/time.$name" \
        "$T" hunt --nats "$URL" --publish "${pub[@]}" "${PUB_EXTRA[@]}" "${HUNT[@]}" "$LOG" \
        >"$W/out.$name" 2>"$W/err.$name" || rc=$?
    b1=$(cpu_busy)
    s1=$(proc_cpu "$NATS_PID")
    local i=0
    for p in "${WPIDS[@]}"; do
        wcpu=$(awk -v a="$wcpu" -v b="$(proc_cpu "$p")" -v c="${w0[$i]}" 'BEGIN {printf "%.2f", a + b - c}')
        i=$((i + 1))
    done
    stop_workers
    [ "$rc" -le 1 ] || die "$name: the publisher exited $rc: $(tail -n 5 "$W/err.$name")"
    read -r WALL RSS user sys < <(tail -n 1 "$W/time.$name") || die "no timing for $name"
    local own
    own=$(awk -v u="$user" -v s="$sys" -v w="$wcpu" -v a="$s0" -v b="$s1" 'BEGIN {print u + s + w + b - a}')
    CPU=$(awk -v u="$user" -v s="$sys" -v w="$wcpu" -v a="$s0" -v b="$s1" \
        'BEGIN {printf "%.2f/%.2f/%.2f", u + s, w, b - a}')
    FOREIGN=$(awk -v d=$((b1 - b0)) -v t="$CLK_TCK" -v o="$own" \
        'BEGIN {f = d / t - o; printf "%.2f", (f < 0 ? 0 : f)}')
    CONTENDED=$(awk -v f="$FOREIGN" -v w="$WALL" -v n="$NPROC" \
        'BEGIN {print (f > 0.5 && f > 0.05 * w * n) ? 1 : 0}')
    printf '   %-14s %7.2f s  CPU publisher/workers/server %s s  batches %s  foreign CPU %5.2f s%s\n' \
        "$name" "$WALL" "$CPU" "$WBATCHES" "$FOREIGN" "$([ "$CONTENDED" = 1 ] && echo ' CONTENDED')" >&2
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "$LINES lines ($((BYTES / 1000000)) MB), $RUNS rounds; nats-server on $URL; load average $LOAD_START"
IDS="single w1 w2 p1 p2"
for id in $IDS; do : >"$W/runs.$id"; done
for r in $(seq 1 "$RUNS"); do
    for id in $IDS; do
        try=0
        while :; do
            warm
            case $id in
            single)
                timed "$id.r$r" "$T" hunt "${HUNT[@]}" "$LOG"
                CPU=$(tail -n 1 "$W/time.$id.r$r" | awk '{printf "%.2f", $3 + $4}')
                ;;
            w1) shared "$id.r$r" 1 ;;
            w2) shared "$id.r$r" 2 ;;
            p1) shared "$id.r$r" 1 by-path ;;
            p2) shared "$id.r$r" 2 by-path ;;
            esac
            [ "$CONTENDED" = 1 ] && [ "$try" -lt "${RETRIES:-2}" ] || break
            try=$((try + 1))
            echo "   retrying $id.r$r (contended)" >&2
        done
        [ "$CONTENDED" = 1 ] && CONTENDED_RUNS=$((CONTENDED_RUNS + 1))
        echo "$WALL $RSS $FOREIGN $CONTENDED $CPU" >>"$W/runs.$id"
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$W" "$RUNS" "$LINES" "$BYTES" "$NPROC" "$LOAD_START" "$LOAD_END" \
    "$CONTENDED_RUNS" "$("$NATS" --version 2>&1 | head -n 1)" <<'PY' | tee "$W/results.md"
import json, statistics, sys

w, runs, lines, nbytes, nproc, load0, load1, contended, natsv = sys.argv[1:]
runs = int(runs)


def comparable(path):
    """The report without what differs between two runs of one hunt."""
    out = []
    for line in open(path):
        v = json.loads(line)
        if v.get("type") == "hunt-summary":
            for k in ("started", "elapsed_seconds", "host"):
                v.pop(k, None)
        out.append(v)
    return out


ref = comparable(f"{w}/out.single.r1")
summary = next(v for v in ref if v.get("type") == "hunt-summary")
same = {}
ids = ("single", "w1", "w2", "p1", "p2")
for rid in ids:
    same[rid] = all(comparable(f"{w}/out.{rid}.r{r}") == ref for r in range(1, runs + 1))

rows = {}
for rid in ids:
    rs = [l.split() for l in open(f"{w}/runs.{rid}")]
    walls = [float(r[0]) for r in rs]
    rows[rid] = dict(wall=statistics.median(walls), rss=statistics.median(int(r[1]) for r in rs) / 1024,
                     cpu=[r[4] for r in rs], runs=rs)

what = {
    "single": "`takedown hunt` alone",
    "w1": "publisher + 1 worker, lines in the batches",
    "w2": "publisher + 2 workers, lines in the batches",
    "p1": "publisher + 1 worker, batches by path",
    "p2": "publisher + 2 workers, batches by path",
}
s = rows["single"]["wall"]
mb = int(nbytes) / 1e6
out = [f"Zeek dns.log of {int(lines):,} lines ({mb:,.0f} MB), {summary['matched_events']:,} matched; "
       f"{nproc} cores shared by the publisher, the workers and nats-server ({natsv}); "
       f"load average {load0} at the start, {load1} at the end; {runs} interleaved runs, medians; "
       f"runs still contended: {contended}", "",
       "| run | wall s | MB/s | vs alone | CPU s (publisher / workers / server) | report = alone's |",
       "|---|---:|---:|---:|---|---|"]
for rid, r in rows.items():
    cpu = sorted(range(len(r["cpu"])), key=lambda i: float(r["runs"][i][0]))[(len(r["cpu"]) - 1) // 2]
    out.append(f"| {what[rid]} | {r['wall']:.2f} | {mb / r['wall']:.0f} | {r['wall'] / s:.2f}x | "
               f"{r['cpu'][cpu].replace('/', ' / ')} | {'yes' if same[rid] else '**NO**'} |")
out.append("")
out.append("CPU s: of the median run (`takedown hunt` alone: its own user + sys).")
out.append("")
out.append("Every run (wall s, foreign CPU s):")
for rid, r in rows.items():
    out.append(f"- {rid}: " + ", ".join(f"{float(x[0]):.2f} ({x[2]}{', contended' if x[3] == '1' else ''})"
                                        for x in r["runs"]))
out.append("")


def check(name, ok, detail):
    out.append(f"- [{'x' if ok else ' '}] {name}: {detail}{'' if ok else '  **MISSED**'}")


out.append("Targets:")
for one, two, how in (("p1", "p2", "by path"), ("w1", "w2", "lines in the batches")):
    a, b = rows[one]["wall"], rows[two]["wall"]
    check(f"{how}: 2 workers at least 1.8x one worker", a / b >= 1.8, f"{a / b:.2f}x")
    check(f"{how}: 2 workers within 10% of `takedown hunt` alone", b <= 1.10 * s,
          f"{b:.2f} s vs {s:.2f} s ({b / s - 1:+.0%})")
check("every shared report equals the hunt's alone", all(same.values()),
      ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in same.items()))
print("\n".join(out))
PY
