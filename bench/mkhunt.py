#!/usr/bin/env python3
"""Inputs of bench/hunt.sh: indicator names, a Zeek dns.log and an EVE
dns log, with known hits planted.

    mkhunt.py OUTDIR LINES INDICATORS EVE_LINES DGA_NAMES_FILE

Writes OUTDIR/ind.txt (INDICATORS random names), OUTDIR/dns.log (a Zeek
TSV dns.log of LINES lines: one line in 500 asks for an indicator, a
subdomain of one or a DGA name from DGA_NAMES_FILE, the others random
benign names that contain no indicator), OUTDIR/eve.json (EVE_LINES
Suricata EVE dns v2 answer records, same mix) and OUTDIR/expected.txt
(the number of planted lines of each file and the infected clients).
Deterministic (fixed seed).
"""
import random
import sys

out, lines, n_ind, eve_lines, dga_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rnd = random.Random(20161130)
letters = "abcdefghijklmnopqrstuvwxyz"


def word(lo, hi):
    return "".join(rnd.choices(letters, k=rnd.randint(lo, hi)))


# Indicators end in .com/.net/.ru/.biz; benign names in .corp/.intranet (no DGA uses them), so
# that no benign line holds an indicator as a substring either (grep and
# rg then count exactly the planted lines).
inds = [word(8, 14) + rnd.choice([".com", ".net", ".ru", ".biz"]) for _ in range(n_ind)]
with open(f"{out}/ind.txt", "w") as f:
    f.write("\n".join(inds) + "\n")
dga = [l.strip() for l in open(dga_file) if l.strip()]
benign = [word(4, 10) + "." + word(3, 8) + rnd.choice([".corp", ".intranet"]) for _ in range(300_000)]
infected = [f"10.66.{i // 250}.{i % 250 + 1}" for i in range(400)]


def pick(i):
    """(name, client) of line i."""
    if i % 500 == 7:
        k = (i // 500) % 3
        client = infected[(i // 500) % len(infected)]
        if k == 0 or not dga:
            return rnd.choice(inds), client
        if k == 1:
            return "www." + rnd.choice(inds), client
        return rnd.choice(dga), client
    return benign[i % len(benign)], f"10.{i % 7}.{(i >> 3) % 250}.{(i >> 11) % 250 + 1}"


planted_dns = 0
with open(f"{out}/dns.log", "w") as f:
    f.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
            "#open\t2016-11-30-00-00-00\n"
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\t"
            "qclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n"
            "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\t"
            "string\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n")
    t = 1480464000.0
    buf = []
    for i in range(lines):
        t += 0.004
        name, client = pick(i)
        if i % 500 == 7:
            planted_dns += 1
        buf.append(f"{t:.6f}\tC{i:017x}\t{client}\t{40000 + i % 20000}\t10.0.0.53\t53\tudp\t{i % 65536}\t0.001204\t"
                   f"{name}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t93.184.{(i >> 8) % 250}.{i % 250}\t300.000000\tF\n")
        if len(buf) >= 50000:
            f.write("".join(buf))
            buf = []
    f.write("".join(buf))
    f.write("#close\t2016-12-01-00-00-00\n")

planted_eve = 0
with open(f"{out}/eve.json", "w") as f:
    buf = []
    for i in range(eve_lines):
        name, client = pick(i)
        if i % 500 == 7:
            planted_eve += 1
        s = i % 60
        buf.append('{"timestamp":"2016-11-30T12:%02d:%02d.%06d+0000","flow_id":%d,"in_iface":"eth0","event_type":"dns",'
                   '"src_ip":"10.0.0.53","src_port":53,"dest_ip":"%s","dest_port":%d,"proto":"UDP","dns":{"version":2,'
                   '"type":"answer","id":%d,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"%s","rrtype":"A",'
                   '"rcode":"NOERROR","answers":[{"rrname":"%s","rrtype":"A","ttl":300,"rdata":"93.184.%d.%d"}]}}\n'
                   % ((i // 60) % 60, s, i % 1000000, 1000000000 + i, client, 40000 + i % 20000, i % 65536, name, name,
                      (i >> 8) % 250, i % 250))
        if len(buf) >= 50000:
            f.write("".join(buf))
            buf = []
    f.write("".join(buf))

with open(f"{out}/expected.txt", "w") as f:
    f.write(f"dns.log {planted_dns}\neve.json {planted_eve}\nclients {min(len(infected), max(planted_dns, 1))}\n")
