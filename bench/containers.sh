#!/usr/bin/env bash
# Race C, containers: takedown vs clamscan on a corpus of archives and mail
# built from this machine's files (bench/mkarchives.py), with the same
# signatures (a YARA rule for EICAR and SHA-256 IOCs of planted samples, all
# planted inside nested containers), then the bomb cases one by one.
# Prints a Markdown table (also bench/work/containers.md).
#
# Race C2, installers and packed executables: the same two tools on NSIS
# installers (zlib, bzip2, lzma; solid and not), ARJ archives and MS-SZDD
# files made from this machine's files with makensis, arj and mscompress,
# plus copies of the packed samples of Debian's clamav-testfiles
# (bench/mkinstallers.py); EICAR and ClamAV's clam.exe planted inside some,
# found by a YARA rule and clam.exe's SHA-256. Prints a second table and the
# files where the two tools disagree (also bench/work/installers.md).
#
# Knobs: RUNS (default 3), THREADS (default 2), TARGET_BYTES (race C corpus
# size, default 300 MiB), INST_TARGET_BYTES (machine files packed into race
# C2's installers and archives, default 200 MiB), RACES (default
# "archives installers": race C, race C2), SKIP_BUILD=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work
RUNS=${RUNS:-3}
THREADS=${THREADS:-2}
TARGET_BYTES=${TARGET_BYTES:-$((300 << 20))}
INST_TARGET_BYTES=${INST_TARGET_BYTES:-$((200 << 20))}
RACES=${RACES:-archives installers}
TD=$ROOT/target/release/takedown
CORPUS=$W/archives
BOMBS=$W/bombs
SIGS=$W/archive-sigs
INSTALLERS=$W/installers
INST_SIGS=$W/installer-sigs
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

need python3 "install python3"
need clamscan "install ClamAV (apt-get install clamav)"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found: apt-get install time"
mkdir -p "$W"
cd "$ROOT"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building takedown (cargo build --release)"
    cargo build --release >&2
fi
[ -x "$TD" ] || die "$TD not built: run cargo build --release"
case " $RACES " in *" installers "*)
    need makensis "install NSIS (apt-get install nsis)"
    need arj "apt-get install arj"
    need mscompress "apt-get install mscompress"
    [ -f /usr/share/clamav-testfiles/clam.exe ] || die "ClamAV's test files not found: apt-get install clamav-testfiles" ;;
esac

