#!/usr/bin/env python3
"""Finds the signature-base YARA files that compile with BOTH yr (yara-x
CLI) and Debian's yarac (libyara), each file alone, with the Loki/THOR
externals (filename, filepath, extension, filetype, owner) defined as empty
strings and, for yr, --relaxed-re-syntax. Copies that common set into OUT
(emptied first) and writes OUT/../yara-common.tsv: file, verdict, reason,
notes. Notes say, for information only, whether the file would have failed
without the externals (yarac) or without --relaxed-re-syntax (yr).

usage: yaracommon.py SRC_DIR OUT_DIR YR YARAC JOBS
"""
import concurrent.futures as cf
import os
import shutil
import subprocess
import sys
import tempfile

EXTERNALS = ["filename", "filepath", "extension", "filetype", "owner"]


def first_error(text):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("error") or "error:" in line:
            return line[:200]
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return (lines[0] if lines else "failed")[:200]


def check(path, yr, yarac, tmp):
    base = os.path.basename(path)
    yr_cmd = [yr, "compile", "--relaxed-re-syntax", "-o", os.path.join(tmp, base + ".yrc")]
    for e in EXTERNALS:
        yr_cmd += ["-d", f'{e}=""']
    yr_cmd.append(path)
    yara_cmd = [yarac] + [a for e in EXTERNALS for a in ("-d", f"{e}=")]
    yara_cmd += [path, os.path.join(tmp, base + ".yarac")]
    r1 = subprocess.run(yr_cmd, capture_output=True, text=True, errors="replace")
    r2 = subprocess.run(yara_cmd, capture_output=True, text=True, errors="replace")
    # Diagnostics only: what the externals / relaxed syntax buy.
    r3 = subprocess.run([yarac, path, os.path.join(tmp, base + ".yarac")],
                        capture_output=True, text=True, errors="replace")
    r4 = subprocess.run([a for a in yr_cmd if a != "--relaxed-re-syntax"],
                        capture_output=True, text=True, errors="replace")
    notes = []
    if r3.returncode != 0 and r2.returncode == 0:
        notes.append("needs-externals")
    if r4.returncode != 0 and r1.returncode == 0:
        notes.append("needs-relaxed-re")
    for ext in (".yrc", ".yarac"):
        try:
            os.remove(os.path.join(tmp, base + ext))
        except OSError:
            pass
    reasons = []
    if r1.returncode != 0:
        reasons.append("yr: " + first_error(r1.stderr + r1.stdout))
    if r2.returncode != 0:
        reasons.append("yara: " + first_error(r2.stderr + r2.stdout))
    if r1.returncode == 0 and r2.returncode == 0:
        verdict = "common"
    elif r1.returncode != 0 and r2.returncode != 0:
        verdict = "fails-both"
    elif r1.returncode != 0:
        verdict = "fails-yr"
    else:
        verdict = "fails-yara"
    return base, verdict, " | ".join(reasons), ",".join(notes)


def main():
    src, out, yr, yarac, jobs = sys.argv[1:6]
    files = sorted(f for f in os.listdir(src)
                   if f.endswith((".yar", ".yara")) and os.path.isfile(os.path.join(src, f)))
    with tempfile.TemporaryDirectory() as tmp, cf.ThreadPoolExecutor(int(jobs)) as ex:
        results = list(ex.map(lambda f: check(os.path.join(src, f), yr, yarac, tmp), files))
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    counts = {}
    with open(os.path.join(os.path.dirname(os.path.abspath(out)), "yara-common.tsv"), "w") as f:
        for base, verdict, reason, notes in results:
            counts[verdict] = counts.get(verdict, 0) + 1
            for n in filter(None, notes.split(",")):
                counts["compile-only-with-" + n.replace("needs-", "")] = \
                    counts.get("compile-only-with-" + n.replace("needs-", ""), 0) + 1
            f.write(f"{base}\t{verdict}\t{reason}\t{notes}\n")
            if verdict == "common":
                shutil.copyfile(os.path.join(src, base), os.path.join(out, base))
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())), f"total={len(files)}")


if __name__ == "__main__":
    main()
