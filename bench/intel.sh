#!/usr/bin/env bash
# Exchange races (issue 18): takedown against the OASIS Python reference
# tools, side by side on this machine.
#
#   bash bench/intel.sh            # all three (~20-30 min on 2 cores)
#   bash bench/intel.sh export     # 1: 100,000 findings to STIX vs stix2
#   bash bench/intel.sh load       # 2: a 1,000,000-indicator bundle vs stix2.parse
#   bash bench/intel.sh taxii      # 3: TAXII paging vs medallion
#
# Knobs: SKIP_BUILD=1, RUNS (3), FINDINGS (100000), INDICATORS (1000000),
# PEER_SMALL (100000: stix2.parse is also timed on this many),
# PEER_TIMEOUT (1200 s, for stix2.parse of the whole bundle, run once),
# TAXII_OBJECTS (100000), TAXII_PAGE (1000), TAXII_SMALL (300: a second
# round on a collection small enough for medallion to answer; 0 skips it),
# TAXII_SMALL_PAGE (100), TAXII_SECONDS (20), CONCURRENCY (8), PY (a Python
# with stix2 and medallion; default /work/main/.venv's, else bench/work/venv
# is made with pinned versions from PyPI).
# Output: bench/work/intel-results.md (and everything else in bench/work/intel/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
W="$HERE/work/intel"
mkdir -p "$W" "$W/cache" && chmod 700 "$W/cache"
WHAT=${1:-all}
RUNS=${RUNS:-3}
FINDINGS=${FINDINGS:-100000}
INDICATORS=${INDICATORS:-1000000}
PEER_SMALL=${PEER_SMALL:-100000}
PEER_TIMEOUT=${PEER_TIMEOUT:-1200}
TAXII_OBJECTS=${TAXII_OBJECTS:-100000}
TAXII_PAGE=${TAXII_PAGE:-1000}
TAXII_SMALL=${TAXII_SMALL:-300}
TAXII_SMALL_PAGE=${TAXII_SMALL_PAGE:-100}
TAXII_SECONDS=${TAXII_SECONDS:-20}
CONCURRENCY=${CONCURRENCY:-8}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
TAKEDOWN="$TARGET_DIR/release/takedown"
TAXII_LOAD="$TARGET_DIR/release/taxii"
RESULTS="$W/results.jsonl"
TABLE="$HERE/work/intel-results.md"
COLLECTION=9b1c1a4e-0000-4000-8000-000000000001
TOKEN=bench-token-0123456789abcdef
MEDALLION_PW=bench-password-0123

# log, die, settle, timed, rounds, median (lib.sh wants CORPUS: what
# `warm` reads before each timed run; set per race below).
CORPUS="$W"
source "$HERE/lib.sh"
need /usr/bin/time "GNU time (Debian time)"
need python3 "Debian python3"

# The Python side: the project's venv, else our own with pinned versions.
if [ -z "${PY:-}" ]; then
    if "$ROOT/.venv/bin/python" -c 'import stix2, medallion' 2>/dev/null; then
        PY="$ROOT/.venv/bin/python"
    else
        PY="$HERE/work/venv/bin/python"
        if ! "$PY" -c 'import stix2, medallion' 2>/dev/null; then
            log "creating bench/work/venv (stix2, medallion, taxii2-client from PyPI)"
            python3 -m venv "$HERE/work/venv"
            "$HERE/work/venv/bin/pip" install -q stix2==3.0.2 medallion==3.0.0 taxii2-client==2.3.0
        fi
    fi
fi

