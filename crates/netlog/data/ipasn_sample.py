#!/usr/bin/python3
"""A small IPASN table and the answers pyasn itself gives for it, the
oracle of takedown-netlog's src/asn.rs tests.

Usage (Debian: apt-get install python3-pyasn, which ships the data file):
  /usr/bin/python3 crates/netlog/data/ipasn_sample.py \
      /usr/lib/python3/dist-packages/data/ipasn6_20151101.dat.gz crates/netlog/data

Writes ipasn-sample.dat.gz: the header and every 1.0.0.0/8 and
2a00:1000::/20 line of pyasn's test table ipasn6_20151101.dat.gz
(a RouteViews RIB of 2015-11-01 converted by pyasn_util_convert.py), and
ipasn-sample.expected.gz: one line per address, ADDRESS<TAB>ASN<TAB>PREFIX
('-' when pyasn finds none), from pyasn.pyasn(...).lookup(), for the first
and last address of half the prefixes, the addresses just outside them,
and random addresses inside and outside the sample (fixed seed).
"""
import gzip
import ipaddress
import os
import random
import sys

import pyasn


def main(src, outdir):
    keep = []
    with gzip.open(src, "rt", encoding="ascii") as f:
        for line in f:
            if line.startswith(";"):
                if not any(not l.startswith(";") for l in keep):
                    keep.append(line)
                continue
            if line.startswith("1.") or line.startswith("2a00:1"):
                keep.append(line)
    table = "".join(keep)
    dat = os.path.join(outdir, "ipasn-sample.dat.gz")
    with gzip.GzipFile(dat, "wb", mtime=0) as f:
        f.write(table.encode("ascii"))
    db = pyasn.pyasn(None, ipasn_string=table)
    rng = random.Random(20161130)
    ips = []
    for line in keep:
        if line.startswith(";") or rng.random() < 0.5:
            continue
        n = ipaddress.ip_network(line.split("\t")[0])
        ips += [n.network_address, n.broadcast_address]
        if int(n.broadcast_address) < (1 << n.max_prefixlen) - 1:
            ips.append(n.broadcast_address + 1)
        if int(n.network_address) > 0:
            ips.append(n.network_address - 1)
    for _ in range(500):
        ips.append(ipaddress.IPv4Address(rng.randrange(0x01000000, 0x02000000)))
    for _ in range(50):
        ips.append(ipaddress.IPv4Address(rng.randrange(0, 1 << 32)))
    lo = int(ipaddress.IPv6Address("2a00:1000::"))
    for _ in range(300):
        ips.append(ipaddress.IPv6Address(rng.randrange(lo, lo + (1 << 108))))
    for _ in range(30):
        ips.append(ipaddress.IPv6Address(rng.randrange(0, 1 << 128)))
    seen = set()
    out = []
    for ip in ips:
        if ip in seen:
            continue
        seen.add(ip)
        asn, prefix = db.lookup(str(ip))
        out.append("%s\t%s\t%s\n" % (ip, "-" if asn is None else asn, prefix or "-"))
    with gzip.GzipFile(os.path.join(outdir, "ipasn-sample.expected.gz"), "wb", mtime=0) as f:
        f.write("".join(out).encode("ascii"))
    print("%d prefixes, %d addresses" % (sum(1 for l in keep if not l.startswith(";")), len(out)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
