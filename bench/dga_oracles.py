# -*- coding: utf-8 -*-
"""Reference side of bench/dga.sh: runs the public DGA implementations (the
oracles) as black boxes for every known seed of one family over a window,
one domain per line on standard output.

usage: dga_oracles.py FAMILY ORACLE_DIR FROM TO KNOWN_JSON
  FAMILY      a takedown family name (the FAMILIES table below)
  ORACLE_DIR  the extracted repository the family's oracle lives in
              (baderj/domain_generation_algorithms, or tildedennis/malware
              for pandabanker)
  FROM, TO    the window, YYYY-MM-DD, both included
  KNOWN_JSON  the output of `takedown dga list --format json`: the seeds and
              configurations run are that list's known entries, so both
              sides generate the same thing
  RANBYUS_MAY_BIN (environment): ranbyus/may/dga.c compiled by dga.sh

What it does for each family, and how many oracle calls that took, goes to
standard error as one line starting with "driver:".

Written for Python 2 and 3 alike: Panda Banker's scripts are Python 2 and run
under python2, the others under python3. No oracle code is copied here: the
driver loads each script from ORACLE_DIR and calls the functions its own
command line calls (or runs its command line, for the C program), the way a
responder holding those scripts would, in one process per family. Where a
script only computes per call what its own table says changes per period
(QakBot's thirds of a month, Gozi's `div` days) it is called once per
period; everything else is called once per day and seed.
"""
from __future__ import print_function

import ast
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta


def fail(msg):
    sys.stderr.write("dga_oracles.py: %s\n" % msg)
    sys.exit(2)


def load(path, name, replacements=()):
    """Loads an oracle script as a module (its __main__ block does not run).
    `replacements` swap a constant the script hard-codes (the key of a
    sample) for another known one; each must occur exactly once."""
    with open(path) as f:
        src = f.read()
    for old, new in replacements:
        if src.count(old) != 1:
            fail("%s: expected one %r to replace" % (path, old))
        src = src.replace(old, new)
    ns = {"__name__": name, "__file__": path}
    # dont_inherit: this file's print_function must not leak into a
    # Python 2 script that uses the print statement.
    exec(compile(src, path, "exec", 0, True), ns)
    return ns


def days(start, end):
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def known(listing, family):
    """(variant, seed, config or None) of each known entry of `family`."""
    for f in listing["families"]:
        if f["family"] != family:
            continue
        for v in f["variants"]:
            for k in v["known"]:
                yield v["variant"], k["seed"], k["config"]


class Calls(object):
    """Counts oracle calls per variant for the report line."""

    def __init__(self):
        self.notes = []

    def note(self, what, n):
        self.notes.append("%s: %d" % (what, n))


# --- one function per family: (oracle_dir, entries, from, to, calls) -------


def nymaim(root, entries, start, end, calls):
    for variant, seed, _ in entries:
        n = 0
        if variant == "v1":
            # The script hard-codes one key as four 32-bit constants.
            consts = ["0x52455641", "0x49484F4C", "0x59554820", "0x4D415620"]
            words = ["0x" + seed[i:i + 8] for i in range(0, 32, 8)]
            repl = [(c, w) for c, w in zip(consts, words) if c.lower() != w.lower()]
            m = load(os.path.join(root, "nymaim", "dga.py"), "nymaim_v1", repl)
            for d in days(start, end):
                m["dga"](d, 128)  # what `dga.py -d DATE` runs
                n += 1
            calls.note("nymaim/v1 %s dga(date, 128) per day" % seed, n)
        elif variant == "v2":
            # dga(date) reads words.json from the working directory.
            os.chdir(os.path.join(root, "nymaim2"))
            hard = '"3138C81ED54AD5F8E905555A6623C9C9"'
            repl = [] if seed == hard.strip('"') else [(hard, repr(str(seed)))]
            m = load("dga.py", "nymaim_v2", repl)
            for d in days(start, end):
                m["dga"](d)
                n += 1
            calls.note("nymaim/v2 %s dga(date) per day" % seed, n)
        else:
            fail("nymaim: no oracle for variant %r" % variant)


