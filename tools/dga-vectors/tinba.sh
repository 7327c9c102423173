#!/usr/bin/env bash
# Writes crates/dga/tests/vectors/tinba.txt (and tinba-observed.txt) from
# the reference implementation of baderj/domain_generation_algorithms,
# tinba/dga.py, run as a black box: the driver imports it and calls its
# dga(seed, initial_domain, tlds, count) generator (its command line only
# prints the four published configurations at once).
#
# usage: tools/dga-vectors/tinba.sh ORACLE_DIR
#   ORACLE_DIR holds tinba/ from the repository, e.g.
#   mkdir -p /tmp/oracle && git -C MIRROR archive HEAD tinba | tar -x -C /tmp/oracle
#   ORACLE_COMMIT names the commit it came from (default below).
set -euo pipefail
oracle=${1:?usage: $0 ORACLE_DIR}
commit=${ORACLE_COMMIT:-09961a14f4ab72837b9139470271a4fbf767f565}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/crates/dga/tests/vectors/tinba.txt
observed=$root/crates/dga/tests/vectors/tinba-observed.txt

{
  echo "# Tinba vectors: made by tools/dga-vectors/tinba.sh $oracle"
  echo "# oracle: github.com/baderj/domain_generation_algorithms commit $commit,"
  echo "#   tinba/dga.py, its dga(seed, initial, tlds, count) called by the driver"
  echo "# variant (none) TAB seed (a published one) or JSON configuration TAB - (date-independent) TAB domain"
  python3 - "$oracle/tinba" <<'PY'
import importlib.util, json, random, string, sys
spec = importlib.util.spec_from_file_location("tinba_dga", sys.argv[1] + "/dga.py")
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)

# The four published configurations (the same as in the script), run by
# seed alone: takedown fills in the rest.
published = [
    ("oGkS3w3sGGOGG7oc", "ssrgwnrmgrxe.com", ["com"], 1000),
    ("jc74FlUna852Ji9o", "blackfreeqazyio.cc", ["com", "net", "in", "ru"], 100),
    ("yqokqFC2TPBFfJcG", "watchthisnow.xyz", ["pw", "us", "xyz", "club"], 100),
    ("j193HsnW72Yqns7u", "j193hsne720uie8i.cc", ["com", "net", "biz", "org"], 100),
]
runs = [(s, s, i, t, n) for s, i, t, n in published]
# A published seed with one field overridden by a configuration.
runs.append((json.dumps({"seed": "jc74FlUna852Ji9o", "count": 7}, separators=(",", ":")),
             "jc74FlUna852Ji9o", "blackfreeqazyio.cc", ["com", "net", "in", "ru"], 7))
runs.append((json.dumps({"seed": "oGkS3w3sGGOGG7oc", "tlds": ["net", "org"], "count": 20},
                        separators=(",", ":")),
             "oGkS3w3sGGOGG7oc", "ssrgwnrmgrxe.com", ["net", "org"], 20))
# Made-up configurations: seeds of printable ASCII, initial domains of 13
# characters and more (upper case included), 1 to 4 TLDs, 0 to 60 steps.
rng = random.Random(26)
alphabet = string.ascii_letters + string.digits
printable = alphabet + "!#$%&()*+,-/:;<=>?@[]^_{|}~"
host = string.ascii_lowercase + string.digits + "-"
tld_pool = ["com", "net", "org", "biz", "in", "ru", "pw", "us", "xyz", "club", "cc", "info"]
for k in range(26):
    chars = printable if k % 3 == 0 else alphabet
    seed = "".join(rng.choice(chars) for _ in range(16))
    n = rng.randint(13, 24)
    name = rng.choice(string.ascii_lowercase) + "".join(rng.choice(host) for _ in range(n - 1))
    if k % 5 == 0:
        name = name.upper()
    initial = name + "." + rng.choice(tld_pool)
    tlds = rng.sample(tld_pool, rng.randint(1, 4))
    count = 0 if k == 0 else rng.randint(1, 60)
    cfg = json.dumps({"seed": seed, "initial": initial, "tlds": tlds, "count": count},
                     separators=(",", ":"))
    runs.append((cfg, seed, initial, tlds, count))
for label, seed, initial, tlds, count in runs:
    for dom in m.dga(seed, initial, tuple(tlds), count):
        print(f"\t{label}\t-\t{dom.lower()}")
PY
} > "$out"

{
  echo "# partial"
  echo "# Tinba domains published in github.com/baderj/domain_generation_algorithms"
  echo "# commit $commit, tinba/example_domains.txt (the configuration of seed"
  echo "# jc74FlUna852Ji9o, https://johannesbader.ch/2015/04/new-top-level-domains-for-tinbas-dga/)"
  echo "# made by tools/dga-vectors/tinba.sh $oracle"
  sed "s/^/\tjc74FlUna852Ji9o\t-\t/" "$oracle/tinba/example_domains.txt"
} > "$observed"
echo "wrote $out ($(grep -vc '^#' "$out") domains) and $observed"