if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --locked -p takedown -p takedown-loadgen)
fi
[ -x "$TAKEDOWN" ] || die "no $TAKEDOWN: build it first (cargo build --release -p takedown)"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# result KEY=VALUE...: one JSON line of $RESULTS (values are numbers or
# strings as given; the table is made from these at the end).
result() { python3 -c '
import json, sys
d = {}
for a in sys.argv[2:]:
    k, v = a.split("=", 1)
    try:
        d[k] = json.loads(v)
    except ValueError:
        d[k] = v
open(sys.argv[1], "a").write(json.dumps(d) + "\n")' "$RESULTS" "$@"; }

# count_objects FILE: object counts of a STIX bundle by type, one JSON line.
count_objects() { python3 -c '
import collections, json, sys
b = json.load(open(sys.argv[1]))
c = collections.Counter(o.get("type") for o in b.get("objects", []))
print(json.dumps({"objects": sum(c.values()), "by_type": dict(sorted(c.items()))}))' "$1"; }

versions() {
    log "versions"
    echo "   $("$TAKEDOWN" --version 2>&1 | head -1)" >&2
    "$PY" -c 'import stix2, medallion, sys; print("   stix2", stix2.__version__, "medallion", medallion.__version__, "Python", sys.version.split()[0])' >&2
}

# ---------------------------------------------------------------------
# 1: export

race_export() {
    local D="$W/export"
    mkdir -p "$D"
    if [ "$(cat "$D/stamp" 2>/dev/null)" != "$FINDINGS" ]; then
        log "generating $FINDINGS findings (bench/mkintel.py)"
        python3 "$HERE/mkintel.py" findings "$D/findings.ndjson" "$FINDINGS"
        echo "$FINDINGS" >"$D/stamp"
    fi
    CORPUS="$D/findings.ndjson"
    # shellcheck disable=SC2034 # used by rounds through a nameref
    CMD_export_td=("$TAKEDOWN" intel export --format stix -o "$W/export-td.json" "$D/findings.ndjson")
    # shellcheck disable=SC2034
    CMD_export_py=("$PY" "$HERE/stix2_export.py" "$D/findings.ndjson" "$W/export-py.json")
    log "race 1: $FINDINGS findings to a STIX bundle, $RUNS interleaved rounds"
    rounds export_td export_py
    local td py
    td=$(count_objects "$W/export-td.json")
    py=$(count_objects "$W/export-py.json")
    echo "   takedown wrote: $td" >&2
    echo "   stix2 wrote:    $py" >&2
    median export_td
    result race=1 tool="takedown intel export --format stix" wall="$WALL" rss="$RSS" \
        runs="$RUNLOG" objects="$(jq_num "$td" objects)" by_type="$(jq_get "$td" by_type)"
    median export_py
    result race=1 tool="stix2 (Python): build objects + Bundle.fp_serialize" wall="$WALL" rss="$RSS" \
        runs="$RUNLOG" objects="$(jq_num "$py" objects)" by_type="$(jq_get "$py" by_type)"
}

jq_num() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
jq_get() { python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])[sys.argv[2]]))' "$1" "$2"; }

# ---------------------------------------------------------------------
# 2: load a bundle

