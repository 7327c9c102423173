#!/usr/bin/env bash
# Autostart race (issue 21, Performance: "Autostarts of an offline tree"):
# `takedown persistence` against regipy reading the same hives, side by
# side on this machine, in one run.
#
#   tree     an offline Windows volume with ENTRIES autostart entries
#            (default 10,000; bench/mkautostarts.py): Run values in
#            SOFTWARE and in 50 users' NTUSER.DAT, services in SYSTEM,
#            scheduled tasks in both stores (TaskCache keys and task XML),
#            Startup folder shortcuts; every entry starts its own small
#            program (9,000 files of 0.5-4 KiB)
#   takedown `takedown persistence --root TREE --format json`: every hive,
#            task file and shortcut read, every command resolved on the
#            volume, every program hashed (MD5, SHA-1, SHA-256); and the
#            same with --no-digests
#   regipy   bench/regipy_autostarts.py with regipy's RegistryHive: the
#            registry keys takedown reads ("keys"), and every key and
#            value of each hive with regipy's recurse_subkeys ("recurse");
#            the hives only: no task XML, no shortcut, no path, no hash
#
# Targets (the issue): takedown under 1 s and at least 20x faster than
# regipy. Both sides' entry counts are checked: takedown's must be ENTRIES
# with no problem, regipy's ("keys") the registry's share of them.
#
# Every tool runs once untimed first, then RUNS timed rounds, interleaved;
# the table shows medians (lib.sh: waits for idle CPUs, flags and retries
# contended runs). Nothing is dropped from the page cache: the tree is
# read just before each run.
#
# Knobs: RUNS (5), ENTRIES (10000), THREADS (2: -j of takedown; regipy is
# single-threaded), SKIP_BUILD=1 (use target/release/takedown as is), TD
# (another takedown binary; implies no build), REGIPY_PYTHON (a Python
# with regipy; default: bench/work/regipy-venv, made with regipy==6.1.0
# from PyPI), KEEP=1 (keep the tree), lib.sh's SETTLE_MAX and RETRIES.
# Needs python3 and GNU time; hivexget (Debian libhivex-bin) to check the
# generated hives.
# Output: bench/work/autostarts-results.md; logs and outputs in
# bench/work/autostarts/ (out.*, err.*, time.*, runs.*). The tree is
# deleted at the end unless KEEP=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work/autostarts
RUNS=${RUNS:-5}
ENTRIES=${ENTRIES:-10000}
THREADS=${THREADS:-2}
TD=${TD:-$ROOT/target/release/takedown}
TREE=$W/tree
TABLE=$HERE/work/autostarts-results.md
# lib.sh's warm() reads $CORPUS: the tree.
CORPUS=$TREE

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

need python3 "install python3"
need hivexget "apt-get install libhivex-bin"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found: apt-get install time"

mkdir -p "$W"
cd "$ROOT"

# ---------------------------------------------------------------- tools
if [ -z "${REGIPY_PYTHON:-}" ]; then
    VENV=$HERE/work/regipy-venv
    if ! "$VENV/bin/python" -c 'import regipy' 2>/dev/null; then
        log "creating bench/work/regipy-venv (regipy==6.1.0 from PyPI)"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q regipy==6.1.0
    fi
    REGIPY_PYTHON=$VENV/bin/python
fi
REGIPY_VERSION=$("$REGIPY_PYTHON" -c 'import importlib.metadata as m; print(m.version("regipy"))') ||
    die "$REGIPY_PYTHON has no regipy"
PY_VERSION=$("$REGIPY_PYTHON" --version 2>&1)

if [ "${SKIP_BUILD:-0}" != 1 ] && [ "$TD" = "$ROOT/target/release/takedown" ]; then
    log "building takedown (cargo build --release -p takedown)"
    cargo build --release -p takedown >&2
