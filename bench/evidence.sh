#!/usr/bin/env bash
# Evidence race (issue 19, Performance): `takedown evidence add` and
# `verify` against their peers, side by side on this machine, in one run:
#
#   preserve  ~1 GB of mixed files (run.sh's corpus): `takedown evidence add`
#             (into a fresh case made by an untimed `init`) vs `bagit.py`
#             making a bag with the same digests (in place on a fresh copy;
#             and with the copy timed) vs `cp -r` + `sha256sum` of the copies
#   verify    `takedown evidence verify` vs `bagit.py --validate`, each on
#             the case or bag made of the same files
#
# Targets (the issue): add at least 3x faster than bagit.py and within 1.5x
# of cp -r + sha256sum; verify at least 3x faster than bagit.py --validate.
#
# Every tool runs once untimed first, then RUNS timed rounds, interleaved;
# the table shows medians. Nothing is dropped from the page cache (no root
# needed): every run reads warm data, and the table says so.
#
# Knobs: RUNS (3), THREADS (2: -j of takedown; bagit.py's own default is one
# process, a diagnostic row gives it --processes THREADS), TARGET_BYTES
# (corpus size, 1 GiB), SKIP_BUILD=1 (use target/release/takedown as is),
# TD (another takedown binary; implies no build),
# BAGIT (the bagit.py command; default: .venv/bin/bagit.py, else
# `python -m bagit` from bench/work/bagit-venv, made with bagit==1.8.1),
# KEEP=1 (keep the verify case and bag at the end), KEEP_IMG=1 (keep the
# loop image, written in full, for the next run), and lib.sh's SETTLE_MAX
# and RETRIES.
# Output: bench/work/evidence-results.md; logs and outputs in
# bench/work/evidence/ (out.*, err.*, time.*, runs.*).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work/evidence
RUNS=${RUNS:-3}
THREADS=${THREADS:-2}
TARGET_BYTES=${TARGET_BYTES:-$((1 << 30))}
TD=${TD:-$ROOT/target/release/takedown}
CORPUS=$HERE/work/corpus
KEY=$HERE/work/examiner_ed25519
TABLE=$HERE/work/evidence-results.md
# R: the output of the run in progress (deleted after each run); V: the case
# and the bag that the verify rounds read (made by the untimed first runs).
# Both under bench/work, on the corpus's file system.
R=$W/run
V=$W/verify

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

need python3 "install python3"
need sha256sum "install coreutils"
need xargs "install findutils"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found: apt-get install time"
sync --help 2>/dev/null | grep -q -- '--file-system' || die "sync -f (coreutils >= 8.24) needed"

mkdir -p "$W"
rm -rf "$R" "$V"
mkdir -p "$R" "$V"
cd "$ROOT"

# ---------------------------------------------------------------- tools
if [ -z "${BAGIT:-}" ]; then
    if [ -x "$ROOT/.venv/bin/bagit.py" ]; then
        BAGIT=$ROOT/.venv/bin/bagit.py
    else
        VENV=$HERE/work/bagit-venv
        if ! "$VENV/bin/python" -c 'import bagit' 2>/dev/null; then
            log "creating bench/work/bagit-venv (bagit==1.8.1 from PyPI)"
            python3 -m venv "$VENV"
            "$VENV/bin/pip" install -q bagit==1.8.1
        fi
        BAGIT="$VENV/bin/python -m bagit"
    fi
fi
read -r -a BAGIT_CMD <<<"$BAGIT"
BAGIT_VERSION=$("${BAGIT_CMD[@]}" --help 2>&1 | sed -n 's/^bagit-python version //p')
[ -n "$BAGIT_VERSION" ] || die "'$BAGIT' does not run bagit.py (no version in its --help); set BAGIT"
BAGIT_PY=$(head -n 1 "${BAGIT_CMD[0]}" 2>/dev/null | sed -n 's/^#! *//p')
BAGIT_PY=${BAGIT_PY:-${BAGIT_CMD[0]}}
PY_VERSION=$($BAGIT_PY --version 2>&1 || echo 'Python ?')

if [ "${SKIP_BUILD:-0}" != 1 ] && [ "$TD" = "$ROOT/target/release/takedown" ]; then
    log "building takedown (cargo build --release -p takedown)"
    cargo build --release -p takedown >&2
