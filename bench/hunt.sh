#!/usr/bin/env bash
# bench/hunt.sh: the performance points of the hunt (takedown hunt), side by
# side in one run.
#
#   A generated Zeek dns.log of LINES (default 20,000,000) lines and a list
#   of INDICATORS (default 1,000,000) random indicator domains, plus the DGA
#   windows of every family over DGA_FROM..DGA_TO: `takedown hunt` against
#   `rg -F -f` and `grep -F -f` given the same names (the indicators and
#   the generated DGA names) on the same file. Targets: at least as fast as
#   rg, at least 5x faster than grep, over 1 million events per second on
#   2 cores, peak RSS under 1 GB. The planted lines are built so that the
#   substring tools count exactly them too: the three counts must agree.
#   Then an EVE JSON dns log of EVE_LINES (default 5,000,000) lines, for
#   takedown's events per second on EVE.
#
# Knobs (environment): LINES, INDICATORS, EVE_LINES, DGA_FROM (2016-11-01),
# DGA_TO (2016-11-30), RUNS (1; the peers take minutes), SKIP_BUILD=1,
# TD (the takedown binary), WORK (scratch, default
# ${TMPDIR:-/tmp}/takedown-hunt-bench; needs about 5 GB).
# Dependencies: bash, python3, rg (Debian ripgrep), grep, GNU time.
#
# Reproduce (from the repository root):  bash bench/hunt.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LINES=${LINES:-20000000}
INDICATORS=${INDICATORS:-1000000}
EVE_LINES=${EVE_LINES:-5000000}
DGA_FROM=${DGA_FROM:-2016-11-01}
DGA_TO=${DGA_TO:-2016-11-30}
RUNS=${RUNS:-1}
TD=${TD:-$ROOT/target/release/takedown}
WORK=${WORK:-${TMPDIR:-/tmp}/takedown-hunt-bench}

die() { echo "bench/hunt.sh: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is needed"
command -v rg >/dev/null || die "rg is needed (Debian: ripgrep)"
[ -x /usr/bin/time ] || die "GNU time is needed (Debian: time)"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release --locked -p takedown)
fi
[ -x "$TD" ] || die "no takedown binary at $TD"
mkdir -p "$WORK"

# Inputs, untimed.
KEY="$LINES.$INDICATORS.$EVE_LINES.$DGA_FROM.$DGA_TO"
if [ ! -e "$WORK/done.$KEY" ]; then
    rm -f "$WORK"/done.*
    echo "generating the inputs in $WORK ..." >&2
    "$TD" dga gen --family all --from "$DGA_FROM" --to "$DGA_TO" 2>/dev/null |
        awk 'NF {print $NF}' | sort -u >"$WORK/dga.txt"
    python3 "$ROOT/bench/mkhunt.py" "$WORK" "$LINES" "$INDICATORS" "$EVE_LINES" "$WORK/dga.txt"
    cat "$WORK/ind.txt" "$WORK/dga.txt" >"$WORK/patterns.txt"
    touch "$WORK/done.$KEY"
fi
PATTERNS=$(wc -l <"$WORK/patterns.txt")
BYTES=$(stat -c %s "$WORK/dns.log")

# Median wall seconds and peak RSS (MiB) of RUNS runs; stdout kept in
# $WORK/out.LABEL.
timed() {
    local label=$1; shift
    local walls=() rss=0 rc
    for _ in $(seq "$RUNS"); do
        cat "$WORK/dns.log" "$WORK/eve.json" >/dev/null   # page cache
        rc=0
        /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/out.$label" 2>"$WORK/err.$label" || rc=$?
        [ "$rc" -le 1 ] || { tail -5 "$WORK/err.$label" >&2; die "$label failed ($rc)"; }
        read -r w m < <(tail -n 1 "$WORK/time")
        walls+=("$w")
        [ "$m" -gt "$rss" ] && rss=$m
    done
    local med
    med=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
    echo "$med $((rss / 1024))"
}

echo "hunting $LINES lines ($((BYTES / 1000000)) MB) for $PATTERNS names ($INDICATORS indicators + DGA $DGA_FROM..$DGA_TO)" >&2
read -r td_w td_m < <(timed takedown "$TD" hunt -s "$WORK/ind.txt" --dga all --from "$DGA_FROM" --to "$DGA_TO" --format json "$WORK/dns.log")
td_hits=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("type") == "hunt-summary":
        print(r["matched_events"], r["clients"], r["events"])' "$WORK/out.takedown")
read -r td_matched td_clients td_events <<<"$td_hits"
read -r rg_w rg_m < <(timed rg rg -F -c -f "$WORK/patterns.txt" "$WORK/dns.log")
rg_hits=$(cat "$WORK/out.rg")
read -r gr_w gr_m < <(timed grep grep -F -c -f "$WORK/patterns.txt" "$WORK/dns.log")
gr_hits=$(cat "$WORK/out.grep")
read -r ev_w ev_m < <(timed eve "$TD" hunt -s "$WORK/ind.txt" --dga all --from "$DGA_FROM" --to "$DGA_TO" --format json "$WORK/eve.json")
ev_hits=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("type") == "hunt-summary":
        print(r["matched_events"], r["events"])' "$WORK/out.eve")
read -r ev_matched ev_events <<<"$ev_hits"
expected_dns=$(awk '$1 == "dns.log" {print $2}' "$WORK/expected.txt")
expected_eve=$(awk '$1 == "eve.json" {print $2}' "$WORK/expected.txt")

python3 - "$td_w" "$td_m" "$td_matched" "$td_clients" "$td_events" "$rg_w" "$rg_m" "$rg_hits" \
    "$gr_w" "$gr_m" "$gr_hits" "$ev_w" "$ev_m" "$ev_matched" "$ev_events" "$expected_dns" "$expected_eve" \
    "$LINES" "$PATTERNS" <<'PY' | tee "$WORK/results.md"
import sys
(td_w, td_m, td_hit, td_cl, td_ev, rg_w, rg_m, rg_hit, gr_w, gr_m, gr_hit,
 ev_w, ev_m, ev_hit, ev_ev, exp_dns, exp_eve, lines, patterns) = sys.argv[1:]
f = float
print(f"Zeek dns.log of {int(lines):,} lines, {int(patterns):,} names (indicators + DGA window)\n")
print("| tool | wall s | peak RSS MB | lines matched | events/s | vs takedown |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| takedown hunt | {td_w} | {td_m} | {td_hit} ({td_cl} clients) | {int(td_ev) / f(td_w):,.0f} | 1.0x |")
print(f"| rg -F -f | {rg_w} | {rg_m} | {rg_hit} | {int(lines) / f(rg_w):,.0f} | {f(rg_w) / f(td_w):.1f}x slower |")
print(f"| grep -F -f | {gr_w} | {gr_m} | {gr_hit} | {int(lines) / f(gr_w):,.0f} | {f(gr_w) / f(td_w):.1f}x slower |")
print(f"\nplanted: {exp_dns} lines; exact: {'yes' if td_hit == rg_hit == gr_hit == exp_dns else 'NO'}\n")
print(f"EVE JSON dns log of {int(ev_ev):,} events: takedown hunt {ev_w} s, {int(ev_ev) / f(ev_w):,.0f} events/s, "
      f"peak RSS {ev_m} MB, {ev_hit} matched (planted {exp_eve}: {'exact' if ev_hit == exp_eve else 'NOT exact'})")
PY
