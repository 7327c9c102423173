#!/usr/bin/env bash
# takedown serve: the load test (200 concurrent clients, good and bad
# traffic mixed) and the race against clamd over INSTREAM, takedown's own
# clamd port and its HTTP API, for 4 KiB, 1 MiB and 20 MiB files.
#
#   bash bench/serve.sh              # both
#   bash bench/serve.sh load         # the load test only
#   bash bench/serve.sh race         # the race only
#
# Knobs: SKIP_BUILD=1, SETTLE=1 (wait for idle CPUs), SECONDS_PER_RUN (default 10), CONCURRENCY (default 8),
# CLIENTS (default 200), ROUNDS (default 13), IOCS (default 100000).
# Needs clamd (Debian clamav-daemon) for the race, python3 for the IOCs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
W="$HERE/work/serve"
mkdir -p "$W"
# The compiled-rules cache, as in production (a start fills it).
mkdir -p "$W/cache" && chmod 700 "$W/cache"
WHAT=${1:-all}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONCURRENCY=${CONCURRENCY:-8}
CLIENTS=${CLIENTS:-200}
ROUNDS=${ROUNDS:-13}
IOCS=${IOCS:-100000}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
TAKEDOWN="$TARGET_DIR/release/takedown"
LOADGEN="$TARGET_DIR/release/loadgen"

# log, die and settle (waits until the CPUs are idle: another build would
# skew a race on a small machine).
source "$HERE/lib.sh"

if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --locked -p takedown -p takedown-loadgen)
fi
[ -x "$TAKEDOWN" ] && [ -x "$LOADGEN" ] || die "build takedown and loadgen first"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# start_takedown NAME ARGS...: starts takedown serve on free ports; sets
# TD_PID, TD_HTTP, TD_CLAMD.
start_takedown() {
    local name=$1; shift
    rm -f "$W/ready.$name"
    "$TAKEDOWN" serve --http 127.0.0.1:0 --clamd 127.0.0.1:0 --cache-dir "$W/cache" \
        --ready-file "$W/ready.$name" "$@" 2>"$W/log.$name" &
    TD_PID=$!
    PIDS+=("$TD_PID")
    for _ in $(seq 600); do
        [ -s "$W/ready.$name" ] && break
        kill -0 "$TD_PID" 2>/dev/null || die "takedown serve died: $(tail -5 "$W/log.$name")"
        sleep 0.1
    done
    TD_HTTP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"][0])' "$W/ready.$name")
    TD_CLAMD=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["clamd_tcp"][0])' "$W/ready.$name")
}

stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

load_test() {
    local max_upload=$((16 << 20))
    log "load test: $CLIENTS clients x $ROUNDS requests, mixed good and bad traffic"
    start_takedown load --max-upload 16M --memory-buffer 256K --idle-timeout 10
    # Bound: every admitted request's in-memory part (256 x 256 KiB), each
    # worker's scan buffer (2 x 16 MiB), plus the process itself.
    "$LOADGEN" load --http "$TD_HTTP" --clamd "$TD_CLAMD" --clients "$CLIENTS" \
        --rounds "$ROUNDS" --max-upload "$max_upload" --pid "$TD_PID" --max-rss-mb 300 \
        | tee "$W/load.txt"
    kill -0 "$TD_PID" || die "takedown serve died under load"
    stop "$TD_PID"
    if grep -q panicked "$W/log.load"; then die "panic in the log: $(grep -m3 panicked "$W/log.load")"; fi
}