fi
[ -x "$TD" ] || die "$TD not built: run cargo build --release -p takedown"
"$TD" evidence --help >/dev/null 2>&1 || die "$TD has no 'evidence' command"
# What is being measured, taken now: the tree may change during the run.
TD_BUILD="takedown $("$TD" --version | awk '{print $2}') (binary of $(date -r "$TD" '+%F %T'); tree at \
$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null \
|| echo ' + uncommitted crates/ changes') when the run started)"
# --all-digests may or may not exist in this build: its row only if it does.
ALL_DIGESTS=0
"$TD" evidence verify --help 2>/dev/null | grep -q -- '--all-digests' && ALL_DIGESTS=1

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- corpus
make_corpus
[ "$(find "$CORPUS" ! -type f ! -type d | wc -l)" = 0 ] || die "the corpus holds something else than files and directories"

# Same file system for the corpus and every output (a copy across file
# systems would measure another disk), and room for three more copies at
# once: the verify case, the verify bag and the run in progress.
[ "$(stat -c %d "$CORPUS")" = "$(stat -c %d "$W")" ] || die "$W is not on the corpus's file system"

# Every run that writes (the preserve rows) writes to a freshly made ext4
# file system (a loop-mounted image under bench/work, remade before each
# run, untimed) when run as root: on a file system where 16,000 files were
# just deleted, ext4 searches for inodes that were not recently deleted
# (`recently_deleted` in its allocator) and every file creation costs
# hundreds of microseconds, for cp and bagit.py as for takedown, more or
# less depending on what the run before deleted. A fresh file system gives
# every tool the same start. FRESH_FS=0 keeps the outputs on bench/work.
FRESH_FS=${FRESH_FS:-$([ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && echo 1 || echo 0)}
#
# The loop device does direct I/O to its image (`losetup --direct-io=on`):
# a plain loop device writes through the page cache of the file system
# that holds the image, so every byte written is copied a second time by
# the loop device's kernel thread and written back twice, CPU that a real
# disk does not cost and that the writing tools (takedown, cp) would pay
# for on two shared cores while bagit.py in place (which writes only its
# manifests) would not. LOOP_DIO=0 gives the plain loop device.
LOOP_DIO=${LOOP_DIO:-1}
#
# The image is written in full once (zeros, untimed) and kept: a sparse
# image makes the file system that holds it allocate blocks on every first
# write through the loop device, about 10% of the preserving runs' time
# here, a cost a real disk does not have. mkfs.ext4 runs with `nodiscard`,
# so the loop device does not punch the image's blocks out again.
IMG=$W/fresh.img
IMG_BYTES=$(((CORPUS_BYTES * 3 + (1 << 30)) >> 20 << 20))
LOOPDEV=
fresh_fs() {
    [ "$FRESH_FS" = 1 ] || return 0
    release_fs
    if [ "$(stat -c '%s %b %B' "$IMG" 2>/dev/null | awk '{print ($1 == $2 * $3) ? $1 : 0}')" != "$IMG_BYTES" ]; then
        # A whole number of MiB: a loop device ignores a partial last sector.
        log "writing the $((IMG_BYTES >> 20)) MiB loop image in full (once, untimed)"
        rm -f "$IMG"
        dd if=/dev/zero of="$IMG" bs=1M count="$((IMG_BYTES >> 20))" conv=fsync status=none
    fi
    mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$IMG" >/dev/null
    if [ "$LOOP_DIO" = 1 ]; then
        LOOPDEV=$(losetup --direct-io=on -f --show "$IMG")
    else
        LOOPDEV=$(losetup -f --show "$IMG")
    fi
    mkdir -p "$R"
    mount "$LOOPDEV" "$R"
}
release_fs() {
    if mountpoint -q "$R"; then umount "$R"; fi
    if [ -n "$LOOPDEV" ]; then
        losetup -d "$LOOPDEV" 2>/dev/null || true
        LOOPDEV=
    fi
}
cleanup_fs() {
    if [ "$FRESH_FS" = 1 ]; then
        release_fs
        [ "${KEEP_IMG:-0}" = 1 ] || rm -f "$IMG"
    fi
    return 0
}

# Room: the verify case and bag (a corpus each) and the run in progress,
# which is the loop image when there is one (what of it exists already
# counts as free).
AVAIL=$(df -P -B1 "$W" | awk 'NR == 2 {print $4}')
if [ "$FRESH_FS" = 1 ]; then
    HAVE=$(($(stat -c '%b * %B' "$IMG" 2>/dev/null || echo 0)))
    NEED=$((CORPUS_BYTES * 2 + IMG_BYTES - HAVE))
else
    NEED=$((CORPUS_BYTES * 3))
fi
[ "$AVAIL" -ge "$NEED" ] || die "$((AVAIL >> 20)) MiB free under $W, $((NEED >> 20)) MiB needed"
trap cleanup_fs EXIT

# ---------------------------------------------------------------- helpers
# readall DIR: every file of DIR through the page cache (warm inputs).
readall() { find "$1" -type f -print0 | xargs -0 cat >/dev/null; }
# flush: written data out of the page cache's dirty list, so that no run
# pays for the writeback of the one before (untimed).
flush() {
    sync -f "$W"
    if mountpoint -q "$R"; then sync -f "$R"; fi
}

# failed NAME: the timed command's failure as GNU time recorded it, if any.
failed() {
    sed -n 's/^Command exited with non-zero status \([0-9]*\)$/exit \1/p
            s/^Command terminated by signal \([0-9]*\)$/signal \1/p' "$W/time.$1" | tail -n 1
}
must_succeed() {
    local f
    f=$(failed "$1")
    [ -z "$f" ] || die "$1 failed ($f); last lines of bench/work/evidence/err.$1:
$(tail -n 8 "$W/err.$1")"
}
# count WHAT N: N must be the corpus's file count.
count() { [ "$2" = "$CORPUS_FILES" ] || die "$1: $2, the corpus has $CORPUS_FILES files"; }
# check_bag NAME DIR ALG...: every corpus file in DIR's payload and in each
# manifest.
check_bag() {
    local name=$1 dir=$2 alg
    shift 2
    count "$name: files under $dir/data" "$(find "$dir/data" -type f | wc -l)"
    for alg in "$@"; do
        [ -f "$dir/manifest-$alg.txt" ] || die "$name: no manifest-$alg.txt in $dir"
        count "$name: lines of $dir/manifest-$alg.txt" "$(wc -l <"$dir/manifest-$alg.txt")"
    done
}

# The commands. Preserve (output in $R/out, fresh for each run):
CMD_td_add=("$TD" evidence add "$R/out" "$CORPUS" --key "$KEY" -j "$THREADS")
CMD_bagit=("${BAGIT_CMD[@]}" --md5 --sha1 --sha256 "$R/out")
CMD_bagit_cp=(sh -c 'src=$1 dst=$2; shift 2; cp -r "$src" "$dst" && "$@" "$dst"' sh "$CORPUS" "$R/out"
    "${BAGIT_CMD[@]}" --md5 --sha1 --sha256)
CMD_cp_sha256=(sh -c 'cp -r "$1" "$2" && find "$2" -type f -print0 | xargs -0 sha256sum >/dev/null'
    sh "$CORPUS" "$R/out")
CMD_bagit_2=("${BAGIT_CMD[@]}" --md5 --sha256 "$R/out")
CMD_bagit_p=("${BAGIT_CMD[@]}" --processes "$THREADS" --md5 --sha1 --sha256 "$R/out")
CMD_cp_sync_sha256=(sh -c 'cp -r "$1" "$2" && sync -f "$2" && find "$2" -type f -print0 | xargs -0 sha256sum >/dev/null'
    sh "$CORPUS" "$R/out")
# Verify (inputs in $V, made by the untimed first runs):
CMD_td_verify=("$TD" evidence verify "$V/case" -j "$THREADS")
CMD_td_verify_all=("$TD" evidence verify --all-digests "$V/case" -j "$THREADS")
CMD_bagit_validate=("${BAGIT_CMD[@]}" --validate "$V/bag")
CMD_bagit_validate_p=("${BAGIT_CMD[@]}" --validate --processes "$THREADS" "$V/bag")

PRESERVE=(td_add bagit bagit_cp cp_sha256 bagit_2 bagit_p cp_sync_sha256)
VERIFY=(td_verify bagit_validate)
[ "$ALL_DIGESTS" = 1 ] && VERIFY+=(td_verify_all)
VERIFY+=(bagit_validate_p)

# setup ID: the untimed preparation of one run of ID.
setup() {
    rm -rf "$R/out"
    case $1 in
    td_verify* | bagit_validate*) ;;
    *) fresh_fs ;;
    esac
    case $1 in
    td_add)
        "$TD" evidence init "$R/out" --case-id bench-evidence --examiner bench --key "$KEY" \
            </dev/null >"$W/out.init" 2>"$W/err.init" ||
            die "takedown evidence init failed: $(tail -n 5 "$W/err.init")"
        ;;
    bagit | bagit_2 | bagit_p) cp -r "$CORPUS" "$R/out" ;; # bagit.py bags in place
    esac
    flush
    case $1 in
    td_verify*) readall "$V/case" ;;
    bagit_validate*) readall "$V/bag" ;;
    *) warm ;; # lib.sh: reads the corpus
    esac
}

