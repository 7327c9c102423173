#!/usr/bin/env bash
# bench/blocklist.sh: the blocklist point of issue 26's Performance section,
# side by side in one run.
#
#   takedown blocklist of NAMES (default 1,000,000) names to an RPZ zone
#   (target: under 2 s) and named-checkzone accepting the zone; beside it,
#   the shell pipeline people write for the same zone (sort -u, then awk
#   printing `name CNAME .` and `*.name CNAME .` under an SOA), which
#   neither checks nor normalises the names, as a reference for the cost of
#   doing it properly; and takedown with a one-million-line Tranco-style
#   allow list (the collision guard), which the target does not cover.
#
# Knobs (environment): NAMES (1000000), RUNS (3, median), SKIP_BUILD=1
# (do not build the release binary), TD (the takedown binary), WORK
# (scratch directory, default ${TMPDIR:-/tmp}/takedown-blocklist-bench).
# Dependencies: bash, coreutils, python3, named-checkzone (Debian
# bind9-utils), GNU time (/usr/bin/time) for peak memory.
#
# Reproduce (from the repository root):  bash bench/blocklist.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAMES=${NAMES:-1000000}
RUNS=${RUNS:-3}
TD=${TD:-$ROOT/target/release/takedown}
WORK=${WORK:-${TMPDIR:-/tmp}/takedown-blocklist-bench}
PATH="$PATH:/usr/sbin:/sbin"

die() { echo "bench/blocklist.sh: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is needed"
command -v named-checkzone >/dev/null || die "named-checkzone is needed (Debian: bind9-utils)"
[ -x /usr/bin/time ] || die "GNU time is needed (Debian: time)"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release --locked -p takedown)
fi
[ -x "$TD" ] || die "no takedown binary at $TD"
mkdir -p "$WORK"

# Inputs, untimed: random names (8-20 letters, six TLDs) and a Tranco-style
# allow list (rank,name) of as many other names plus a few of the first.
if [ ! -s "$WORK/names.$NAMES.txt" ]; then
    python3 - "$NAMES" "$WORK/names.$NAMES.txt" "$WORK/allow.$NAMES.csv" <<'PY'
import random, sys
n, names, allow = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(20161130)
tlds = ["com", "net", "org", "info", "ru", "biz"]
letters = "abcdefghijklmnopqrstuvwxyz"
def name():
    return "".join(rnd.choice(letters) for _ in range(rnd.randint(8, 20))) + "." + rnd.choice(tlds)
with open(names, "w") as f:
    first = [name() for _ in range(n)]
    f.write("\n".join(first) + "\n")
with open(allow, "w") as f:
    for i in range(n):
        f.write(f"{i + 1},{first[i] if i % 1000 == 0 else name()}\n")
PY
fi
IN=$WORK/names.$NAMES.txt
ALLOW=$WORK/allow.$NAMES.csv

# Median wall seconds and peak RSS (MB) of RUNS runs of a command.
timed() {
    local label=$1; shift
    local walls=() rss=0
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" ||
            { cat "$WORK/err" >&2; die "$label failed"; }
        read -r w m <"$WORK/time"
        walls+=("$w")
        [ "$m" -gt "$rss" ] && rss=$m
    done
    local med
    med=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
    echo "$med $((rss / 1024))"
}

naive() {
    # What a responder's script does: no validation, no IDNA, no coverage.
    { printf '$TTL 300\n@ SOA localhost. root.localhost. 1 3600 600 864000 300\n@ NS localhost.\n'
      tr 'A-Z' 'a-z' <"$IN" | sort -u | awk '{print $1" CNAME ."; print "*."$1" CNAME ."}'
    } >"$WORK/naive.rpz"
}
export -f naive
export IN WORK

read -r t_td m_td < <(timed takedown "$TD" blocklist -s "$IN" --format rpz --zone rpz.bench --serial 1 -o "$WORK/td.rpz")
read -r t_allow m_allow < <(timed "takedown --allow" "$TD" blocklist -s "$IN" --allow "$ALLOW" --format rpz --zone rpz.bench --serial 1 -o "$WORK/td-allow.rpz")
read -r t_naive m_naive < <(timed "sort | awk" bash -c naive)
start=$(date +%s.%N)
named-checkzone -q rpz.bench "$WORK/td.rpz" || die "named-checkzone refused takedown's zone"
t_check=$(echo "$(date +%s.%N) - $start" | bc)
lines=$(wc -l <"$WORK/td.rpz")

cat <<EOF
## takedown blocklist, $NAMES names to RPZ

$(date -u +%Y-%m-%dT%H:%MZ), $(uname -m), $(nproc) CPUs, $("$TD" --version).
Wall seconds, median of $RUNS; peak RSS in MB.

| run | s | MB |
|---|---:|---:|
| \`takedown blocklist -s names --format rpz -o zone\` | $t_td | $m_td |
| the same with \`--allow\` (a $NAMES-line Tranco-style CSV) | $t_allow | $m_allow |
| \`sort -u \| awk\` (no checks, no normalisation) | $t_naive | $m_naive |
| \`named-checkzone\` of takedown's zone ($lines lines): accepted | $(printf '%.2f' "$t_check") | |

Target: under 2 s for $NAMES names, and named-checkzone accepts the zone.
EOF
