#!/usr/bin/env python3
"""Letter-bigram counts of an English word list, for the DGA-suspect score
of takedown-netlog (src/suspect.rs reads the table this prints).

Usage: python3 bigrams.py /usr/share/dict/american-english > bigrams.txt

Each word is lower-cased; words with anything but the letters a-z after
that (apostrophes, accents) are left out; duplicates (Apple, apple) count
once. Every word contributes its transitions start->first letter,
letter->letter and last letter->end, so the table models both the inside
of words and how they begin and end.
"""
import sys

SYMS = "^abcdefghijklmnopqrstuvwxyz"  # rows: previous symbol
NEXT = "abcdefghijklmnopqrstuvwxyz$"  # columns: next symbol


def main(path):
    words = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            w = line.strip().lower()
            if w and all("a" <= c <= "z" for c in w):
                words.add(w)
    counts = [[0] * len(NEXT) for _ in SYMS]
    for w in sorted(words):
        prev = "^"
        for c in w + "$":
            counts[SYMS.index(prev)][NEXT.index(c)] += 1
            prev = c
    out = sys.stdout
    out.write("# English letter-bigram counts for the DGA-suspect score of takedown-netlog.\n")
    out.write("# Made by: python3 crates/netlog/data/bigrams.py /usr/share/dict/american-english\n")
    out.write("#          > crates/netlog/data/bigrams.txt\n")
    out.write("# Word list: Debian package wamerican 2020.12.07-2 (SCOWL), %d distinct\n" % len(words))
    out.write("# lower-case words of the letters a-z.\n")
    out.write("# One row per previous symbol (^ = start of word, then a..z), 27 counts\n")
    out.write("# per row: the next symbol a..z, then $ = end of word.\n")
    for s, row in zip(SYMS, counts):
        out.write(s + " " + " ".join(str(n) for n in row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