# check ID NAME: the run NAME of ID did its work, or the script stops.
check() {
    must_succeed "$2"
    case $1 in
    td_add) check_bag "$2" "$R/out" md5 sha1 sha256 ;;
    bagit | bagit_cp | bagit_p) check_bag "$2" "$R/out" md5 sha1 sha256 ;;
    bagit_2) check_bag "$2" "$R/out" md5 sha256 ;;
    cp_sha256 | cp_sync_sha256) count "$2: files copied" "$(find "$R/out" -type f | wc -l)" ;;
    esac
}

# one ID NAME: setup, timed run, check (sets WALL, RSS, FOREIGN, CONTENDED).
one() {
    setup "$1"
    local -n cmd="CMD_$1"
    timed "$2" "${cmd[@]}" </dev/null
    unset -n cmd
    check "$1" "$2"
}

# ---------------------------------------------------------------- warm-up
log "one untimed run of each tool (warm-up; also makes the verify case and bag)"
for id in "${PRESERVE[@]}"; do
    one "$id" "$id.warm"
    case $id in
    td_add) cp -a "$R/out" "$V/case" ;;
    bagit) cp -a "$R/out" "$V/bag" ;;
    *) rm -rf "$R/out" ;;
    esac
done
flush
[ -s "$KEY" ] || die "no examiner key at $KEY after takedown evidence init"
for id in "${VERIFY[@]}"; do one "$id" "$id.warm"; done