fi
[ -x "$TD" ] || die "$TD not built: run cargo build --release -p takedown"
"$TD" persistence --help >/dev/null 2>&1 || die "$TD has no 'persistence' command"
TD_BUILD="takedown $("$TD" --version | awk '{print $2}') (binary of $(date -r "$TD" '+%F %T'); tree at \
$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null \
|| echo ' + uncommitted crates/ changes') when the run started)"

# ---------------------------------------------------------------- tree
log "offline Windows tree with $ENTRIES autostart entries (bench/mkautostarts.py)"
rm -rf "$TREE"
python3 "$HERE/mkautostarts.py" "$TREE" --entries "$ENTRIES" >"$W/counts.json"
cat "$W/counts.json" >&2
counts() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$W/counts.json" "$1"; }
WANT_ALL=$(counts entries)
WANT_REG=$(counts registry_entries)
# The hives as the reference tool reads them.
[ "$(hivexget "$TREE/Windows/System32/config/SYSTEM" '\ControlSet001\Services\BenchSvc00000' ImagePath)" = \
    '"C:\ProgramData\bench\svc\s00000.exe" -service' ] || die "hivexget does not read the generated SYSTEM hive"
[ "$(hivexget "$TREE/Users/user00/NTUSER.DAT" '\Software\Microsoft\Windows\CurrentVersion\Run' UserRun00000)" = \
    '%APPDATA%\bench\u00000.exe' ] || die "hivexget does not read the generated NTUSER.DAT"
TREE_FILES=$(find "$TREE" -type f | wc -l)
TREE_MB=$(du -sm "$TREE" | cut -f1)
HIVES_MB=$(find "$TREE" \( -name SOFTWARE -o -name SYSTEM -o -name NTUSER.DAT \) -printf '%s\n' |
    awk '{s += $1} END {printf "%.1f", s / 1e6}')

# ---------------------------------------------------------------- commands
CMD_td=("$TD" persistence --root "$TREE" --format json -j "$THREADS")
CMD_td_nodigests=("$TD" persistence --root "$TREE" --format json --no-digests -j "$THREADS")
CMD_regipy_keys=("$REGIPY_PYTHON" "$HERE/regipy_autostarts.py" "$TREE" keys)
CMD_regipy_recurse=("$REGIPY_PYTHON" "$HERE/regipy_autostarts.py" "$TREE" recurse)
IDS=(td td_nodigests regipy_keys regipy_recurse)

# check ID: the round-1 output of ID is complete, or the script stops.
check() {
    local f=$W/out.$1
    case $1 in
    td*)
        python3 - "$f" "$WANT_ALL" "$WANT_REG" "$1" <<'EOF' || die "$1: incomplete output (bench/work/autostarts/out.$1)"
import json, sys
path, want_all, want_reg, tool = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
recs = [json.loads(l) for l in open(path)]
entries = [r for r in recs if r["type"] == "autostart"]
problems = [r for r in recs if r["type"] == "problem"]
summary = recs[-1]
# The registry's share: every entry read from a hive (its location a key).
reg = sum(1 for e in entries if e["location"].startswith(("HKLM\\", "HKU\\")))
hashed = sum(1 for e in entries if "sha256" in e.get("digests", {}))
print("   %s: %d entries (%d from the registry), %d problems, %d hashed, summary %s"
      % (tool, len(entries), reg, len(problems), hashed, json.dumps(summary["mechanisms"])), file=sys.stderr)
ok = len(entries) == want_all and reg == want_reg and not problems and summary["type"] == "summary"
ok = ok and all(e["target"] for e in entries)
if tool == "td":
    ok = ok and hashed == want_all
sys.exit(0 if ok else 1)
EOF
        ;;
    regipy_keys)
        python3 - "$f" "$WANT_REG" <<'EOF' || die "regipy (keys): not the registry's $WANT_REG entries: $(cat "$f")"