race_load() {
    local D="$W/load"
    mkdir -p "$D"
    if [ "$(cat "$D/stamp" 2>/dev/null)" != "$INDICATORS $PEER_SMALL" ]; then
        log "generating bundles of $INDICATORS and $PEER_SMALL indicators (the first $PEER_SMALL of the big one)"
        python3 "$HERE/mkintel.py" bundle "$D/bundle-big.json" "$INDICATORS"
        python3 "$HERE/mkintel.py" bundle "$D/bundle-small.json" "$PEER_SMALL"
        echo "$INDICATORS $PEER_SMALL" >"$D/stamp"
    fi
    : >"$D/empty"
    CORPUS="$D"

    log "what takedown reads in the big bundle (sigs check, untimed)"
    "$TAKEDOWN" sigs check --no-cache --format json "$D/bundle-big.json" >"$W/sigs-check.json" 2>"$W/sigs-check.err" || true
    local check
    check=$(python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
t = v["totals"]
kinds = t.get("indicator_kinds") or {}
print(json.dumps({"hash": sum(kinds.get(k, 0) for k in ("md5", "sha1", "sha256")),
                  "indicators": t.get("indicators"),
                  "network": len(v.get("network", [])), "skipped": t.get("skipped"),
                  "kinds": t.get("indicator_kinds")}))' "$W/sigs-check.json") \
        || die "sigs check gave no report: $(tail -3 "$W/sigs-check.err")"
    echo "   sigs check: $check" >&2

    # shellcheck disable=SC2034
    CMD_load_td=("$TAKEDOWN" scan --no-builtin --no-cache --format json -s "$D/bundle-big.json" "$D/empty")
    # shellcheck disable=SC2034
    CMD_load_td_small=("$TAKEDOWN" scan --no-builtin --no-cache --format json -s "$D/bundle-small.json" "$D/empty")
    # shellcheck disable=SC2034
    CMD_load_py_small=("$PY" "$HERE/stix2_load.py" "$D/bundle-small.json")
    log "race 2: scan with the $INDICATORS-indicator bundle vs stix2.parse of $PEER_SMALL, $RUNS interleaved rounds"
    rounds load_td load_td_small load_py_small
    grep '"type":"summary"' "$W/out.load_td" | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
print("   takedown scan summary signatures:", json.dumps(s.get("signatures")))' >&2 || true
    echo "   stix2.parse of $PEER_SMALL: $(cat "$W/out.load_py_small")" >&2

    log "race 2: stix2.parse of all $INDICATORS indicators, once (timeout $PEER_TIMEOUT s)"
    CORPUS="$D/bundle-big.json"
    warm
    # timeout's SIGTERM ends Python (exit 124, reported, not fatal); KILL
    # 10 s later if not.
    timed load_py timeout -k 10 "$PEER_TIMEOUT" "$PY" "$HERE/stix2_load.py" "$D/bundle-big.json"
    local py_done=1
    [ -s "$W/out.load_py" ] || py_done=0
    echo "$WALL $RSS $FOREIGN $CONTENDED" >"$W/runs.load_py"

    median load_td
    result race=2 tool="takedown scan -s (STIX bundle)" size="$INDICATORS" wall="$WALL" rss="$RSS" \
        runs="$RUNLOG" check="$check"
    median load_py
    result race=2 tool="stix2.parse" size="$INDICATORS" wall="$WALL" rss="$RSS" runs="$RUNLOG" \
        done="$py_done" timeout="$PEER_TIMEOUT" out="$(cat "$W/out.load_py" 2>/dev/null || true)"
    median load_td_small
    result race=2 tool="takedown scan -s (STIX bundle)" size="$PEER_SMALL" wall="$WALL" rss="$RSS" runs="$RUNLOG"
    median load_py_small
    result race=2 tool="stix2.parse" size="$PEER_SMALL" wall="$WALL" rss="$RSS" runs="$RUNLOG" done=1 \
        out="$(cat "$W/out.load_py_small")"
}

# ---------------------------------------------------------------------
# 3: TAXII

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# taxii_round N PAGE: both servers with the same N objects, pages of PAGE.
taxii_round() {
    local n=$1 page=$2
    local D="$W/taxii-$n"
    if [ "$(cat "$D/stamp" 2>/dev/null)" != "$n" ]; then
        log "generating $n TAXII objects (bench/mkintel.py)"
        python3 "$HERE/mkintel.py" taxii "$D" "$n"
        echo "$n" >"$D/stamp"
    fi

    # takedown serve, its store filled through its own TAXII API.
    local db="$W/taxii-$n.sqlite3"
    rm -f "$db" "$db-wal" "$db-shm" "$W/ready.taxii"
    cat >"$W/serve-$n.toml" <<EOF
[taxii]
enabled = true
db = "$db"
max_page_size = $page
max_content_length = "64M"

[taxii.tokens]
bench = "$TOKEN"

[[taxii.collections]]
id = "$COLLECTION"
title = "Indicators"
read = ["bench"]
write = ["bench"]
EOF
    "$TAKEDOWN" serve --config "$W/serve-$n.toml" --http 127.0.0.1:0 --no-clamd \
        --cache-dir "$W/cache" --ready-file "$W/ready.taxii" 2>"$W/log.serve-$n" &
    local td_pid=$!
    PIDS+=("$td_pid")
    for _ in $(seq 600); do
        [ -s "$W/ready.taxii" ] && break
        kill -0 "$td_pid" 2>/dev/null || die "takedown serve died: $(tail -5 "$W/log.serve-$n")"
        sleep 0.1
    done
    local addr
    addr=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["http"][0])' "$W/ready.taxii")
    log "filling takedown's collection: takedown intel push of $n objects"
    local t0 t1
    t0=$(date +%s.%N)
    "$TAKEDOWN" intel push "http://$addr/taxii2/" --collection "$COLLECTION" --token "$TOKEN" \
        "$D"/push-*.json >"$W/push-$n.out" 2>&1 || die "intel push failed: $(tail -5 "$W/push-$n.out")"
    t1=$(date +%s.%N)
    local push_s
    push_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    echo "   pushed in $push_s s: $(tail -1 "$W/push-$n.out")" >&2

    settle
    log "takedown serve: $CONCURRENCY clients paging through $n objects ($page a page), ${TAXII_SECONDS}s"
    local out
    out=$("$TAXII_LOAD" --addr "$addr" --path "/taxii2/api/collections/$COLLECTION/objects/" \
        --limit "$page" --concurrency "$CONCURRENCY" --seconds "$TAXII_SECONDS" \
        --auth "Bearer $TOKEN" --expect "$n" --pid "$td_pid")
    echo "   $out" >&2
    result race=3 tool="takedown serve (TAXII, SQLite)" size="$n" page="$page" push_s="$push_s" load="$out"
    stop "$td_pid"

    # medallion, memory backend, the same objects loaded from its data file.
    local port
    port=$(free_port)
    cat >"$W/medallion-$n.json" <<EOF
{"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
             "filename": "$D/medallion-data.json"},
 "users": {"bench": "$MEDALLION_PW"},
 "taxii": {"max_page_size": $page}}
