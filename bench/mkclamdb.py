#!/usr/bin/env python3
"""Writes the ClamAV database of the scale race (bench/clamav-scale.sh):

  OUT/bench.hsb   --hashes SHA-256 lines `sha256:size:name`: the planted
                  IOC files of the corpus (WORK/planted.tsv, kind 'ioc')
                  with their real sizes, the rest seeded random with sizes
                  drawn log-uniformly from 1 KiB..16 MiB (as mkiocs.py:
                  small sizes are dense, so most small corpus files share a
                  size with some IOC and a size-gated scanner must hash them).
  OUT/bench.ndb   --bodies body signatures `Name:Target:Offset:Hex`: seeded
                  random ones in ClamAV's shapes (literal runs of 8-40 bytes
                  with `??`, nibbles, `{n-m}`, `*` and `(aa|bb)` between or
                  inside them; target types 0-7 and 9-12; offsets `*`, `n`,
                  `n,m`, `EOF-n`, `EP+n`, `Sx+n`), plus a few cut from the
                  corpus itself so that both scanners must find them:
                  from the planted random files and from real ELF files.

Names look like ClamAV's (`Platform.Category.Family-ID-0`). Prints the
corpus files the planted body signatures come from (relative paths) on
stdout, one per line.
"""
import argparse
import math
import os
import random

FAMILIES = ["Win.Trojan.Agent", "Win.Malware.Emotet", "Unix.Trojan.Mirai",
            "Win.Packed.Generic", "Doc.Downloader.Valyria", "Win.Ransomware.Lockbit",
            "Andr.Malware.Agent", "Js.Trojan.Nemucod", "Unix.Malware.Kaiji",
            "Win.Dropper.Qakbot"]
# ClamAV target types (8 is unused) with weights like a real daily.ndb:
# mostly any file and PE, some ELF, documents, HTML and text.
TARGETS = [(0, 40), (1, 30), (6, 8), (2, 4), (3, 5), (7, 5), (4, 2), (5, 1),
           (9, 1), (10, 2), (11, 1), (12, 1)]


def hexrun(rng, n):
    return rng.randbytes(n).hex()


def literal(rng):
    """A literal run of 8-40 bytes, sometimes with `??` or a nibble inside
    (never at its ends, so every part keeps fixed bytes around it)."""
    n = rng.randint(8, 40)
    b = rng.randbytes(n).hex()
    out = [b[i:i + 2] for i in range(0, len(b), 2)]
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        i = rng.randint(3, n - 4)
        out[i] = rng.choice(["??", out[i][0] + "?", "?" + out[i][1]])
    return "".join(out)


def body(rng):
    parts = [literal(rng)]
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
        kind = rng.random()
        if kind < 0.45:
            lo = rng.randint(0, 16)
            parts.append("{%d-%d}" % (lo, lo + rng.randint(1, 32)))
        elif kind < 0.65:
            parts.append("*")
        elif kind < 0.8:
            parts.append("{%d}" % rng.randint(1, 24))
        else:
            # An alternative of single bytes, then fixed bytes again.
            alts = {rng.randbytes(1).hex() for _ in range(rng.randint(2, 4))}
            parts.append(hexrun(rng, 2) + "(" + "|".join(sorted(alts)) + ")")
        parts.append(literal(rng))
    return "".join(parts)


def offset(rng, target):
    r = rng.random()
    if r < 0.75:
        return "*"
    if r < 0.83:
        return str(rng.randint(0, 4096))
    if r < 0.88:
        return "%d,%d" % (rng.randint(0, 2048), rng.randint(1, 512))
    if r < 0.92:
        return "EOF-%d" % rng.randint(64, 8192)
    if target in (1, 6):
        if r < 0.97:
            return "EP+%d" % rng.randint(0, 512)
        if target == 1:
            return "S%d+%d" % (rng.randint(0, 3), rng.randint(0, 256))
    return "*"


