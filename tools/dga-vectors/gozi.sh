#!/usr/bin/env bash
# Writes crates/dga/tests/vectors/gozi.txt (and gozi-observed.txt) from the
# reference implementation of Gozi/ISFB's word-list DGA, run as a black box.
#
# usage: tools/dga-vectors/gozi.sh ORACLE_DIR
#   ORACLE_DIR: a checkout (or `git archive`) of
#   github.com/baderj/domain_generation_algorithms at commit $COMMIT, e.g.
#     mkdir -p /tmp/oracle-gozi && git -C <mirror> archive $COMMIT gozi | tar -x -C /tmp/oracle-gozi
#     tools/dga-vectors/gozi.sh /tmp/oracle-gozi
#
# The driver imports gozi/dga.py and calls its dga(date, wordlist) for every
# word list over dates 2013-2030. Other seeds are tested by wrapping the
# module's Rand class so that it starts at the reference seed plus an
# offset (the oracle computes its seed internally); custom word lists by
# adding an entry to its `seeds` table and writing the list as a file in a
# scratch directory, which is how the script reads its own lists. The
# oracle's code is not changed.
set -euo pipefail
COMMIT=09961a14f4ab72837b9139470271a4fbf767f565
ORACLE_DIR=$(cd "${1:?usage: $0 ORACLE_DIR}" && pwd)
[ -f "$ORACLE_DIR/gozi/dga.py" ] || { echo "$0: no gozi/dga.py under $ORACLE_DIR" >&2; exit 2; }
OUT_DIR=$(cd "$(dirname "$0")/../.." && pwd)/crates/dga/tests/vectors
mkdir -p "$OUT_DIR"
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
cp "$ORACLE_DIR"/gozi/{dga.py,gpl,luther,nasa,rfc4343,example_domains.txt} "$SCRATCH"/
SHA=$(sha256sum "$ORACLE_DIR/gozi/dga.py" | cut -d' ' -f1)

cd "$SCRATCH"
python3 - "$OUT_DIR" "$COMMIT" "$SHA" <<'PY'
import json, sys
from datetime import datetime
import dga as oracle

out_dir, commit, sha = sys.argv[1:4]
REF_SEED = ((1 << 16) - 306607824) % 2**32
DATES = """2013-01-01 2013-07-15 2014-03-31 2014-12-31 2015-01-01 2015-01-31
2015-04-30 2015-06-17 2016-02-28 2016-02-29 2016-03-01 2016-03-28 2016-11-30
2016-12-01 2016-12-31 2017-01-31 2017-09-09 2018-04-30 2018-12-31 2019-05-05
2020-01-31 2020-02-29 2020-12-31 2021-04-30 2022-08-08 2023-01-31 2024-02-29
2024-12-31 2025-04-30 2026-10-10 2027-12-31 2028-02-29 2029-01-31 2030-04-30
2030-12-31""".split()
FEW_DATES = ["2014-12-31", "2016-02-29", "2016-11-30", "2020-02-29", "2024-02-29",
             "2025-04-30", "2030-12-31"]
OrigRand = oracle.Rand

def run(wordlist, day, offset=0):
    # Start the oracle's generator at its own seed plus `offset`.
    oracle.Rand = lambda seed: OrigRand((seed + offset) % 2**32)
    try:
        return list(oracle.dga(datetime.strptime(day, "%Y-%m-%d"), wordlist))
    finally:
        oracle.Rand = OrigRand

lines = []
def emit(variant, seed, day, domains):
    for d in domains:
        lines.append("\t".join([variant, seed, day, d]))

for wl in ["luther", "rfc4343", "nasa", "gpl"]:
    for day in DATES:
        emit(wl, "0x%08x" % REF_SEED, day, run(wl, day))
    # made-up seeds
    for offset in [1, 0x1234567, 0x80000000 - REF_SEED]:
        for day in FEW_DATES:
            emit(wl, "0x%08x" % ((REF_SEED + offset) % 2**32), day, run(wl, day, offset))

# Custom word lists, TLDs and periods through --config.
customs = [
    ("luther", {"words": ["alpha", "be", "gamma", "delta", "epsilonzeta", "eta", "thetaiota", "kappa", "xy"],
                "tld": "net", "period_days": 2}),
    ("gpl", {"words": ["short", "tiny", "medium", "considerably", "abcdefghijklmnopqrstuvwxyz", "ok"],
             "tld": ".org", "period_days": 7, "seed": "0xdeadbeef"}),
    ("nasa", {"words": ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                        "eleven", "twelve", "thirteen"], "tld": "co.uk", "period_days": 1}),
]
for i, (variant, cfg) in enumerate(customs):
    name = "custom%d" % i
    with open(name, "w") as f:
        f.write("\n".join(cfg["words"]) + "\n")
    tld = cfg["tld"] if cfg["tld"].startswith(".") else "." + cfg["tld"]
    oracle.seeds[name] = {"div": cfg["period_days"], "tld": tld, "nr": 12}
    offset = (int(cfg["seed"], 16) - REF_SEED) % 2**32 if "seed" in cfg else 0
    for day in FEW_DATES + ["2013-01-01", "2015-01-01", "2016-12-31"]:
        emit(variant, json.dumps(cfg, separators=(",", ":")), day, run(name, day, offset))

header = f"""# Gozi/ISFB word-list DGA vectors, written by: tools/dga-vectors/gozi.sh ORACLE_DIR
# oracle: github.com/baderj/domain_generation_algorithms commit {commit},
#   gozi/dga.py (sha256 {sha}) and its word lists gpl, luther, nasa, rfc4343,
#   run with {sys.version.split()[0]} (python3); dga(date, wordlist) per word list and date.
# Other seeds: the oracle's Rand wrapped to start at its seed plus an offset;
# custom lists: an entry added to its `seeds` table and the list written as a file.
# variant<TAB>seed or JSON configuration<TAB>date<TAB>domain
"""
with open(out_dir + "/gozi.txt", "w") as f:
    f.write(header + "\n".join(lines) + "\n")

# The repository's example domains (its README's "Example Domains"): the
# luther list on 2016-03-28 (its period 2016-03-28..31) makes them, found by
# running the oracle over every day of 2014-2018.
example = [l.strip() for l in open("example_domains.txt") if l.strip()]
assert run("luther", "2016-03-28")[:len(example)] == example
with open(out_dir + "/gozi-observed.txt", "w") as f:
    f.write(f"""# partial
# Gozi/ISFB example domains published with the reference implementation:
# github.com/baderj/domain_generation_algorithms commit {commit},
#   gozi/example_domains.txt (and its README's gozi section); the luther list's
#   domains of 2016-03-28 (found by running the oracle over 2014-2018).
# written by: tools/dga-vectors/gozi.sh ORACLE_DIR
""")
    for d in example:
        f.write("\t".join(["luther", "0x%08x" % REF_SEED, "2016-03-28", d]) + "\n")
PY
echo "wrote $OUT_DIR/gozi.txt and $OUT_DIR/gozi-observed.txt"