race_archives() {
    log "container corpus (~$((TARGET_BYTES >> 20)) MiB) and bombs"
    python3 "$HERE/mkarchives.py" --out "$CORPUS" --bombs "$BOMBS" --sigs "$SIGS" --target "$TARGET_BYTES"
    CORPUS_FILES=$(find "$CORPUS" -type f | wc -l)
    CORPUS_BYTES=$(find "$CORPUS" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
    echo "corpus: $CORPUS_FILES files, $CORPUS_BYTES bytes" >&2

    # The same signatures for both; default limits for both (ClamAV's defaults:
    # 400 MiB scanned per file, 100 MiB per member, 17 levels, 10,000 files).
    # shellcheck disable=SC2034 # used by rounds through a nameref
    CMD_clamscan=(clamscan --no-summary --infected -r -d "$SIGS/bench.yar" -d "$SIGS/planted.hsb" "$CORPUS")
    # shellcheck disable=SC2034
    CMD_takedown=("$TD" scan --no-builtin -s "$SIGS" -j "$THREADS" --no-cache --format json --no-progress "$CORPUS")

    log "race C: $RUNS interleaved rounds"
    rounds clamscan takedown
    median clamscan; C_WALL=$WALL; C_RSS=$RSS; C_LOG=$RUNLOG
    median takedown; T_WALL=$WALL; T_RSS=$RSS; T_LOG=$RUNLOG
    read -r C_FILES C_DETS < <(hits clamscan clamscan)
    read -r T_FILES T_DETS < <(hits takedown takedown)
    T_MEMBERS=$(grep '"type":"summary"' "$W/out.takedown" | python3 -c 'import json,sys; print(json.load(sys.stdin)["members_scanned"])')

    log "bombs, one at a time"
    : >"$W/bombs.tsv"
    for b in 42.zip overlap.zip zeros10g.gz; do
        CMD_bomb_td=("$TD" scan --no-cache --format json --no-progress -j 1 "$BOMBS/$b")
        CMD_bomb_clam=(clamscan --no-summary -d "$SIGS/bench.yar" -d "$SIGS/planted.hsb" "$BOMBS/$b")
        timed "bomb_td_$b" "${CMD_bomb_td[@]}"
        TW=$WALL; TR=$RSS
        LIMITS=$(python3 -c '
import json, sys
seen = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    for p in o.get("problems", []):
        k = p.get("limit") or p["kind"]
        seen[k] = seen.get(k, 0) + 1
print(", ".join(f"{k} x{v}" for k, v in sorted(seen.items())) or "none")' "$W/out.bomb_td_$b")
        timed "bomb_clam_$b" "${CMD_bomb_clam[@]}"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$(stat -c %s "$BOMBS/$b")" "$TW" "$TR" "$LIMITS" "$WALL" "$RSS" >>"$W/bombs.tsv"
    done

    python3 - "$W" "$CORPUS_FILES" "$CORPUS_BYTES" "$C_WALL" "$C_RSS" "$C_FILES" "$C_DETS" "$C_LOG" \
        "$T_WALL" "$T_RSS" "$T_FILES" "$T_DETS" "$T_LOG" "$T_MEMBERS" "$THREADS" "$RUNS" \
        "$("$TD" --version); $(clamscan --version)" <<'PY'
import sys
(w, nfiles, nbytes, cw, crss, cf, cd, clog, tw, trss, tf, td, tlog, members, threads, runs,
 versions) = sys.argv[1:]
mb = int(nbytes) / 1e6
cw, tw = float(cw), float(tw)
out = ["# takedown benchmark: containers", "",
       f"- corpus: {nfiles} files, {mb:,.0f} MB of archives and mail (bench/mkarchives.py); "
       f"{runs} interleaved runs per tool, medians; takedown -j {threads}, clamscan single-threaded",
       f"- versions: {versions}", "",
       "| tool | wall s | MB/s | peak RSS MB | hit files / detections | objects inside scanned |",
       "|---|---:|---:|---:|---:|---:|",
       f"| clamscan | {cw:.2f} | {mb / cw:.0f} | {int(crss) / 1024:.0f} | {cf} / {cd} | |",
       f"| takedown | {tw:.2f} | {mb / tw:.0f} | {int(trss) / 1024:.0f} | {tf} / {td} | {members} |",
       "", f"clamscan/takedown = **{cw / tw:.2f}x** wall (target: at least 3x); "
       f"hit files {tf} vs {cf} (target: at least as many). "
       "clamscan reports one detection per file; takedown every detection of every member.",
       "", f"Every run: clamscan {clog}; takedown {tlog}", "",
       "| bomb | size | takedown wall s | takedown peak RSS MB | limits reported | clamscan wall s | clamscan peak RSS MB |",
       "|---|---:|---:|---:|---|---:|---:|"]
for line in open(f"{w}/bombs.tsv"):
    b, size, tw_, tr, lim, cw_, cr = line.rstrip("\n").split("\t")
    out.append(f"| {b} | {int(size):,} | {float(tw_):.2f} | {int(tr) / 1024:.0f} | {lim} | {float(cw_):.2f} | {int(cr) / 1024:.0f} |")
out.append("")
out.append("Target: takedown's peak RSS under 256 MiB on every bomb.")
text = "\n".join(out) + "\n"
print(text)
open(f"{w}/containers.md", "w").write(text)
PY
}

race_installers() {
    log "installer corpus (~$((INST_TARGET_BYTES >> 20)) MiB of machine files packed) and packed samples"
    python3 "$HERE/mkinstallers.py" --out "$INSTALLERS" --sigs "$INST_SIGS" --target "$INST_TARGET_BYTES"
    CORPUS=$INSTALLERS
    local nfiles nbytes
    nfiles=$(find "$CORPUS" -type f | wc -l)
    nbytes=$(find "$CORPUS" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
    echo "installer corpus: $nfiles files, $nbytes bytes" >&2

    # shellcheck disable=SC2034 # used by rounds through a nameref
    CMD_clamscan_inst=(clamscan --no-summary --infected -r -d "$INST_SIGS/bench.yar" -d "$INST_SIGS/clam.hsb" "$CORPUS")
    # shellcheck disable=SC2034
    CMD_takedown_inst=("$TD" scan --no-builtin -s "$INST_SIGS" -j "$THREADS" --no-cache --format json --no-progress "$CORPUS")

    log "race C2: $RUNS interleaved rounds"
    rounds clamscan_inst takedown_inst
    median clamscan_inst; local cw=$WALL crss=$RSS clog=$RUNLOG
    median takedown_inst; local tw=$WALL trss=$RSS tlog=$RUNLOG
    local cf cd tf td members
    read -r cf cd < <(hits clamscan clamscan_inst)
    read -r tf td < <(hits takedown takedown_inst)
    members=$(grep '"type":"summary"' "$W/out.takedown_inst" | python3 -c 'import json,sys; print(json.load(sys.stdin)["members_scanned"])')

    python3 - "$W" "$CORPUS" "$nfiles" "$nbytes" "$cw" "$crss" "$cf" "$cd" "$clog" \
        "$tw" "$trss" "$tf" "$td" "$tlog" "$members" "$THREADS" "$RUNS" \
        "$("$TD" --version); $(clamscan --version)" <<'PY'
import json, os, re, sys
(w, corpus, nfiles, nbytes, cw, crss, cf, cd, clog, tw, trss, tf, td, tlog, members, threads,
 runs, versions) = sys.argv[1:]
mb = int(nbytes) / 1e6
cw, tw = float(cw), float(tw)
cf, tf = int(cf), int(tf)
rel = lambda p: os.path.relpath(os.path.abspath(p), corpus)

# What each tool found, per corpus file. clamscan names the first signature
# that matched a file ("YARA.Bench_EICAR.UNOFFICIAL"); takedown every
# detection with the chain of objects it was found in.
clam = {}
for line in open(f"{w}/out.clamscan_inst", encoding="utf-8", errors="replace"):
    m = re.match(r"^(.*): (\S+) FOUND$", line.rstrip("\n"))
    if m:
        name = re.sub(r"\.UNOFFICIAL$", "", m.group(2))
        clam.setdefault(rel(m.group(1)), set()).add(re.sub(r"^YARA\.", "", name))
tdk = {}
for line in open(f"{w}/out.takedown_inst", encoding="utf-8", errors="replace"):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("type") == "finding" and o.get("detections"):
        where = "!".join(o.get("chain") or []) or "(file)"
        for d in o["detections"]:
            tdk.setdefault(rel(o["path"]), set()).add((d["name"], where))
diff = []
for f in sorted(set(clam) | set(tdk)):
    c, t = clam.get(f, set()), tdk.get(f, set())
    # A difference: one tool found nothing, or clamscan's signature is not
    # among takedown's (clamscan stops at the first match, so takedown
    # finding more in a file both flag is not one).
    if not c or not t or not c <= {n for n, _ in t}:
        diff.append((f, ", ".join(sorted(c)) or "-",
                     ", ".join(f"{n} in {where}" for n, where in sorted(t)) or "-"))

ratio = cw / tw
met = ratio >= 10 and tf >= cf and not [d for d in diff if d[2] == "-"]
out = ["# takedown benchmark: installers and packed executables", "",
       f"- corpus: {nfiles} files, {mb:,.1f} MB: NSIS installers, ARJ and MS-SZDD files of this "
       "machine's files, the packed samples of clamav-testfiles, EICAR and clam.exe planted "
       f"(bench/mkinstallers.py); {runs} interleaved runs per tool, medians; takedown -j {threads}, "
       "clamscan single-threaded",
       f"- versions: {versions}", "",
       "| tool | wall s | MB/s | peak RSS MB | hit files | detections | objects inside scanned |",
       "|---|---:|---:|---:|---:|---:|---:|",
       f"| clamscan | {cw:.2f} | {mb / cw:.1f} | {int(crss) / 1024:.0f} | {cf} | {cd} | |",
       f"| takedown | {tw:.2f} | {mb / tw:.1f} | {int(trss) / 1024:.0f} | {tf} | {td} | {members} |",
       "", f"clamscan/takedown = **{ratio:.2f}x** wall; hit files {tf} vs {cf}. Target: at least 10x "
       "faster than clamscan with at least as many detections (every file clamscan flags flagged "
       f"too): **{'met' if met else 'missed'}**. clamscan reports one detection per file; takedown "
       "every detection of every member.",
       "", f"Every run: clamscan {clog}; takedown {tlog}", ""]
if diff:
    out += ["Files where the two differ:", "", "| file | clamscan | takedown |", "|---|---|---|"]
    out += [f"| {f} | {c} | {t} |" for f, c, t in diff]
else:
    out.append("Both tools flag the same files with the same signatures.")
text = "\n".join(out) + "\n"
print(text)
open(f"{w}/installers.md", "w").write(text)
PY
}

case " $RACES " in *" archives "*) race_archives ;; esac
case " $RACES " in *" installers "*) race_installers ;; esac
