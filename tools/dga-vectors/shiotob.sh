#!/usr/bin/env bash
# Writes crates/dga/tests/vectors/shiotob.txt (and shiotob-observed.txt)
# from the reference implementation of baderj/domain_generation_algorithms,
# shiotob/dga.py, run as a black box through its command line
# (python3 dga.py SEED_DOMAIN: the seed and the 2,000 names after it).
#
# usage: tools/dga-vectors/shiotob.sh ORACLE_DIR
#   ORACLE_DIR holds shiotob/ from the repository, e.g.
#   mkdir -p /tmp/oracle && git -C MIRROR archive HEAD shiotob | tar -x -C /tmp/oracle
#   ORACLE_COMMIT names the commit it came from (default below).
set -euo pipefail
oracle=${1:?usage: $0 ORACLE_DIR}
commit=${ORACLE_COMMIT:-09961a14f4ab72837b9139470271a4fbf767f565}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/crates/dga/tests/vectors/shiotob.txt
observed=$root/crates/dga/tests/vectors/shiotob-observed.txt

# The two published seeds, then made-up ones: short and long host names,
# .com, .net and other TLDs, digits and hyphens, the shortest accepted
# seed (5 characters). Kept short so the file stays small (2,001 names
# a seed).
seeds="4ypv1eehphg3a.com wtipubctwiekhir.net a.com x.net ab.org q1.ru
abc.net zz9.com k-q.biz test.com a1b2.net hello.com x-y-z.de 9abc.info
abcde.com qwerty.net bebloh.com urlzone.net 0000.com zzzzz.net
sample.org a0a0a0.com longerhost.net abcdefghijk.com mixed-9.co
takedown.net short.io wt.net plain.tv ddd.cc"

{
  echo "# Shiotob vectors: made by tools/dga-vectors/shiotob.sh $oracle"
  echo "# oracle: github.com/baderj/domain_generation_algorithms commit $commit,"
  echo "#   shiotob/dga.py, run as 'python3 dga.py SEED_DOMAIN'"
  echo "# variant (none) TAB seed TAB - (date-independent) TAB domain"
  for seed in $seeds; do
    (cd "$oracle/shiotob" && python3 dga.py "$seed") | sed "s/^/\t$seed\t-\t/"
  done
} > "$out"

{
  echo "# partial"
  echo "# Shiotob domains published in github.com/baderj/domain_generation_algorithms"
  echo "# commit $commit, shiotob/example_domains.txt: the chain of the sample analysed in"
  echo "# https://johannesbader.ch/2015/01/the-dga-of-shiotob/ (its traffic starts with"
  echo "# wtipubctwiekhir.net, rwmu35avqo12tqc.com, rskb5bsfhm2fk5h.net)"
  echo "# made by tools/dga-vectors/shiotob.sh $oracle"
  sed "s/^/\twtipubctwiekhir.net\t-\t/" "$oracle/shiotob/example_domains.txt"
} > "$observed"
echo "wrote $out ($(grep -vc '^#' "$out") domains) and $observed"
