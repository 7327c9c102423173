#!/usr/bin/env bash
# Writes crates/dga/tests/vectors/qakbot.txt from the reference
# implementation of baderj/domain_generation_algorithms, qakbot/dga.py, run
# as a black box: through its command line for the published seeds 0 and 1
# (with and without --sandbox), and, for made-up seeds its command line
# refuses, by calling its dga(date, tlds, count, sandbox, seed) with the TLD
# list read from the script's own main block.
#
# A run is 5000 names; to keep the file small most runs ask for the first
# 40 (-n 40, configuration key "count"), two runs are complete.
#
# usage: tools/dga-vectors/qakbot.sh ORACLE_DIR
#   ORACLE_DIR holds qakbot/ from the repository, e.g.
#   mkdir -p /tmp/oracle && git -C MIRROR archive HEAD qakbot | tar -x -C /tmp/oracle
#   ORACLE_COMMIT names the commit it came from (default below).
set -euo pipefail
oracle=${1:?usage: $0 ORACLE_DIR}
commit=${ORACLE_COMMIT:-09961a14f4ab72837b9139470271a4fbf767f565}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/crates/dga/tests/vectors/qakbot.txt
observed=$root/crates/dga/tests/vectors/qakbot-observed.txt
dates="2013-01-01 2013-01-10 2013-01-11 2013-04-30 2013-12-31 2014-02-28 2014-06-20
2014-06-21 2015-03-15 2015-07-31 2015-12-31 2016-01-31 2016-02-20 2016-02-21 2016-02-29
2016-04-30 2016-11-21 2016-11-30 2016-12-01 2017-05-11 2018-09-09 2019-10-31 2020-02-29
2020-04-30 2021-08-25 2022-12-31 2023-01-31 2024-02-29 2025-11-19 2026-04-30 2027-07-04
2028-02-29 2029-12-21 2030-01-31 2030-12-31"
count=40
cli() { (cd "$oracle/qakbot" && python3 dga.py "$@"); }

{
  echo "# QakBot vectors: made by tools/dga-vectors/qakbot.sh $oracle"
  echo "# oracle: github.com/baderj/domain_generation_algorithms commit $commit, qakbot/dga.py"
  echo "#   'python3 dga.py -d DATE -m SEED [-s] -n N' for seeds 0 and 1; dga() called for others"
  echo "# variant (none) TAB seed or configuration TAB date TAB domain"
  cli -d 2016-11-30 -m 0 | sed "s/^/\t0\t2016-11-30\t/"
  cli -d 2016-02-29 -m 1 | sed "s/^/\t1\t2016-02-29\t/"
  for d in $dates; do
    for m in 0 1; do
      cli -d "$d" -m "$m" -n "$count" |
        sed "s/^/\t{\"seed\": \"$m\", \"count\": $count}\t$d\t/"
      cli -d "$d" -m "$m" -n "$count" -s |
        sed "s/^/\t{\"seed\": \"$m\", \"sandbox\": true, \"count\": $count}\t$d\t/"
    done
  done
  python3 - "$oracle/qakbot" "$count" <<'PY'
import ast, contextlib, importlib.util, io, sys
from datetime import datetime
d, count = sys.argv[1], int(sys.argv[2])
src = open(f"{d}/dga.py").read()
# The TLD list is a literal in the script's main block.
tlds = next(ast.literal_eval(n.value) for n in ast.walk(ast.parse(src))
            if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "tlds")
spec = importlib.util.spec_from_file_location("qakbot_dga", f"{d}/dga.py")
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
for seed in ["2", "deadbeef", "ffffffff", "12345678"]:
    for day in ["2013-02-28", "2016-02-29", "2016-11-30", "2019-06-15", "2024-02-29",
                "2027-09-10", "2030-12-31"]:
        for sandbox in (False, True):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                m.dga(datetime.strptime(day, "%Y-%m-%d"), tlds, count, sandbox, int(seed, 16))
            cfg = f'{{"seed": "{seed}", "sandbox": {"true" if sandbox else "false"}, "count": {count}}}'
            for dom in buf.getvalue().split():
                print(f"\t{cfg}\t{day}\t{dom}")
PY
} > "$out"

# qakbot/example_domains.txt was published with the script (commit 53b39717,
# 2016-02-24); it is the whole list of seed 0 for 21-29 February 2016.
{
  echo "# partial"
  echo "# QakBot domains published in github.com/baderj/domain_generation_algorithms"
  echo "# commit $commit, qakbot/example_domains.txt (added 2016-02-24 by commit 53b39717;"
  echo "# the list of seed 0 for the period 2016-02-21..29, dated here by the commit day)"
  echo "# made by tools/dga-vectors/qakbot.sh $oracle"
  sed "s/^/\t0\t2016-02-24\t/" "$oracle/qakbot/example_domains.txt"
} > "$observed"
echo "wrote $out ($(grep -vc '^#' "$out") domains) and $observed"