def shiotob(root, entries, start, end, calls):
    m = load(os.path.join(root, "shiotob", "dga.py"), "shiotob")
    for _, seed, _ in entries:
        # The script's command line prints the seed and the 2,000 names
        # after it; the chain does not depend on the date.
        domain = seed
        for _ in range(2001):
            print(domain)
            domain = m["get_next_domain"](domain)
        calls.note("shiotob %s get_next_domain x2000 once (date-independent)" % seed, 2000)


def tinba(root, entries, start, end, calls):
    m = load(os.path.join(root, "tinba", "dga.py"), "tinba")
    for _, seed, cfg in entries:
        if not cfg:
            fail("tinba: known seed %s has no configuration" % seed)
        for dom in m["dga"](cfg["seed"], cfg["initial"], tuple(cfg["tlds"]), cfg["count"]):
            print(dom.lower())
        calls.note("tinba %s dga(seed, initial, tlds, count) once (date-independent)" % seed, 1)


def vawtrak(root, entries, start, end, calls):
    mods = {}
    for variant, seed, _ in entries:
        if variant == "v1":
            # dga.py's command line: Rand(seed), then dga(r) 96 times.
            m = mods.setdefault(variant, load(os.path.join(root, "vawtrak", "dga.py"), "vawtrak1"))
            r = m["Rand"](int(seed, 16))
            for _ in range(96):
                m["dga"](r)
        elif variant in ("v2", "v3"):
            script = "dga2.py" if variant == "v2" else "dga3.py"
            m = mods.setdefault(variant, load(os.path.join(root, "vawtrak", script), "vawtrak" + variant))
            m["dga"](int(seed, 16), 150)  # the command line's default count
        else:
            fail("vawtrak: no oracle for variant %r" % variant)
        calls.note("vawtrak/%s %s dga once (date-independent)" % (variant, seed), 1)


