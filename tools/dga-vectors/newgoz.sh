#!/usr/bin/env bash
# Writes crates/dga/tests/vectors/newgoz.txt (and newgoz-observed.txt) from
# the reference implementation of baderj/domain_generation_algorithms,
# newgoz/dga.py, run as a black box through its command line
# ('python3 dga.py -d DATE': the day's 1000 names).
#
# The script hard-codes the published key 01051935, so only that key is
# checked against it (the key is takedown's seed for this family).
#
# usage: tools/dga-vectors/newgoz.sh ORACLE_DIR
#   ORACLE_DIR holds newgoz/ from the repository, e.g.
#   mkdir -p /tmp/oracle && git -C MIRROR archive HEAD newgoz | tar -x -C /tmp/oracle
#   ORACLE_COMMIT names the commit it came from (default below).
set -euo pipefail
oracle=${1:?usage: $0 ORACLE_DIR}
commit=${ORACLE_COMMIT:-09961a14f4ab72837b9139470271a4fbf767f565}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/crates/dga/tests/vectors/newgoz.txt
observed=$root/crates/dga/tests/vectors/newgoz-observed.txt
# 1000 names a run: 32 dates keep the file under 2 MB.
dates="2013-01-01 2013-04-30 2013-12-31 2014-02-28 2014-07-11 2015-01-31 2015-08-31
2015-12-31 2016-01-31 2016-02-29 2016-04-30 2016-11-30 2016-12-01 2017-05-11 2018-09-09
2019-10-31 2020-02-29 2020-04-30 2021-08-25 2022-12-31 2023-01-31 2024-02-29 2024-12-31
2025-11-19 2026-04-30 2027-07-04 2028-02-29 2029-01-31 2029-12-21 2030-01-31 2030-04-30
2030-12-31"
key=01051935

{
  echo "# newGOZ vectors: made by tools/dga-vectors/newgoz.sh $oracle"
  echo "# oracle: github.com/baderj/domain_generation_algorithms commit $commit, newgoz/dga.py"
  echo "#   'python3 dga.py -d DATE' (1000 names; the script's key is $key)"
  echo "# variant (none) TAB seed (the key) TAB date TAB domain"
  for d in $dates; do
    (cd "$oracle/newgoz" && python3 dga.py -d "$d") | sed "s/^/\t$key\t$d\t/"
  done
} > "$out"

# newgoz/example_domains.txt came with the repository's initial commit
# (dca8ec5b, 2015-08-31): the list of that day.
{
  echo "# partial"
  echo "# newGOZ domains published in github.com/baderj/domain_generation_algorithms"
  echo "# commit $commit, newgoz/example_domains.txt (the list of 2015-08-31, the day of"
  echo "# the repository's initial commit dca8ec5b that added it; key $key)"
  echo "# made by tools/dga-vectors/newgoz.sh $oracle"
  sed "s/^/\t$key\t2015-08-31\t/" "$oracle/newgoz/example_domains.txt"
} > "$observed"
echo "wrote $out ($(grep -vc '^#' "$out") domains) and $observed"