EOF
    # Its console script, run by the same Python as stix2.
    "$PY" -m medallion.scripts.run --host 127.0.0.1 --port "$port" --log-level ERROR "$W/medallion-$n.json" \
        >"$W/log.medallion-$n" 2>&1 &
    local md_pid=$!
    PIDS+=("$md_pid")
    for _ in $(seq 1200); do
        python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)' "$port" 2>/dev/null && break
        kill -0 "$md_pid" 2>/dev/null || die "medallion died: $(tail -5 "$W/log.medallion-$n")"
        sleep 0.1
    done
    settle
    log "medallion: $CONCURRENCY clients paging through $n objects ($page a page), ${TAXII_SECONDS}s"
    out=$("$TAXII_LOAD" --addr "127.0.0.1:$port" --path "/api1/collections/$COLLECTION/objects/" \
        --limit "$page" --concurrency "$CONCURRENCY" --seconds "$TAXII_SECONDS" \
        --auth "Basic $(printf 'bench:%s' "$MEDALLION_PW" | base64 -w0)" --expect "$n" --pid "$md_pid")
    echo "   $out" >&2
    result race=3 tool="medallion (memory backend, Flask)" size="$n" page="$page" load="$out"
    stop "$md_pid"
}

race_taxii() {
    [ -x "$TAXII_LOAD" ] || die "no $TAXII_LOAD: cargo build --release -p takedown-loadgen"
    taxii_round "$TAXII_OBJECTS" "$TAXII_PAGE"
    if [ "$TAXII_SMALL" -gt 0 ]; then
        taxii_round "$TAXII_SMALL" "$TAXII_SMALL_PAGE"
    fi
}

# ---------------------------------------------------------------------

: >"$RESULTS"
versions
case "$WHAT" in
    export) race_export ;;
    load) race_load ;;
    taxii) race_taxii ;;
    all) race_export; race_load; race_taxii ;;
    *) die "usage: bench/intel.sh [export|load|taxii|all]" ;;
esac

log "results"
python3 - "$RESULTS" "$CONTENDED_RUNS" <<'EOF' | tee "$TABLE"
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1])]
contended = int(sys.argv[2])

def mb(kb):
    return f"{kb / 1024:.0f}"

def n(x):
    return f"{x:,}"

def verdict(ok):
    return "met" if ok else "**not met**"

out = []
r1 = [r for r in rows if r["race"] == 1]
if r1:
    td, py = r1
    ratio = py["wall"] / td["wall"] if td["wall"] else float("inf")
    out += ["### 1. Export findings to STIX 2.1 (target: stix2 / takedown >= 30x; bounded memory)", "",
            "| tool | wall s (median) | peak RSS MB | objects written | peer / takedown |",
            "|---|---:|---:|---:|---|",
            f"| {td['tool']} | {td['wall']:.2f} | {mb(td['rss'])} | {n(td['objects'])} | |",
            f"| {py['tool']} | {py['wall']:.2f} | {mb(py['rss'])} | {n(py['objects'])} | "
            f"**{ratio:.1f}x** time, {py['rss'] / td['rss']:.1f}x RSS ({verdict(ratio >= 30)}) |",
            "", f"Objects by type: takedown {json.dumps(td['by_type'])}; stix2 {json.dumps(py['by_type'])}.",
            f"Runs: takedown {td['runs']}; stix2 {py['runs']}.", ""]

