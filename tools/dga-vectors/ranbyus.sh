#!/usr/bin/env bash
# Writes crates/dga/tests/vectors/ranbyus.txt (and ranbyus-observed.txt)
# from the reference implementations of baderj/domain_generation_algorithms,
# run as black boxes through their command lines:
#   may:       ranbyus/may/dga.c, compiled with gcc into a temporary
#              directory, run as 'dga DAY MONTH YEAR SEED'
#   september: ranbyus/september/ranbyus_reloaded.py -d DATE -s SEED
#              (it picks the TLD table of the sample with seed CE7F8514 by
#              itself; the configuration form {"seed", "tlds"} is checked
#              against the same runs with the table written out)
#
# usage: tools/dga-vectors/ranbyus.sh ORACLE_DIR
#   ORACLE_DIR holds ranbyus/ from the repository, e.g.
#   mkdir -p /tmp/oracle && git -C MIRROR archive HEAD ranbyus | tar -x -C /tmp/oracle
#   ORACLE_COMMIT names the commit it came from (default below).
set -euo pipefail
oracle=${1:?usage: $0 ORACLE_DIR}
commit=${ORACLE_COMMIT:-09961a14f4ab72837b9139470271a4fbf767f565}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/crates/dga/tests/vectors/ranbyus.txt
observed=$root/crates/dga/tests/vectors/ranbyus-observed.txt
tmp=$(mktemp -d /tmp/ranbyus-oracle.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
gcc -O0 -o "$tmp/dga" "$oracle/ranbyus/may/dga.c"

dates="2013-01-01 2013-01-10 2013-01-11 2013-04-30 2013-12-31 2014-02-28 2014-06-20
2014-06-21 2015-03-15 2015-05-14 2015-07-31 2015-09-25 2015-12-31 2016-01-31 2016-02-29
2016-04-30 2016-11-21 2016-11-30 2016-12-01 2017-05-11 2018-09-09 2019-10-31 2020-02-29
2020-04-30 2021-08-25 2022-12-31 2023-01-31 2024-02-29 2025-11-19 2026-04-30 2027-07-04
2028-02-29 2029-12-21 2030-01-31 2030-12-31"
# A sample of those dates for the seeds run on fewer days.
some_dates="2013-12-31 2015-05-14 2015-09-25 2016-02-29 2016-11-30 2017-05-11 2019-10-31
2020-02-29 2022-12-31 2024-02-29 2026-04-30 2030-12-31"
may() { # SEED DATE
  local y m d
  IFS=- read -r y m d <<<"$2"
  "$tmp/dga" "$((10#$d))" "$((10#$m))" "$y" "$1"
}
september() { # SEED DATE
  (cd "$oracle/ranbyus/september" && python3 ranbyus_reloaded.py -d "$2" -s "$1")
}
common='["in", "me", "cc", "su", "tw", "net", "com", "pw", "org"]'
reordered='["in", "net", "org", "com", "me", "su", "tw", "cc", "pw"]'

{
  echo "# Ranbyus vectors: made by tools/dga-vectors/ranbyus.sh $oracle"
  echo "# oracle: github.com/baderj/domain_generation_algorithms commit $commit,"
  echo "#   ranbyus/may/dga.c (gcc -O0, 'dga DAY MONTH YEAR SEED') and"
  echo "#   ranbyus/september/ranbyus_reloaded.py ('-d DATE -s SEED')"
  echo "# variant TAB seed or configuration TAB date TAB domain"
  for seed in C5F128F3 B6354BC3 DEADBEEF 00000000 FFFFFFFF; do
    for d in $dates; do may "$seed" "$d" | sed "s/^/may\t$seed\t$d\t/"; done
  done
  for seed in 65BA0743 0478620C; do
    for d in $some_dates; do may "$seed" "$d" | sed "s/^/may\t$seed\t$d\t/"; done
  done
  for seed in 0F0D5BFA CE7F8514 00000000 FFFFFFFF 12345678; do
    for d in $dates; do september "$seed" "$d" | sed "s/^/september\t$seed\t$d\t/"; done
  done
  for seed in F2C72B14 AE8714BE 572473BB 17794CF1 C0E32524 7CB7966E 9F90C9E7 8FB8879B E981684B; do
    for d in $some_dates; do september "$seed" "$d" | sed "s/^/september\t$seed\t$d\t/"; done
  done
  # The forms a sample's configuration takes: the complement the sample
  # stores, and the TLD table written out.
  for d in 2015-12-07 2016-02-29 2020-04-30; do
    september CE7F8514 "$d" | sed "s/^/september\t~31807AEB\t$d\t/"
    september CE7F8514 "$d" |
      sed "s/^/september\t{\"seed\": \"CE7F8514\", \"tlds\": $reordered}\t$d\t/"
    september 0F0D5BFA "$d" |
      sed "s/^/september\t{\"seed\": \"0F0D5BFA\", \"tlds\": $common}\t$d\t/"
  done
} > "$out"

# The example lists published with the scripts: the may list is dga.c's
# usage example (seed B6354BC3, 14 May 2015); the september list is the
# script's default seed 0F0D5BFA on the day it was committed (2f8e9881,
# 2015-09-25).
{
  echo "# partial"
  echo "# Ranbyus domains published in github.com/baderj/domain_generation_algorithms"
  echo "# commit $commit: ranbyus/may/example_domains.txt (seed B6354BC3, 2015-05-14, the"
  echo "# usage example of ranbyus/may/dga.c) and ranbyus/september/example_domains.txt (seed"
  echo "# 0F0D5BFA, 2015-09-25, the day commit 2f8e9881 added it)"
  echo "# made by tools/dga-vectors/ranbyus.sh $oracle"
  sed "s/^/may\tB6354BC3\t2015-05-14\t/" "$oracle/ranbyus/may/example_domains.txt"
  sed "s/^/september\t0F0D5BFA\t2015-09-25\t/" "$oracle/ranbyus/september/example_domains.txt"
} > "$observed"
echo "wrote $out ($(grep -vc '^#' "$out") domains) and $observed"
