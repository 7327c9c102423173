#!/usr/bin/env bash
# Writes crates/dga/tests/vectors/pandabanker.txt from Arbor ASERT's
# Panda Banker DGA scripts, run as black boxes.
#
# usage: tools/dga-vectors/pandabanker.sh ORACLE_DIR
#   ORACLE_DIR: a checkout (or `git archive`) of github.com/tildedennis/malware
#   holding panda_banker/, e.g.
#     mkdir -p /tmp/oracle-panda && git -C <mirror> archive HEAD panda_banker | tar -x -C /tmp/oracle-panda
#     tools/dga-vectors/pandabanker.sh /tmp/oracle-panda
#   Needs Python 2 (`python2`, or $PYTHON2; with pyenv, PYENV_VERSION=2.7.18).
#
# The driver imports panda_banker/dga.py (variant `daily`) and
# panda_banker/dga_version_2.2.9.py (variant `v2.2.9`) and calls their
# dga(rc4_ksa(base64 key), datetime, dgaconfig) for each dgaconfigs entry,
# with the configurations published in the scripts and a few made up; the
# domain is the URL's part before the first '/'. The scripts are not changed.
set -euo pipefail
ORACLE_DIR=$(cd "${1:?usage: $0 ORACLE_DIR}" && pwd)/panda_banker
[ -f "$ORACLE_DIR/dga.py" ] || { echo "$0: no panda_banker/dga.py under $1" >&2; exit 2; }
OUT=$(cd "$(dirname "$0")/../.." && pwd)/crates/dga/tests/vectors/pandabanker.txt
PY2=${PYTHON2:-python2}
if ! "$PY2" -c 'import sys; assert sys.version_info[0] == 2' 2>/dev/null; then
    export PYENV_VERSION=${PYENV_VERSION:-2.7.18}
    "$PY2" -c 'import sys; assert sys.version_info[0] == 2' || { echo "$0: needs Python 2 (set PYTHON2)" >&2; exit 2; }
fi
SHA1=$(sha256sum "$ORACLE_DIR/dga.py" | cut -d' ' -f1)
SHA2=$(sha256sum "$ORACLE_DIR/dga_version_2.2.9.py" | cut -d' ' -f1)

"$PY2" - "$ORACLE_DIR" "$OUT" "$SHA1" "$SHA2" <<'PY'
import base64, imp, json, random, sys
from datetime import datetime

oracle_dir, out, sha1, sha2 = sys.argv[1:5]
daily = imp.load_source("panda_daily", oracle_dir + "/dga.py")
v229 = imp.load_source("panda_v229", oracle_dir + "/dga_version_2.2.9.py")

# The configurations published in the scripts (sample MD5s in comments there).
KEY_EB41 = "MIIBITANBgkqhkiG9w0BAQEFAAOCAQ4AMIIBCQKCAQB79idKmV3y/YxvbrOw7gB0zLXCl3f0x1BI3GCeSs6Jand9Iyxs4PHILJhrXlwbwHq5hA+6EuE2ulM/hbsPj04yBSojWuV4hZJP3hHygaaP5SsaMeDm+d7X+MtvA9q+QXUUO4TsoVXy6MRqF/2uVex0YTiRtzHOdDqfHFWlfO8mxq3kM6JQ42c37a/5pfpsLPNWE3QzkDKJfLqNUc3MG7yOfEuH3ivfqANAdMWA6kTBJCgFmWKkH07O/UH02aQJAfnxLCCXHbspy9bl24EIQmT8lb00LpMq0VTWpKXUt7WF7tcQARl3QDLn1fzc5C1UwZrGIG5ppCWvzVXR/t/Evs1RAgMBAAE="
KEY_8187 = "MIIBITANBgkqhkiG9w0BAQEFAAOCAQ4AMIIBCQKCAQB0ctFSn+grpxsXN2eUDbmHtOhlfafrh/dFLWN9Qrq7biqsZJfCuLIdgDAHaGEigCT5mUtvKo8er98nDVsS+Pg0VPwOoipQrwP67bbY5CTSLoOH56oNkDJPl0mn+M53hINqFMS99tSXL+yYae7lWMWhDWHUbQnwRMejXqT5uRpYJCY/cGTItgbR/015FEc7IKplOytGAb5vAcnRkQ1VExs7EUPoGdHVgTZJ/4/W4gPt/bWoMn4Yuqg39yg55BPWI0R9uLMC+zKPOcCyaO1jGgvQx0oagAZC7UFb8SwtFTIdVGdWMyo5ww535+GO0aZLM9a+Us80OHjt0QHrZ3yTjIJDAgMBAAE="
EB41 = {"key": KEY_EB41, "dgaconfigs": ["d4.com/rcnfig.dat", "78.net/ronfig.dat", "11.net/rcng.dat", "19.net/vgt.dat"]}
S8187 = {"key": KEY_8187, "dgaconfigs": ["47.com/rcfig.dat", "98.net/rcfig.dat", "10.net/rcong.dat", "98.net/vgt.dat"]}

