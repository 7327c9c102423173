#!/usr/bin/env python3
"""The peer of race 2 in bench/intel.sh: `stix2.parse` of a whole bundle
(the OASIS reference library's way to read one), then counts what it
holds. Prints one JSON line: objects, hash and domain indicators.

    stix2_load.py BUNDLE.json
"""
import json
import sys

import stix2


def main():
    with open(sys.argv[1]) as f:
        bundle = stix2.parse(f.read(), allow_custom=True)
    hashes = domains = other = 0
    for o in bundle.objects:
        p = getattr(o, "pattern", "")
        if p.startswith("[file:hashes."):
            hashes += 1
        elif p.startswith("[domain-name:value"):
            domains += 1
        else:
            other += 1
    print(json.dumps({"objects": len(bundle.objects), "hash": hashes, "domain": domains, "other": other}))


if __name__ == "__main__":
    main()