# Interoperability, untimed: the takedown case is a BagIt bag, so bagit.py
# must find it valid too.
if "${BAGIT_CMD[@]}" --validate "$V/case" >"$W/out.interop" 2>"$W/err.interop"; then
    INTEROP="bagit.py --validate of the takedown case: valid"
else
    INTEROP="**bagit.py --validate of the takedown case: INVALID** (bench/work/evidence/err.interop: $(grep -m1 -i 'error\|invalid' "$W/err.interop" | cut -c1-200))"
fi
echo "$INTEROP" >&2

# ---------------------------------------------------------------- rounds
log "$RUNS timed round(s), tools interleaved"
for id in "${PRESERVE[@]}" "${VERIFY[@]}"; do : >"$W/runs.$id"; done
for r in $(seq 1 "$RUNS"); do
    log "round $r of $RUNS"
    for id in "${PRESERVE[@]}" "${VERIFY[@]}"; do
        try=0
        while :; do
            one "$id" "$id.r$r"
            rm -rf "$R/out"
            [ "$CONTENDED" = 1 ] && [ "$try" -lt "${RETRIES:-2}" ] || break
            try=$((try + 1))
            echo "   retrying $id.r$r (contended)" >&2
        done
        [ "$CONTENDED" = 1 ] && CONTENDED_RUNS=$((CONTENDED_RUNS + 1))
        echo "$WALL $RSS $FOREIGN $CONTENDED" >>"$W/runs.$id"
    done
done
flush

# ---------------------------------------------------------------- report
median td_add
TD_ADD=$WALL
median td_verify
TD_VERIFY=$WALL
# trow ID BASE LABEL: one table line; ratio = ID's median wall / BASE's.
trow() {
    median "$1"
    printf '| %s | %.2f | %s | %.0f | %s |\n' "$3" "$WALL" \
        "$(awk -v a="$WALL" -v b="$2" 'BEGIN {printf "%.2f", a / b}')" \
        "$(awk -v r="$RSS" 'BEGIN {print r / 1024}')" "$RUNLOG"
}
ratio() { # ratio ID BASE: ID's median wall / BASE's, 2 decimals
    median "$1"
    awk -v a="$WALL" -v b="$2" 'BEGIN {printf "%.2f", a / b}'
}
verdict() { # verdict VALUE OP LIMIT
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {ok = (op == ">=") ? v >= l : v <= l; print ok ? "met" : "**not met**"}'
}
R_BAGIT=$(ratio bagit "$TD_ADD")
R_BAGIT_CP=$(ratio bagit_cp "$TD_ADD")
median cp_sha256
R_CP=$(awk -v t="$TD_ADD" -v c="$WALL" 'BEGIN {printf "%.2f", t / c}')
R_VALIDATE=$(ratio bagit_validate "$TD_VERIFY")
MB=$(awk -v b="$CORPUS_BYTES" 'BEGIN {printf "%.0f", b / 1e6}')
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
B="bagit.py $BAGIT_VERSION"