# Made-up configurations: random key blobs of several sizes (an odd one,
# shorter than 256 bytes, longer), other suffixes, entries without a path.
rng = random.Random(26)
def blob(n):
    return base64.b64encode("".join(chr(rng.randrange(256)) for _ in range(n)))
MADE_UP = [
    {"key": blob(1), "dgaconfigs": ["a1.com/cfg.dat", "b2.org"]},
    {"key": blob(37), "dgaconfigs": ["-x.info/p/q.bin", "0.ru/a.dat", "zz.co.uk/c.dat"]},
    {"key": blob(294), "dgaconfigs": ["ab.net/rcnfig.dat"]},
    {"key": blob(700), "dgaconfigs": ["7.biz/x", "55.com/y", "e.net/z", "f0.org/w", "1.in/v"]},
]

DATES = """2013-01-01 2013-07-15 2014-03-31 2014-12-31 2015-01-31 2015-04-30
2016-02-28 2016-02-29 2016-03-01 2016-03-02 2016-03-03 2016-09-15 2016-11-01
2016-11-02 2016-11-29 2016-11-30 2016-12-01 2016-12-31 2017-01-01 2017-01-31
2018-04-30 2018-12-31 2019-05-05 2020-02-29 2020-03-01 2020-12-31 2021-04-30
2023-01-31 2024-02-29 2024-03-02 2024-12-31 2025-04-30 2027-12-31 2028-02-29
2029-01-31 2030-04-30 2030-12-31""".split()
FEW = ["2013-07-15", "2016-02-29", "2016-03-01", "2016-11-30", "2016-12-31", "2017-01-01",
       "2020-02-29", "2024-02-29", "2025-04-30", "2030-12-31"]

lines = []
def run(variant, module, cfg, dates, seed=None):
    label = seed if seed else json.dumps(cfg, separators=(",", ":"))
    key = module.rc4_ksa(base64.b64decode(cfg["key"]))
    for day in dates:
        dt = datetime.strptime(day, "%Y-%m-%d")
        for entry in cfg["dgaconfigs"]:
            url = module.dga(key, dt, entry)
            lines.append("\t".join([variant, label, day, url.split("/")[0]]))

for variant, module, own, other in [("daily", daily, EB41, S8187), ("v2.2.9", v229, S8187, EB41)]:
    run(variant, module, own, DATES)
    run(variant, module, other, FEW)
    for cfg in MADE_UP:
        run(variant, module, cfg, FEW)

with open(out, "w") as f:
    f.write("""# Panda Banker DGA vectors, written by: tools/dga-vectors/pandabanker.sh ORACLE_DIR
# oracle: github.com/tildedennis/malware (Arbor ASERT, D. Schwarz),
#   panda_banker/dga.py (sha256 %s) for variant daily,
#   panda_banker/dga_version_2.2.9.py (sha256 %s) for variant v2.2.9,
#   run with Python %s; dga(rc4_ksa(b64decode(key)), date, entry) per dgaconfigs entry,
#   domain = the URL up to its first '/'.
# Configurations: the two published in those scripts (samples
# eb414d3972889504ab18cc1e2df391f9 and 81876f471f75a690abbde4de029ba7ab) and
# four made up (random keys from Python's random.Random(26)).
# variant<TAB>JSON configuration<TAB>date<TAB>domain
""" % (sha1, sha2, sys.version.split()[0]))
    f.write("\n".join(lines) + "\n")
PY
echo "wrote $OUT"
