#!/usr/bin/env python3
"""Parses one tool's scan output into hit files and detection counts.

usage: hits.py FORMAT CORPUS OUTPUT_FILE [--list FILE]
  FORMAT: clamscan | takedown | yara   (yara also covers yr's text output:
          one "RULE PATH" line per matching rule and file)
Prints "FILES DETECTIONS" on stdout; with --list, writes the sorted hit
files (relative to CORPUS) to FILE, one per line.
Detections: clamscan one per file it reports; takedown every detection
(YARA rule, hash IOC, name IOC) of every finding; yara/yr one per line.
"""
import json
import os
import re
import sys


def rel(corpus, p):
    return os.path.relpath(os.path.abspath(p), corpus)


def main():
    fmt, corpus, out = sys.argv[1:4]
    corpus = os.path.abspath(corpus)
    listfile = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--list" else None
    files = set()
    dets = 0
    with open(out, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if fmt == "clamscan":
                m = re.match(r"^(.*): (\S+) FOUND$", line)
                if m:
                    files.add(rel(corpus, m.group(1)))
                    dets += 1
            elif fmt == "takedown":
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if o.get("type") == "finding" and o.get("detections"):
                    files.add(rel(corpus, o["path"]))
                    dets += len(o["detections"])
            elif fmt == "yara":
                parts = line.split(" ", 1)
                if len(parts) == 2 and parts[1].startswith("/"):
                    files.add(rel(corpus, parts[1]))
                    dets += 1
            else:
                sys.exit(f"unknown format {fmt}")
    if listfile:
        with open(listfile, "w") as f:
            for p in sorted(files):
                f.write(p + "\n")
    print(len(files), dets)


if __name__ == "__main__":
    main()
