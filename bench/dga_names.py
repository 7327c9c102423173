"""Input of bench/dga.sh's match race: N names, one per line, a share of
them DGA domains of the window (mixed case, some under `www.`), the rest
made-up names (random labels under common TLDs), in random order.

usage: dga_names.py N DGA_PERCENT DGA_DOMAINS_FILE OUT
  DGA_DOMAINS_FILE: the window's generated domains, one per line
  (`takedown dga gen --family all`).
Prints the number of lines derived from DGA domains (the least number of
names `dga match` must report as matched). Seeded: the same arguments make
the same file.
"""
import random
import sys

# Common TLDs for the made-up names; they share most of them with the DGAs,
# so a lookup cannot reject a name by its TLD alone.
TLDS = ["com", "net", "org", "de", "ru", "info", "biz", "co.uk", "fr", "nl",
        "it", "pl", "in", "io", "cc", "pw", "top", "xyz", "us", "eu"]
LABEL = b"abcdefghijklmnopqrstuvwxyz0123456789"
# byte -> label character (a slight bias toward the first characters is
# of no consequence here).
TABLE = bytes(LABEL[b % len(LABEL)] for b in range(256))
CHUNK = 100_000


def main():
    n, share, dga_file, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    with open(dga_file) as f:
        dga = [line.strip() for line in f if line.strip()]
    if not dga:
        sys.exit("dga_names.py: no domains in " + dga_file)
    rng = random.Random(26)
    inserted = 0
    with open(out, "w") as w:
        left = n
        while left > 0:
            k = min(CHUNK, left)
            left -= k
            # One block of random label characters per chunk, sliced below.
            pool = rng.randbytes(k * 24).translate(TABLE).decode("ascii")
            lines = []
            pos = 0
            for _ in range(k):
                r = rng.random()
                if r < share:
                    inserted += 1
                    d = rng.choice(dga)
                    c = rng.random()
                    if c < 0.3:
                        d = d.upper()
                    elif c < 0.6:
                        d = "".join(ch.upper() if rng.random() < 0.5 else ch for ch in d)
                    if rng.random() < 0.2:
                        d = ("WWW." if c < 0.3 else "www.") + d
                    lines.append(d)
                else:
                    length = 5 + int(rng.random() * 16)
                    label = pool[pos:pos + length]
                    pos += length
                    name = label + "." + TLDS[int(rng.random() * len(TLDS))]
                    if rng.random() < 0.1:
                        name = "www." + name
                    lines.append(name)
            w.write("\n".join(lines))
            w.write("\n")
    print(inserted)


if __name__ == "__main__":
    main()