{
    echo "Evidence race (bench/evidence.sh): $CORPUS_FILES files, $MB MB (run.sh's corpus); $(nproc) x $CPU;"
    echo "median of $RUNS timed run(s) per tool after one untimed run, tools interleaved; **page cache warm for every"
    if [ "$FRESH_FS" = 1 ]; then
        echo "run** (nothing dropped: inputs read just before each run); each writing run's output on a freshly made"
        echo "ext4 (loop image on the same disk$([ "$LOOP_DIO" = 1 ] && echo ', direct I/O'), remade untimed before each run), the verify inputs on the corpus's"
        echo "file system. Ratio: the tool's wall time / takedown's (> 1: takedown is faster)."
    else
        echo "run** (nothing dropped: inputs read just before each run); outputs on the corpus's file system, deleted"
        echo "and synced between runs. Ratio: the tool's wall time / takedown's (> 1: takedown is faster)."
    fi
    echo
    echo "| preserve $MB MB | wall s (median) | ratio vs takedown | peak RSS MB | runs (wall/RSS) |"
    echo "|---|---:|---:|---:|---|"
    trow td_add "$TD_ADD" "\`takedown evidence add -j $THREADS\` (fresh case, untimed \`init\`)"
    trow bagit "$TD_ADD" "\`$B --md5 --sha1 --sha256\` (bags a fresh copy in place: its own work only)"
    trow bagit_cp "$TD_ADD" "\`cp -r\` + \`$B --md5 --sha1 --sha256\` (source untouched, as takedown)"
    trow cp_sha256 "$TD_ADD" "\`cp -r\` + \`sha256sum\` of the copies (find \| xargs)"
    trow bagit_2 "$TD_ADD" "diagnostic: \`$B --md5 --sha256\` in place"
    trow bagit_p "$TD_ADD" "diagnostic: \`$B --processes $THREADS --md5 --sha1 --sha256\` in place"
    trow cp_sync_sha256 "$TD_ADD" "diagnostic: \`cp -r\` + \`sync -f\` + \`sha256sum\` (durable, as takedown)"
    echo
    echo "| verify $MB MB | wall s (median) | ratio vs takedown | peak RSS MB | runs (wall/RSS) |"
    echo "|---|---:|---:|---:|---|"
    trow td_verify "$TD_VERIFY" "\`takedown evidence verify -j $THREADS\`"
    trow bagit_validate "$TD_VERIFY" "\`$B --validate\` (md5, sha1 and sha256 of every file)"
    if [ "$ALL_DIGESTS" = 1 ]; then
        trow td_verify_all "$TD_VERIFY" "diagnostic: \`takedown evidence verify --all-digests -j $THREADS\`"
    else
        echo "| diagnostic: \`takedown evidence verify --all-digests\` | - | - | - | not in this build |"
    fi
    trow bagit_validate_p "$TD_VERIFY" "diagnostic: \`$B --validate --processes $THREADS\`"
    echo
    echo "Targets (issue 19): add >= 3x faster than bagit.py: ${R_BAGIT}x against bagit.py's own work in place" \
        "($(verdict "$R_BAGIT" '>=' 3)), ${R_BAGIT_CP}x against cp -r + bagit.py ($(verdict "$R_BAGIT_CP" '>=' 3));" \
        "add within 1.5x of cp -r + sha256sum (takedown / cp):" \
        "${R_CP}x ($(verdict "$R_CP" '<=' 1.5)); verify >= 3x faster than bagit.py --validate: ${R_VALIDATE}x" \
        "($(verdict "$R_VALIDATE" '>=' 3))."
    echo
    echo "Checked: every run exited 0; every case and bag holds the corpus's $CORPUS_FILES files in data/ and in"
    echo "each manifest; each cp copy holds them; takedown verify passed its case and bagit.py --validate its bag."
    echo "$INTEROP."
    echo "takedown makes its copies durable (syncfs of the case's file system) before it returns; cp and"
    echo "bagit.py do not (the \`sync -f\` row shows what that costs the copy). bagit.py logs every file at INFO"
    echo "level (to a file here), as it does by default."
    echo
    echo "Versions: $TD_BUILD; $B ($PY_VERSION); $(cp --version | head -n 1). THREADS=$THREADS;" \
        "load at start $LOAD_AT_START; $CONTENDED_RUNS contended run(s) (lib.sh: > 5% of the machine used by others)."
} | tee "$TABLE"

cleanup_fs
if [ "${KEEP:-0}" != 1 ]; then
    rm -rf "$R" "$V"
fi