def qakbot(root, entries, start, end, calls):
    path = os.path.join(root, "qakbot", "dga.py")
    m = load(path, "qakbot")
    # The TLD list is a literal of the script's main block.
    with open(path) as f:
        tree = ast.parse(f.read())
    tlds = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "tlds":
            tlds = ast.literal_eval(node.value)
    if tlds is None:
        fail("qakbot: no tlds list in %s" % path)
    for _, seed, cfg in entries:
        sandbox = bool(cfg and cfg.get("sandbox"))
        count = (cfg or {}).get("count", 5000)  # the command line's default
        seen = set()
        n = 0
        for d in days(start, end):
            # The script seeds by the third of the month (days 1-10, 11-20,
            # 21-end): one call per third.
            key = (d.year, d.month, min((d.day - 1) // 10, 2))
            if key in seen:
                continue
            seen.add(key)
            m["dga"](d, tlds, count, sandbox, int(seed, 16))
            n += 1
        calls.note("qakbot %s%s dga(date, ...) per third of a month"
                   % (seed, " sandbox" if sandbox else ""), n)


def ranbyus(root, entries, start, end, calls):
    sept = load(os.path.join(root, "ranbyus", "september", "ranbyus_reloaded.py"), "ranbyus_sept")
    may_bin = os.environ.get("RANBYUS_MAY_BIN")
    for variant, seed, cfg in entries:
        if cfg:
            fail("ranbyus: known entry %s has a configuration; the driver runs seeds only" % seed)
        n = 0
        if variant == "may":
            if not may_bin:
                fail("ranbyus/may needs RANBYUS_MAY_BIN (dga.c compiled)")
            for d in days(start, end):
                # The C program's command line, one process per day as a
                # responder's shell loop would run it; flush first so its
                # lines and ours do not interleave mid-line.
                sys.stdout.flush()
                rc = subprocess.call([may_bin, str(d.day), str(d.month), str(d.year), seed])
                if rc != 0:
                    fail("ranbyus/may: %s exited %d" % (may_bin, rc))
                n += 1
            calls.note("ranbyus/may %s C program per day" % seed, n)
        elif variant == "september":
            for d in days(start, end):
                for dom in sept["dga"](d.year, d.month, d.day, int(seed, 16)):
                    print(dom)
                n += 1
            calls.note("ranbyus/september %s dga(y, m, d, seed) per day" % seed, n)
        else:
            fail("ranbyus: no oracle for variant %r" % variant)


def corebot(root, entries, start, end, calls):
    m = load(os.path.join(root, "corebot", "dga.py"), "corebot")
    for _, seed, _ in entries:
        n = 0
        for d in days(start, end):
            # What its command line does for -s SEED -d DATE.
            charset, r = m["init_rand_and_chars"](d.year, d.month, d.day, 1, int(seed, 16))
            for _ in range(40):
                r = m["generate_domain"](charset, r)
            n += 1
        calls.note("corebot %s init + 40 generate_domain per day" % seed, n)


def gozi(root, entries, start, end, calls):
    # dga(date, wordlist) opens the word list by name in the working directory.
    os.chdir(os.path.join(root, "gozi"))
    m = load("dga.py", "gozi")
    ref_seed = "0x%08x" % (((1 << 16) - 306607824) % 2 ** 32)
    epoch = datetime(2015, 1, 1)
    for variant, seed, cfg in entries:
        if cfg or seed.lower() != ref_seed:
            fail("gozi: the script computes its own seed %s; known entry %s/%s differs"
                 % (ref_seed, variant, seed))
        if variant not in m["seeds"]:
            fail("gozi: the script has no word list %r" % variant)
        div = m["seeds"][variant]["div"]
        seen = set()
        n = 0
        for d in days(start, end):
            # The script's own period: days since 2015-01-01 over `div`.
            key = (d - epoch).days // div
            if key in seen:
                continue
            seen.add(key)
            for dom in m["dga"](d, variant):
                print(dom)
            n += 1
        calls.note("gozi/%s dga(date, wordlist) per %d-day period" % (variant, div), n)


def newgoz(root, entries, start, end, calls):
    m = load(os.path.join(root, "newgoz", "dga.py"), "newgoz")
    for _, seed, _ in entries:
        if seed != "01051935":
            fail("newgoz: the script hard-codes key 01051935, not %s" % seed)
        n = 0
        for d in days(start, end):
            for seq in range(1000):  # the command line's default count
                print(m["create_domain"](seq, d))
            n += 1
        calls.note("newgoz %s create_domain x1000 per day" % seed, n)


def pandabanker(root, entries, start, end, calls):
    import base64
    scripts = {"daily": "dga.py", "v2.2.9": "dga_version_2.2.9.py"}
    for variant, seed, cfg in entries:
        if variant not in scripts:
            fail("pandabanker: no oracle for variant %r" % variant)
        if not cfg:
            fail("pandabanker: known entry %s has no configuration" % seed)
        m = load(os.path.join(root, "panda_banker", scripts[variant]), "panda_" + variant)
        key = m["rc4_ksa"](base64.b64decode(cfg["key"]))
        n = 0
        for d in days(start, end):
            for entry in cfg["dgaconfigs"]:
                # The script returns a URL; the domain is its host part.
                print(m["dga"](key, d, str(entry)).split("/")[0])
            n += 1
        calls.note("pandabanker/%s %s dga(key, date, entry) per day" % (variant, seed), n)


FAMILIES = {
    "nymaim": nymaim,
    "shiotob": shiotob,
    "tinba": tinba,
    "vawtrak": vawtrak,
    "qakbot": qakbot,
    "ranbyus": ranbyus,
    "corebot": corebot,
    "gozi": gozi,
    "newgoz": newgoz,
    "pandabanker": pandabanker,
}


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--families":
        print(" ".join(sorted(FAMILIES)))
        return
    if len(sys.argv) != 6:
        fail("usage: dga_oracles.py FAMILY ORACLE_DIR FROM TO KNOWN_JSON")
    family, root, start, end, listing = sys.argv[1:6]
    if family not in FAMILIES:
        fail("no oracle driver for family %r (known: %s)" % (family, " ".join(sorted(FAMILIES))))
    root = os.path.abspath(root)
    start = datetime.strptime(start, "%Y-%m-%d")
    end = datetime.strptime(end, "%Y-%m-%d")
    with open(listing) as f:
        entries = list(known(json.load(f), family))
    if not entries:
        fail("family %r has no known seed in %s" % (family, listing))
    calls = Calls()
    FAMILIES[family](root, entries, start, end, calls)
    sys.stdout.flush()
    sys.stderr.write("driver: %s (python %d.%d, one process): %s\n"
                     % (family, sys.version_info[0], sys.version_info[1], "; ".join(calls.notes)))


if __name__ == "__main__":
    main()
