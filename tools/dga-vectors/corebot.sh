#!/usr/bin/env bash
# Writes crates/dga/tests/vectors/corebot.txt from the reference
# implementation of baderj/domain_generation_algorithms, corebot/dga.py,
# run as a black box through its command line (python3 dga.py -s SEED -d DATE).
#
# usage: tools/dga-vectors/corebot.sh ORACLE_DIR
#   ORACLE_DIR holds corebot/ from the repository, e.g.
#   mkdir -p /tmp/oracle && git -C MIRROR archive HEAD corebot | tar -x -C /tmp/oracle
#   ORACLE_COMMIT names the commit it came from (default below).
#
# The repository's corebot/example_domains.txt is not reproduced by the
# published seed on any date of 2000-2039, so it is not used as an
# observed list (its seed and date are unknown).
set -euo pipefail
oracle=${1:?usage: $0 ORACLE_DIR}
commit=${ORACLE_COMMIT:-09961a14f4ab72837b9139470271a4fbf767f565}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/crates/dga/tests/vectors/corebot.txt

# Leap days, month ends, the takedown (2016-11-30), years 2013-2030.
dates="2013-01-01 2013-01-31 2013-04-30 2013-12-31 2014-02-28 2014-07-15 2015-03-01
2015-09-17 2015-12-31 2016-01-31 2016-02-29 2016-03-01 2016-04-30 2016-11-30 2016-12-31
2017-06-30 2018-02-24 2018-04-29 2019-01-31 2019-10-10 2020-02-29 2020-04-30 2020-12-31
2021-08-08 2022-05-31 2023-11-05 2024-02-29 2024-04-30 2025-12-31 2027-01-31 2028-02-29
2030-12-31"

{
  echo "# Corebot vectors: made by tools/dga-vectors/corebot.sh $oracle"
  echo "# oracle: github.com/baderj/domain_generation_algorithms commit $commit,"
  echo "#   corebot/dga.py, run as 'python3 dga.py -s SEED -d DATE'"
  echo "# variant (none) TAB seed TAB date TAB domain"
  # The published seed on every date; made-up seeds (edges of the 32-bit
  # range included) on a few.
  for d in $dates; do
    (cd "$oracle/corebot" && python3 dga.py -s 1DBA8930 -d "$d") | sed "s/^/\t1DBA8930\t$d\t/"
  done
  for seed in 00000000 FFFFFFFF 7FFFFFFF DEADBEEF 12345678; do
    for d in 2013-01-01 2016-02-29 2016-11-30 2024-02-29 2030-12-31; do
      (cd "$oracle/corebot" && python3 dga.py -s "$seed" -d "$d") | sed "s/^/\t$seed\t$d\t/"
    done
  done
} > "$out"
echo "wrote $out ($(grep -vc '^#' "$out") domains)"