def planted_bodies(corpus, rng):
    """Signatures that must match files of the corpus: (name, line, file)."""
    out = []
    pl = [os.path.join("planted", f) for f in sorted(os.listdir(os.path.join(corpus, "planted")))
          if f.startswith("ioc_")]
    elves = []
    for sub in sorted(os.listdir(corpus)):
        if sub == "planted" or not sub.startswith("usr_lib"):
            continue
        for dirpath, dirnames, files in os.walk(os.path.join(corpus, sub)):
            dirnames.sort()
            for f in sorted(files):
                p = os.path.join(dirpath, f)
                try:
                    size = os.path.getsize(p)
                    with open(p, "rb") as fh:
                        magic = fh.read(4)
                except OSError:
                    continue
                if magic == b"\x7fELF" and 200_000 < size < 4_000_000 and not os.path.islink(p):
                    elves.append(os.path.relpath(p, corpus))
            if len(elves) > 200:
                break
        if len(elves) > 200:
            break
    for i, rel in enumerate(pl[:4]):
        data = open(os.path.join(corpus, rel), "rb").read()
        o = rng.randint(0, len(data) - 2000)
        b = data[o:o + 1200]
        if i == 0:    # ?? and a {n-m} gap, anywhere
            sig = (b[:12].hex() + "????" + b[14:24].hex() + "{4-8}" + b[30:40].hex(), "0", "*")
        elif i == 1:  # at its exact offset
            sig = (b[:32].hex(), "0", str(o))
        elif i == 2:  # an alternative and a nibble
            alt = "(%s|%02x)" % (b[16:17].hex(), (b[16] ^ 0x5A))
            sig = (b[:16].hex() + alt + b[17:20].hex() + b[20:21].hex()[0] + "?" + b[21:36].hex(), "0", "*")
        else:         # a `*` across 1 KB, counted from the end of the file
            sig = (b[:10].hex() + "*" + b[1000:1012].hex(), "0", "EOF-%d" % (len(data) - o))
        out.append((f"Bench.Planted.Body-{i}", sig, rel))
    for i, rel in enumerate(rng.sample(elves, min(3, len(elves)))):
        data = open(os.path.join(corpus, rel), "rb").read()
        # A run of the code in the middle of the file: ELF target, anywhere.
        for _ in range(200):
            o = rng.randint(len(data) // 3, 2 * len(data) // 3)
            b = data[o:o + 40]
            if len(set(b)) > 20:
                break
        sig = (b[:20].hex() + "{0-4}" + b[20:40].hex(), "6", "*")
        out.append((f"Bench.Planted.Elf-{i}", sig, rel))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--planted", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hashes", type=int, default=4_000_000)
    ap.add_argument("--bodies", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=771177)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)

    planted = []
    for line in open(a.planted):
        kind, rel, size, sha = line.rstrip("\n").split("\t")
        if kind == "ioc":
            planted.append((sha, int(size), os.path.basename(rel)))
    lo, hi = math.log(1024), math.log(16 << 20)
    # Planted lines at random positions among the random ones, written as
    # generated (4 million lines do not fit a shuffle's memory budget well).
    where = sorted(rng.sample(range(a.hashes), len(planted)))
    with open(os.path.join(a.out, "bench.hsb"), "w") as f:
        pi = 0
        for n in range(a.hashes):
            if pi < len(planted) and where[pi] == n:
                sha, size, name = planted[pi]
                f.write(f"{sha}:{size}:Bench.Planted.{name}\n")
                pi += 1
                continue
            size = int(math.exp(rng.uniform(lo, hi)))
            fam = FAMILIES[n % len(FAMILIES)]
            f.write(f"{rng.randbytes(32).hex()}:{size}:{fam}-{9000000 + n}-0\n")

    targets = [t for t, w in TARGETS for _ in range(w)]
    lines = []
    for n in range(a.bodies - 7):
        t = rng.choice(targets)
        lines.append(f"{FAMILIES[n % len(FAMILIES)]}-{7000000 + n}-0:{t}:{offset(rng, t)}:{body(rng)}")
    sources = []
    for name, (hexsig, t, off), rel in planted_bodies(a.corpus, rng):
        lines.insert(rng.randint(0, len(lines)), f"{name}:{t}:{off}:{hexsig}")
        sources.append(rel)
    with open(os.path.join(a.out, "bench.ndb"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for rel in sources:
        print(rel)


if __name__ == "__main__":
    main()
