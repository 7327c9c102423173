#!/usr/bin/env python3
"""The YARA files both racers of bench/memory.sh load whole: each file of
SRC_DIR is kept when Debian's yarac compiles it alone (with the Loki/THOR
externals filename, filepath, extension, filetype, owner defined as empty
strings) AND `takedown sigs check` loads every rule of it (no rule skipped).
A file either tool cannot load whole is left out for both, so that both run
exactly the same rules. The kept files are copied into OUT_DIR (emptied
first); OUT_DIR/../memory-rules.tsv lists every file with its verdict and
reason. Prints the counts.

usage: memrules.py SRC_DIR OUT_DIR TAKEDOWN YARAC JOBS
"""
import concurrent.futures as cf
import json
import os
import shutil
import subprocess
import sys
import tempfile

EXTERNALS = ["filename", "filepath", "extension", "filetype", "owner"]


def first_line(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for l in lines:
        if "error" in l.lower():
            return l[:200]
    return (lines[0] if lines else "failed")[:200]


def yarac_ok(path, yarac, tmp):
    out = os.path.join(tmp, os.path.basename(path) + ".yarc")
    cmd = [yarac] + [a for e in EXTERNALS for a in ("-d", f"{e}=")] + [path, out]
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    try:
        os.remove(out)
    except OSError:
        pass
    return r.returncode == 0, first_line(r.stderr + r.stdout)


def main():
    src, out, takedown, yarac, jobs = sys.argv[1:6]
    files = sorted(f for f in os.listdir(src)
                   if f.endswith((".yar", ".yara")) and os.path.isfile(os.path.join(src, f)))
    # takedown: one load of the whole directory, issues per file.
    r = subprocess.run([takedown, "sigs", "check", "--no-cache", "--format", "json", src],
                       capture_output=True, text=True, errors="replace")
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        sys.exit(f"takedown sigs check gave no JSON: {r.stderr[-500:]}")
    td_issue = {}
    for s in report["sources"]:
        if s["kind"] != "yara":
            continue
        base = os.path.basename(s["path"])
        if s["issues"]:
            i = s["issues"][0]
            td_issue[base] = f"{len(s['issues'])} rule(s) skipped, first: {i.get('rule') or ''}: {i['message']}"[:200]
        elif s["entries"] == 0:
            td_issue[base] = "no rule loaded"
    with tempfile.TemporaryDirectory() as tmp, cf.ThreadPoolExecutor(int(jobs)) as ex:
        yara = dict(zip(files, ex.map(lambda f: yarac_ok(os.path.join(src, f), yarac, tmp), files)))
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    counts = {}
    tsv = os.path.join(os.path.dirname(os.path.abspath(out)), "memory-rules.tsv")
    with open(tsv, "w") as f:
        for base in files:
            y_ok, y_err = yara[base]
            t_err = td_issue.get(base)
            reasons = []
            if not y_ok:
                reasons.append("yara: " + y_err)
            if t_err:
                reasons.append("takedown: " + t_err)
            if y_ok and not t_err:
                verdict = "common"
                shutil.copyfile(os.path.join(src, base), os.path.join(out, base))
            elif not y_ok and t_err:
                verdict = "fails-both"
            elif not y_ok:
                verdict = "fails-yara"
            else:
                verdict = "fails-takedown"
            counts[verdict] = counts.get(verdict, 0) + 1
            f.write(f"{base}\t{verdict}\t{' | '.join(reasons)}\n")
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())), f"total={len(files)}")


if __name__ == "__main__":
    main()
