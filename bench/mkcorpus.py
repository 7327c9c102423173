#!/usr/bin/env python3
"""Builds the benign benchmark corpus (idempotent).

Copies regular files (no symlinks, nothing over --max-file bytes, nothing
unreadable) from the given source roots, in sorted walk order, into
OUT/<root with '/' replaced by '_'>/..., until --target bytes are reached;
then plants the test samples:

  OUT/planted/eicar*.{com,txt,bin}  3 EICAR test files (68 bytes each)
  OUT/planted/ioc_N.bin             5 files of seeded random bytes whose
                                    SHA-256 become hash IOCs (mkiocs.py)

The EICAR string is assembled from pieces so that this script is not
itself a test sample. A finished corpus is marked by OUT/../corpus.done
holding the parameters; a rerun with the same parameters reuses it.
Writes OUT/../planted.tsv: kind, relative path, size, sha256.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import stat
import sys

EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-" +
         "ANTIVIRUS-" + "TEST-FILE!$H+H*").encode()
assert len(EICAR) == 68

EICAR_FILES = ["planted/eicar.com", "planted/docs/eicar.txt",
               "planted/deep/a/b/eicar_sample.bin"]
IOC_SIZES = [4096 + 17, 37 * 1024 + 3, 300 * 1024 + 1, 1200 * 1024 + 5,
             5 * 1024 * 1024 + 11]


def walk_sorted(root):
    """Regular files below root, sorted, without following symlinks."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            yield os.path.join(dirpath, name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--target", type=int, default=1 << 30)
    ap.add_argument("--max-file", type=int, default=100 * 1000 * 1000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("roots", nargs="+")
    a = ap.parse_args()

    out = os.path.abspath(a.out)
    work = os.path.dirname(out)
    done = os.path.join(work, "corpus.done")
    params = json.dumps({"target": a.target, "max_file": a.max_file,
                         "seed": a.seed, "roots": a.roots,
                         "eicar": EICAR_FILES, "ioc_sizes": IOC_SIZES})
    if os.path.exists(done) and open(done).read() == params and os.path.isdir(out):
        print(f"corpus: reusing {out}", file=sys.stderr)
        return
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    if os.path.exists(done):
        os.remove(done)

    total = 0
    nfiles = 0
    full = False
    for root in a.roots:
        if full:
            break
        if not os.path.isdir(root):
            print(f"corpus: skipping missing root {root}", file=sys.stderr)
            continue
        dest_root = os.path.join(out, root.strip("/").replace("/", "_"))
        for src in walk_sorted(root):
            try:
                st = os.lstat(src)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size > a.max_file:
                continue
            # A root listed after a parent of it (e.g. /usr/share/doc then
            # /usr/share) would copy files twice: skip what is already in.
            rel = os.path.relpath(src, root)
            dst = os.path.join(dest_root, rel)
            if any(src.startswith(r.rstrip("/") + "/") for r in a.roots[:a.roots.index(root)]):
                continue
            if total + st.st_size > a.target:
                if total > a.target * 0.99:
                    full = True
                    break
                continue  # try smaller files to land near the target
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                shutil.copyfile(src, dst, follow_symlinks=False)
            except OSError:
                continue
            total += st.st_size
            nfiles += 1

    rng = random.Random(a.seed)
    rows = []
    for rel in EICAR_FILES:
        p = os.path.join(out, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(EICAR)
        rows.append(("eicar", rel, len(EICAR), hashlib.sha256(EICAR).hexdigest()))
    for i, size in enumerate(IOC_SIZES, 1):
        rel = f"planted/ioc_{i}.bin"
        data = rng.randbytes(size)
        with open(os.path.join(out, rel), "wb") as f:
            f.write(data)
        rows.append(("ioc", rel, size, hashlib.sha256(data).hexdigest()))
    with open(os.path.join(work, "planted.tsv"), "w") as f:
        for r in rows:
            f.write("\t".join(map(str, r)) + "\n")
    with open(done, "w") as f:
        f.write(params)
    print(f"corpus: copied {nfiles} files, {total / 1e6:.0f} MB, planted {len(rows)}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