r2 = [r for r in rows if r["race"] == 2]
if r2:
    out += ["### 2. Load a STIX bundle into a scan (target: stix2.parse / takedown >= 10x; takedown peak RSS < 1 GB)", "",
            "| indicators | tool | wall s (median) | peak RSS MB | peer / takedown |",
            "|---:|---|---:|---:|---|"]
    for size in sorted({r["size"] for r in r2}, reverse=True):
        of = [r for r in r2 if r["size"] == size]
        td = next(r for r in of if r["tool"].startswith("takedown"))
        py = next(r for r in of if r["tool"] == "stix2.parse")
        out.append(f"| {n(size)} | {td['tool']} | {td['wall']:.2f} | {mb(td['rss'])} "
                   f"({verdict(td['rss'] < 1024 * 1024)} < 1 GB) | |")
        if py.get("done"):
            ratio = py["wall"] / td["wall"]
            out.append(f"| {n(size)} | stix2.parse | {py['wall']:.2f} | {mb(py['rss'])} | "
                       f"**{ratio:.1f}x** time, {py['rss'] / td['rss']:.1f}x RSS ({verdict(ratio >= 10)}) |")
        else:
            out.append(f"| {n(size)} | stix2.parse | > {py['timeout']} (killed) | > {mb(py['rss'])} | "
                       f"> {py['timeout'] / td['wall']:.0f}x (did not finish) |")
    for r in r2:
        if r.get("check"):
            c = r["check"]
            out.append("")
            out.append(f"takedown read {n(c['indicators'] or 0)} indicators from the {n(r['size'])}-indicator bundle: "
                       f"{n(c['hash'])} file-hash indicators, {n(c['network'])} network indicators, "
                       f"{c['skipped']} skipped ({json.dumps(c['kinds'])}).")
    killed = [r for r in r2 if r["tool"] == "stix2.parse" and not r.get("done")]
    done = [r for r in r2 if r["tool"] == "stix2.parse" and r.get("done")]
    for k in killed:
        if done:
            d = max(done, key=lambda r: r["size"])
            est = d["wall"] * k["size"] / d["size"]
            td = next(r for r in r2 if r["size"] == k["size"] and r["tool"].startswith("takedown"))
            out.append("")
            out.append(f"stix2.parse did not finish the {n(k['size'])}-indicator bundle in {k['timeout']} s (killed). "
                       f"It took {d['wall']:.1f} s for {n(d['size'])}: if it scaled linearly, {n(k['size'])} would take "
                       f"about {est:.0f} s, {est / td['wall']:.0f}x takedown's time (an extrapolation, not a measurement).")
    for r in r2:
        out.append(f"Runs, {r['tool']} on {n(r['size'])}: {r['runs']}.")
    out.append("")

r3 = [r for r in rows if r["race"] == 3]
if r3:
    out += ["### 3. TAXII 2.1: 8 clients paging through a collection (target: takedown >= 20x medallion's req/s at a lower p99)", "",
            "| objects | page | server | req/s | p50 ms | p99 ms | max ms | errors | unfinished | passes | objects/s | peak RSS MB | peer / takedown |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for size in sorted({r["size"] for r in r3}, reverse=True):
        of = [r for r in r3 if r["size"] == size]
        td = next((r for r in of if r["tool"].startswith("takedown")), None)
        for r in of:
            x = r["load"]
            secs = x["requests"] / x["rps"] if x["rps"] else 0
            ops = x["objects"] / secs if secs else 0
            ratio = ""
            if td and r is not td:
                t = td["load"]
                if x["rps"] > 0:
                    ok = t["rps"] / x["rps"] >= 20 and t["p99_ms"] < x["p99_ms"]
                    ratio = (f"takedown **{t['rps'] / x['rps']:.0f}x** req/s, p99 "
                             f"{t['p99_ms']:.1f} vs {x['p99_ms']:.1f} ms ({verdict(ok)})")
                else:
                    ratio = "peer answered no request in the run"
            p = lambda v: f"{v:.2f}" if x["requests"] else "-"
            short = f" ({x['short_passes']} incomplete)" if x["short_passes"] else ""
            out.append(f"| {n(size)} | {r['page']} | {r['tool']} | {x['rps']:.1f} | {p(x['p50_ms'])} | "
                       f"{p(x['p99_ms'])} | {p(x['max_ms'])} | {x['errors']} | {x['unfinished']} | "
                       f"{x['passes']}{short} | {ops:,.0f} | {mb(x['peak_rss_kb'])} | {ratio} |")
    for r in r3:
        if r.get("push_s") is not None:
            out.append("")
            out.append(f"Filling takedown's store with {n(r['size'])} objects (takedown intel push of bundle files of up to 5,000 objects, through its TAXII API): {r['push_s']} s.")
    errs = [r for r in r3 if r["load"].get("first_error")]
    for r in errs:
        out.append(f"First error, {r['tool']} on {n(r['size'])}: `{r['load']['first_error'][:200]}`")
    out.append("")

if contended:
    out.append(f"{contended} timed run(s) were contended (other processes used the CPUs); see the runs above.")
print("\n".join(out))
EOF
