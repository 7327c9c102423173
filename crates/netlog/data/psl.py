#!/usr/bin/env python3
"""The rules of the Public Suffix List, one per line, in the ASCII
(punycode) form DNS logs show, for takedown-netlog's src/suspect.rs.

Usage: python3 psl.py /usr/share/publicsuffix/public_suffix_list.dat > public_suffix_list.txt

Comments and blank lines are dropped; a rule in Unicode is converted
with Python's IDNA codec (a rule that does not convert is left out and
named on stderr); both sections (ICANN and PRIVATE) are kept.
"""
import sys


def main(path):
    rules = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = line.split()[0] if line.split() else ""
            if not r or r.startswith("//"):
                continue
            prefix = ""
            if r.startswith("!"):
                prefix, r = "!", r[1:]
            labels = []
            ok = True
            for label in r.split("."):
                if label == "*" or label.isascii():
                    labels.append(label.lower())
                    continue
                try:
                    labels.append(label.encode("idna").decode("ascii"))
                except UnicodeError:
                    ok = False
            if ok:
                rules.append(prefix + ".".join(labels))
            else:
                print("left out: " + line.strip(), file=sys.stderr)
    out = sys.stdout
    out.write("# The Public Suffix List (https://publicsuffix.org/), its rules only, in ASCII.\n")
    out.write("# This file is subject to the terms of the Mozilla Public License, v. 2.0\n")
    out.write("# (https://mozilla.org/MPL/2.0/), as the list it is made from.\n")
    out.write("# Made by: python3 crates/netlog/data/psl.py\n")
    out.write("#          /usr/share/publicsuffix/public_suffix_list.dat\n")
    out.write("#          > crates/netlog/data/public_suffix_list.txt\n")
    out.write("# from Debian package publicsuffix 20230209.2326-1; %d rules.\n" % len(rules))
    for r in rules:
        out.write(r + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
