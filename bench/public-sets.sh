#!/usr/bin/env bash
# Loads public YARA collections with `takedown sigs check` and prints a
# table: files, rules loaded, rules skipped (unsupported / invalid), load
# time cold (empty compiled-rules cache) and with the cache warm.
#
#   bash bench/public-sets.sh DIR [SET...]
#
# DIR holds one checked-out collection per subdirectory (for example
# signature-base/, yara-rules/, elastic/, reversinglabs/, yara-forge-core/);
# with SET names only those are loaded. The skipped rules of each set, with
# their reasons, are left in $W/SET.json (W defaults to a temporary
# directory, printed at the end). TAKEDOWN=path/to/takedown skips the build.
# Load times are medians of RUNS runs (default 3), each cold run with a
# fresh cache directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:?usage: public-sets.sh DIR [SET...]}
shift
RUNS=${RUNS:-3}
W=${W:-$(mktemp -d /tmp/takedown-public-sets.XXXXXX)}
mkdir -p "$W"

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }
need python3 "to read the JSON reports"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"

if [ -z "${TAKEDOWN:-}" ]; then
    (cd "$HERE/.." && cargo build --release --locked -p takedown >&2)
    TAKEDOWN=$(cd "$HERE/.." && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/takedown
fi
[ -x "$TAKEDOWN" ] || die "no takedown binary at $TAKEDOWN"

if [ $# -eq 0 ]; then
    sets=()
    for d in "$DIR"/*/; do sets+=("$(basename "$d")"); done
else
    sets=("$@")
fi

# wall SECONDS of one `sigs check` run; its JSON report goes to $2.
check() {
    local cache=$1 out=$2 rc=0
    /usr/bin/time -f '%e' -o "$W/time" "$TAKEDOWN" sigs check --format json \
        --cache-dir "$cache" "$DIR/$set" >"$out" 2>"$W/stderr" || rc=$?
    [ "$rc" -le 1 ] || die "$set: takedown sigs check exited $rc: $(tail -n 3 "$W/stderr")"
    tail -n 1 "$W/time"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

printf '| set | YARA files | rules loaded | rules skipped (unsupported + invalid) | load cold s | load cached s |\n'
printf '|---|---:|---:|---:|---:|---:|\n'
for set in "${sets[@]}"; do
    [ -d "$DIR/$set" ] || die "no directory $DIR/$set"
    : >"$W/cold" ; : >"$W/warm"
    for r in $(seq 1 "$RUNS"); do
        cache="$W/cache.$set.$r"
        rm -rf "$cache"
        check "$cache" "$W/$set.json" >>"$W/cold"
        check "$cache" "$W/$set.cached.json" >>"$W/warm"
        rm -rf "$cache"
    done
    python3 - "$W/$set.json" "$W/$set.cached.json" "$set" "$(median <"$W/cold")" "$(median <"$W/warm")" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
cached = json.load(open(sys.argv[2]))
assert cached["yara_from_cache"], "second run did not use the cache"
assert cached["sources"] == report["sources"], "cached run reports differently"
t = report["totals"]
yara_files = sum(1 for s in report["sources"] if s["kind"] == "yara")
skipped = sum(len([i for i in s["issues"] if i.get("rule")]) for s in report["sources"] if s["kind"] == "yara")
unsupported = sum(len([i for i in s["issues"] if i.get("unsupported")]) for s in report["sources"] if s["kind"] == "yara")
other = t["skipped"] - skipped
extra = f"; {other} other issue(s)" if other else ""
print(f"| {sys.argv[3]} | {yara_files:,} | {t['yara_rules']:,} | {skipped} ({unsupported} + {skipped - unsupported}){extra} | {float(sys.argv[4]):.2f} | {float(sys.argv[5]):.2f} |")
EOF
done
echo >&2
echo "reports (every skipped rule with its reason): $W/SET.json" >&2