import json, sys
r = json.load(open(sys.argv[1]))
print("   regipy keys: %s" % r, file=sys.stderr)
sys.exit(0 if r["entries"] == int(sys.argv[2]) else 1)
EOF
        ;;
    regipy_recurse)
        python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("   regipy recurse: %s" % r, file=sys.stderr); sys.exit(0 if r["keys"] > 0 else 1)' "$f" ||
            die "regipy (recurse) read nothing"
        ;;
    esac
}

# ---------------------------------------------------------------- runs
log "one untimed run of each tool (warm-up)"
for id in "${IDS[@]}"; do
    local_cmd="CMD_$id[@]"
    warm
    timed "$id.warm" "${!local_cmd}"
done
log "$RUNS timed round(s), tools interleaved"
rounds "${IDS[@]}"
for id in "${IDS[@]}"; do check "$id"; done

# ---------------------------------------------------------------- report
median td
TD_WALL=$WALL
median td_nodigests
TD_ND_WALL=$WALL
median regipy_keys
KEYS_WALL=$WALL
median regipy_recurse
REC_WALL=$WALL
# ratio A B: A / B, one decimal.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / b}'; }
R_KEYS=$(ratio "$KEYS_WALL" "$TD_WALL")
R_REC=$(ratio "$REC_WALL" "$TD_WALL")
trow() { # trow ID LABEL WHAT NOTE
    median "$1"
    printf '| %s | %s | %.3f | %.0f | %s | %s |\n' "$2" "$3" "$WALL" \
        "$(awk -v r="$RSS" 'BEGIN {print r / 1024}')" "$4" "$RUNLOG"
}
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {ok = (op == ">=") ? v >= l : v < l; print ok ? "met" : "**not met**"}'; }
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
{
    echo "Autostart race (bench/autostarts.sh): an offline Windows tree of $WANT_ALL autostart entries"
    echo "($(counts hklm_run) Run values in SOFTWARE, $(counts user_run) in $(counts users) NTUSER.DAT, $(counts services) services,"
    echo "$(counts tasks) tasks in both the TaskCache and the XML store, $(counts startup_links) Startup shortcuts; $HIVES_MB MB of hives,"
    echo "$TREE_FILES files, $TREE_MB MB); $(nproc) x $CPU; median of $RUNS timed run(s) per tool after one"
    echo "untimed run, tools interleaved, page cache warm. Ratio: the tool's wall time / takedown's."
    echo
    echo "| tool | reads | wall s | peak RSS MB | vs takedown | runs (wall/RSS) |"
    echo "|---|---|---:|---:|---|---|"
    trow td "**\`takedown persistence --format json -j $THREADS\`**" \
        "hives, task XML, shortcuts; $WANT_ALL entries resolved on the volume, their programs hashed (MD5, SHA-1, SHA-256)" ""
    trow td_nodigests "\`takedown persistence --format json --no-digests\`" "the same, no hashing" \
        "regipy (keys) $(ratio "$KEYS_WALL" "$TD_ND_WALL")x slower than this"
    trow regipy_keys "regipy $REGIPY_VERSION (RegistryHive, $PY_VERSION)" \
        "the keys takedown reads, hives only: $WANT_REG entries" "**${R_KEYS}x** slower"
    trow regipy_recurse "regipy $REGIPY_VERSION \`recurse_subkeys\`" "every key and value of every hive" \
        "**${R_REC}x** slower"
    echo
    echo "Targets: takedown under 1 s: $(verdict "$TD_WALL" '<' 1); at least 20x faster than regipy reading the"
    echo "same keys: ${R_KEYS}x, $(verdict "$R_KEYS" '>=' 20) (every key of the hives: ${R_REC}x)."
    echo "Measured: $TD_BUILD."
    [ "$CONTENDED_RUNS" = 0 ] || echo "Contended runs (foreign CPU during the run): $CONTENDED_RUNS."
} | tee "$TABLE"

if [ "${KEEP:-0}" != 1 ]; then
    rm -rf "$TREE"
fi