race() {
    command -v clamd >/dev/null || die "clamd not found (apt-get install clamav-daemon)"
    log "signatures: $IOCS SHA-256 IOCs + EICAR + ClamAV's test file, for both"
    mkdir -p "$W/clamdb" "$W/tdsigs"
    python3 - "$W" "$IOCS" <<'EOF'
import math, random, sys
w, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(424242)
lo, hi = math.log(1024), math.log(16 << 20)
with open(f"{w}/tdsigs/iocs.hsb", "w") as f:
    for i in range(count):
        f.write(f"{rng.randbytes(32).hex()}:{int(math.exp(rng.uniform(lo, hi)))}:Bench.Ioc.{i}\n")
EOF
    cp "$W/tdsigs/iocs.hsb" "$W/clamdb/iocs.hsb"
    # What takedown's built-in pack holds, in ClamAV's forms: EICAR as a
    # body signature at offset 0 (as the built-in YARA rule), clam.exe by
    # its SHA-256 (as the built-in .hsb).
    eicar_hex=$(printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' | od -An -tx1 | tr -d ' \n')
    echo "Eicar-Test-Signature:0:0:$eicar_hex" > "$W/clamdb/eicar.ndb"
    echo "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495:544:Clamav.Test.File-6" > "$W/clamdb/clamtest.hsb"

    local port=$((20000 + RANDOM % 20000))
    cat > "$W/clamd.conf" <<EOF
DatabaseDirectory $W/clamdb
TCPSocket $port
TCPAddr 127.0.0.1
Foreground yes
LogFile $W/clamd.log
LogTime yes
StreamMaxLength 100M
MaxFileSize 100M
MaxScanSize 400M
SelfCheck 0
User $(id -un)
EOF
    log "starting clamd $(clamd --version | head -1)"
    rm -f "$W/clamd.log"
    clamd --config-file="$W/clamd.conf" >/dev/null 2>&1 &
    CLAMD_PID=$!
    PIDS+=("$CLAMD_PID")
    for _ in $(seq 1200); do
        python3 - "$port" <<'EOF' 2>/dev/null && break
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"zPING\0")
assert s.recv(16) == b"PONG\0"
EOF
        kill -0 "$CLAMD_PID" 2>/dev/null || die "clamd died: $(tail -5 "$W/clamd.log")"
        sleep 0.1
    done
    # clamd forks nothing in the foreground: its PID is the server.
    # takedown: the same IOCs plus its built-in pack (EICAR, clam.exe).
    # A first start fills the compiled-rules cache, as any earlier start
    # of a deployed service has.
    start_takedown race -s "$W/tdsigs"
    stop "$TD_PID"
    start_takedown race -s "$W/tdsigs"

    log "sanity: both find EICAR and clam.exe, neither a clean file"
    python3 - "$port" "${TD_CLAMD##*:}" <<'EOF'
import socket, struct, sys
eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
def ask(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"zINSTREAM\0" + struct.pack(">I", len(data)) + data + struct.pack(">I", 0))
    out = b""
    while not out.endswith(b"\0"):
        d = s.recv(4096)
        if not d:
            break
        out += d
    return out.decode()
samples = [("eicar", eicar), ("clean", b"hello" * 100)]
try:
    samples.append(("clam.exe", open("/usr/share/clamav-testfiles/clam.exe", "rb").read()))
except OSError:
    pass
for name, data in samples:
    replies = [ask(int(p), data) for p in sys.argv[1:]]
    print(f"   {name:9} clamd: {replies[0]!r:45} takedown: {replies[1]!r}")
    if ("FOUND" in replies[0]) != ("FOUND" in replies[1]):
        sys.exit("the two servers disagree")
EOF

    : > "$W/race.jsonl"
    for size in 4096 1048576 20971520; do
        for target in "clamd INSTREAM|clamd|127.0.0.1:$port|$CLAMD_PID" \
                      "takedown clamd INSTREAM|clamd|$TD_CLAMD|$TD_PID" \
                      "takedown HTTP|http|$TD_HTTP|$TD_PID"; do
            IFS='|' read -r label proto addr pid <<<"$target"
            log "$label, $size-byte files, $CONCURRENCY clients, ${SECONDS_PER_RUN}s"
            # SETTLE=1 waits for idle CPUs before each run (up to 10 min
            # each); the load average is reported either way.
            [ -n "${SETTLE:-}" ] && settle
            echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
            out=$("$LOADGEN" race --proto "$proto" --addr "$addr" --size "$size" \
                --concurrency "$CONCURRENCY" --seconds "$SECONDS_PER_RUN" --pid "$pid")
            echo "   $out" >&2
            printf '{"server":"%s","size":%s,"result":%s}\n' "$label" "$size" "$out" >> "$W/race.jsonl"
        done
    done
    python3 - "$W/race.jsonl" <<'EOF' | tee "$W/race.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def human(n):
    return {4096: "4 KiB", 1048576: "1 MiB", 20971520: "20 MiB"}.get(n, str(n))
print("| size | server | req/s | p50 ms | p99 ms | peak RSS MB | errors | vs clamd |")
print("|---|---|---:|---:|---:|---:|---:|---|")
for size in sorted({r["size"] for r in rows}):
    of = [r for r in rows if r["size"] == size]
    base = next(r["result"] for r in of if r["server"] == "clamd INSTREAM")
    for r in of:
        x = r["result"]
        ratio = ""
        if r["server"] != "clamd INSTREAM" and base["rps"] > 0:
            ratio = f'**{x["rps"] / base["rps"]:.1f}x** req/s, p99 {x["p99_ms"] / base["p99_ms"]:.2f}x' if base["p99_ms"] else ""
        print(f'| {human(size)} | {r["server"]} | {x["rps"]:.0f} | {x["p50_ms"]:.2f} | {x["p99_ms"]:.2f} | {x["peak_rss_kb"] / 1024:.0f} | {x["errors"]} | {ratio} |')
EOF
    stop "$TD_PID"
    stop "$CLAMD_PID"
}

case "$WHAT" in
    load) load_test ;;
    race) race ;;
    all) load_test; race ;;
    *) die "usage: bench/serve.sh [load|race|all]" ;;
esac
