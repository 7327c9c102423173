#!/usr/bin/env bash
# Fleet hunts at scale (issue 22's performance targets), on this machine:
#  1. AGENTS takedown agents (processes, default 200), each over a small
#     tree of its own (FILES files, one EICAR and one marker file), on one
#     nats-server -js on loopback; a hunt issued to all of them; the time
#     from `fleet hunt` until `fleet status` says every host is done.
#  2. One agent over a tree of BIG marker files (default 50,000): the time
#     `fleet results --format json` takes to read and de-duplicate all its
#     findings, as findings per second.
# Prints a Markdown table (also bench/work/fleet/results.md).
#
#   bash bench/fleet.sh                 # builds release first; SKIP_BUILD=1 to skip
#   AGENTS=50 BIG=10000 bash bench/fleet.sh
#
# Needs nats-server (Debian nats-server) and python3 (to make the trees).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
W=${W:-$HERE/work/fleet}
AGENTS=${AGENTS:-200}
FILES=${FILES:-20}
BIG=${BIG:-50000}
BIN=${BIN:-$ROOT/target/release/takedown}
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
NATS=$(PATH="$PATH:/usr/sbin:/sbin" command -v nats-server) || die "nats-server not found (apt-get install nats-server)"
command -v python3 >/dev/null || die "python3 not found"
if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build --release --locked -p takedown)
fi
[ -x "$BIN" ] || die "$BIN is not built"

rm -rf "$W"
mkdir -p "$W"
# The binary is copied: a rebuild while the bench runs must not change it.
cp "$BIN" "$W/takedown"
T="$W/takedown"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

export TAKEDOWN_CACHE_DIR="$W/cache" TAKEDOWN_SIGS_DIR="$W/sigs" TAKEDOWN_VAULT="$W/vault"

# nats-server on a port of its choosing, named in its log.
cat >"$W/nats.conf" <<EOF
host: "127.0.0.1"
port: -1
log_file: "$W/nats.log"
max_connections: 10000
jetstream { store_dir: "$W/js" }
EOF
"$NATS" -c "$W/nats.conf" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    PORT=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$W/nats.log" 2>/dev/null | head -n 1 || true)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "${PORT:-}" ] || die "nats-server did not start: $(cat "$W/nats.log")"
URL="nats://127.0.0.1:$PORT"

# Keys and a bundle with one rule for the marker files.
"$T" sigs keygen -o "$W/key" >/dev/null
mkdir -p "$W/src"
echo 'rule Fleet_Marker { strings: $m = "TAKEDOWN-FLEET-MARKER" condition: $m }' >"$W/src/marker.yar"
"$T" sigs bundle "$W/src" -o "$W/bundle.tdsb" --key "$W/key" --bundle-version 1 >/dev/null

python3 - "$W" "$AGENTS" "$FILES" "$BIG" <<'EOF'
import os, sys
w, agents, files, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
eicar = "".join([r"X5O!P%@AP[4\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS-", "TEST-FILE!$H+H*"])
for a in range(agents):
    d = os.path.join(w, "trees", f"a{a}", "srv")
    os.makedirs(d, exist_ok=True)
    for i in range(files - 2):
        open(os.path.join(d, f"clean-{i}.txt"), "w").write("nothing here %d\n" % i)
    open(os.path.join(d, "eicar.com"), "w").write(eicar)
    open(os.path.join(d, "drop.bin"), "w").write("junk TAKEDOWN-FLEET-MARKER junk")
d = os.path.join(w, "trees", "big", "srv")
os.makedirs(d, exist_ok=True)
for i in range(big):
    open(os.path.join(d, f"drop-{i}.bin"), "w").write("TAKEDOWN-FLEET-MARKER %d" % i)
EOF

start_agent() { # HOST ROOT LABEL
    "$T" agent --nats "$URL" --host-id "$1" --root "$2" --label "$3" --trusted-key "$W/key.pub" \
        --work-dir "$W" --poll-ms 500 --ack-wait 60 >/dev/null 2>"$W/agent-$1.log" &
    PIDS+=($!)
}
wait_listening() { # HOST...
    for h in "$@"; do
        for _ in $(seq 600); do
            grep -q "listening on" "$W/agent-$h.log" 2>/dev/null && continue 2
            sleep 0.1
        done
        die "agent $h did not start: $(cat "$W/agent-$h.log")"
    done
}
wait_done() { # HUNT N
    for _ in $(seq 6000); do
        n=$("$T" fleet status "$1" --nats "$URL" --format json | grep -c '"state":"done"' || true)
        [ "$n" -ge "$2" ] && return
        sleep 0.2
    done
    die "hunt $1: only $n of $2 hosts done"
}
now() { date +%s.%N; }

printf '\n== %s agents, %s files each\n' "$AGENTS" "$FILES" >&2
hosts=()
for a in $(seq 0 $((AGENTS - 1))); do
    start_agent "a$a" "$W/trees/a$a" bench=small
    hosts+=("a$a")
done
wait_listening "${hosts[@]}"
t0=$(now)
hunt=$("$T" fleet hunt --nats "$URL" --to bench=small --bundle "$W/bundle.tdsb" /srv 2>/dev/null)
wait_done "$hunt" "$AGENTS"
t1=$(now)
fleet_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
found=$("$T" fleet results "$hunt" --nats "$URL" --format json | grep -c '"type":"finding"' || true)
[ "$found" -eq $((2 * AGENTS)) ] || die "expected $((2 * AGENTS)) findings, got $found"

printf '\n== one agent, %s findings\n' "$BIG" >&2
for p in "${PIDS[@]:1}"; do kill "$p" 2>/dev/null || true; done
PIDS=("${PIDS[0]}")
start_agent big "$W/trees/big" bench=big
wait_listening big
t2=$(now)
hunt2=$("$T" fleet hunt --nats "$URL" --to big --bundle "$W/bundle.tdsb" --no-builtin /srv 2>/dev/null)
wait_done "$hunt2" 1
t3=$(now)
# Exit 1: something was found.
rc=0
"$T" fleet results "$hunt2" --nats "$URL" --format json >"$W/big.ndjson" || rc=$?
[ "$rc" -le 1 ] || die "fleet results failed ($rc)"
t4=$(now)
big_found=$(grep -c '"type":"finding"' "$W/big.ndjson" || true)
[ "$big_found" -eq "$BIG" ] || die "expected $BIG findings, got $big_found"
publish_s=$(awk -v a="$t2" -v b="$t3" 'BEGIN {printf "%.1f", b - a}')
read_s=$(awk -v a="$t3" -v b="$t4" 'BEGIN {printf "%.2f", b - a}')
rate=$(awk -v n="$BIG" -v s="$read_s" 'BEGIN {printf "%.0f", n / s}')

{
    echo "| fleet hunt ($(nproc) cores) | result |"
    echo "|---|---|"
    echo "| $AGENTS agents, $FILES files each: \`fleet hunt\` until all done | ${fleet_s} s ($found findings) |"
    echo "| one agent, $BIG findings: hunt until done (scan and publish) | ${publish_s} s |"
    echo "| \`fleet results --format json\` of those $BIG findings | ${read_s} s ($rate findings/s) |"
} | tee "$W/results.md"
