#!/usr/bin/env python3
"""Generates an offline Windows volume with a given number of autostart
entries, for bench/autostarts.sh.

    mkautostarts.py OUT_DIR [--entries 10000] [--users 50] [--seed 1]

The entries are spread as a compromised fleet image would have them:

  20%  Run values in SOFTWARE (Run, RunOnce, Wow6432Node Run)
  25%  Run values in the users' NTUSER.DAT (users from ProfileList)
  25%  services in SYSTEM (ImagePath, Type, Start, ObjectName)
  20%  scheduled tasks, each in both stores: a TaskCache Tree and Tasks
       key in SOFTWARE (with an Actions blob) and an XML file under
       Windows/System32/Tasks (UTF-16, as Windows writes them); each task
       is two entries
  10%  Startup folder shortcuts (.lnk, MS-SHLLINK with a LinkInfo)

Every entry starts its own program, a small file (512 B to 4 KiB, seeded
random bytes) under ProgramData/bench or the user's AppData, so that
resolving and hashing have real files to find. The hives are written by
this script (class Hive: why not hivex); bench/autostarts.sh checks
them with hivexget. Prints the counts as JSON on stdout.
"""

import argparse
import json
import os
import random
import struct
import sys

CV = r"Microsoft\Windows\CurrentVersion"
NT = r"Microsoft\Windows NT\CurrentVersion"


REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD = 1, 2, 3, 4


class Key:
    def __init__(self, name):
        self.name = name
        self.children = {}  # lower-case name -> Key
        self.values = []  # (name, type, data)


class Hive:
    """A registry hive written here, compactly, as Windows lays one out
    (regf base block, 4 KiB hive bins, one cell per key, value, list and
    data, every subkey list an `lf` sorted by upper-case name, one shared
    security cell). Not written with hivex: hivex reallocates a parent's
    subkey list for each key it adds and never reuses the freed cells, so
    a SYSTEM hive of 2,500 services grows to 30 MB, and regipy's cost
    grows with the file (it reads inline DWORD data as the rest of the
    file): the race would measure hivex's layout, not the readers."""

    def __init__(self):
        self.root = Key("ROOT")

    def key(self, path):
        k = self.root
        for comp in path.split("\\"):
            k = k.children.setdefault(comp.lower(), Key(comp))
        return k

    def sz(self, path, name, s):
        self.key(path).values.append((name, REG_SZ, (s + "\0").encode("utf-16-le")))

    def expand(self, path, name, s):
        self.key(path).values.append((name, REG_EXPAND_SZ, (s + "\0").encode("utf-16-le")))

    def dword(self, path, name, n):
        self.key(path).values.append((name, REG_DWORD, struct.pack("<I", n)))

    def binary(self, path, name, data):
        self.key(path).values.append((name, REG_BINARY, bytes(data)))

    def write(self, path):
        bins = bytearray()  # everything after the base block
        state = {"bin_start": 0, "bin_end": 0}

        def new_bin(size):
            start = len(bins)
            bins.extend(b"hbin" + struct.pack("<II", start, size) + bytes(size - 12))
            state["bin_start"], state["bin_end"] = start, start + size
            state["next"] = start + 32

        def alloc(data):
            size = (4 + len(data) + 7) & ~7
            if state["bin_end"] == 0 or state["next"] + size > state["bin_end"]:
                if state["bin_end"]:
                    free = state["bin_end"] - state["next"]
                    if free:
                        struct.pack_into("<i", bins, state["next"], free)
                new_bin(max(4096, (size + 32 + 4095) & ~4095))
            off = state["next"]
            struct.pack_into("<i", bins, off, -size)
            bins[off + 4:off + 4 + len(data)] = data
            state["next"] = off + size
            return off

        # Every key's nk cell first, in pre-order, so that the root is the
        # first cell of the first bin as in hives Windows writes (regipy
        # relies on it); lists and values after, and the nk fields patched.
        keys = []

        def place(k, parent):
            nb = k.name.encode("latin-1")
            k.off = alloc(b"nk" + bytes(74) + nb)
            k.parent = parent
            keys.append(k)
            for c in sorted(k.children.values(), key=lambda c: c.name.upper()):
                place(c, k)

        place(self.root, None)
        descriptor = bytes([1, 0, 0x04, 0x80]) + bytes(16)
        sk = alloc(b"sk" + bytes(2) + struct.pack("<IIII", 0, 0, len(keys), len(descriptor)) + descriptor)
        struct.pack_into("<II", bins, sk + 8, sk, sk)  # flink, blink: itself

        for k in keys:
            children = sorted(k.children.values(), key=lambda c: c.name.upper())
            vk_offs = []
            max_vname = max_vdata = 0
            for name, t, data in k.values:
                nb = name.encode("latin-1")
                max_vname = max(max_vname, len(nb) * 2)
                max_vdata = max(max_vdata, len(data))
                if len(data) <= 4:
                    size, doff = len(data) | 0x80000000, struct.unpack("<I", data.ljust(4, b"\0"))[0]
                else:
                    size, doff = len(data), alloc(data)
                vk_offs.append(alloc(b"vk" + struct.pack("<HIIIHH", len(nb), size, doff, t, 1 if nb else 0, 0) + nb))
            vlist = alloc(b"".join(struct.pack("<I", o) for o in vk_offs)) if vk_offs else 0xFFFFFFFF
            if children:
                lf = b"lf" + struct.pack("<H", len(children))
                for c in children:
                    lf += struct.pack("<I", c.off) + c.name.encode("latin-1")[:4].ljust(4, b"\0")
                slist = alloc(lf)
            else:
                slist = 0xFFFFFFFF
            nb = k.name.encode("latin-1")
            max_sub = max((len(c.name) * 2 for c in children), default=0)
            struct.pack_into(
                "<HHQIIIIIIIIIIIIIIIHH", bins, k.off + 4,
                0x6B6E,  # "nk"
                0x2C if k.parent is None else 0x20,  # hive entry, no delete; ASCII name
                0,  # last written
                0,  # access bits
                k.parent.off if k.parent else 0,
                len(children), 0, slist, 0xFFFFFFFF,
                len(vk_offs), vlist, sk, 0xFFFFFFFF,
                max_sub, 0, max_vname, max_vdata, 0,
                len(nb), 0)

        root = self.root.off
        free = state["bin_end"] - state["next"]
        if free:
            struct.pack_into("<i", bins, state["next"], free)
        base = bytearray(4096)
        base[0:4] = b"regf"
        struct.pack_into("<IIQIIIIIII", base, 4, 1, 1, 0, 1, 5, 0, 1, root, len(bins), 1)
        s = 0
        for i in range(127):
            s ^= struct.unpack_from("<I", base, i * 4)[0]
        struct.pack_into("<I", base, 0x1FC, s)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base)
            f.write(bins)


def actions_blob(program, args):
    """A TaskCache Actions value with one exec action."""
    def s(t):
        b = t.encode("utf-16-le")
        return struct.pack("<I", len(b)) + b
    return (struct.pack("<H", 3) + s("Author") + struct.pack("<H", 0x6666) + s("")
            + s(program) + s(args) + s("") + struct.pack("<H", 0))


def task_xml(command, args):
    xml = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">\n'
        "  <Triggers><LogonTrigger><Enabled>true</Enabled></LogonTrigger></Triggers>\n"
        '  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals>\n'
        "  <Settings><Enabled>true</Enabled></Settings>\n"
        '  <Actions Context="Author"><Exec><Command>%s</Command><Arguments>%s</Arguments></Exec></Actions>\n'
        "</Task>" % (command, args))
    return b"\xff\xfe" + xml.encode("utf-16-le")


def lnk(local, args):
    """A shortcut whose LinkInfo names a local base path."""
    flags = 0x80 | 0x2 | (0x20 if args else 0)
    b = bytearray(struct.pack("<I", 0x4C))
    b += bytes([0x01, 0x14, 0x02, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46])
    b += struct.pack("<I", flags)
    b += bytes(0x4C - len(b))
    volume = struct.pack("<IIII", 0x11, 3, 0x1234, 0x10) + b"\0"
    base_off = 0x1C + len(volume)
    path = local.encode("latin-1") + b"\0"
    suffix_off = base_off + len(path)
    b += struct.pack("<IIIIIII", suffix_off + 1, 0x1C, 1, 0x1C, base_off, 0, suffix_off)
    b += volume + path + b"\0"
    if args:
        b += struct.pack("<H", len(args)) + args.encode("utf-16-le")
    b += struct.pack("<I", 0)
    return bytes(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    root = a.out
    n = a.entries
    n_hklm = n * 20 // 100
    n_user = n * 25 // 100
    n_svc = n * 25 // 100
    n_tasks = n * 10 // 100  # two entries each
    n_lnk = n - n_hklm - n_user - n_svc - 2 * n_tasks
    users = ["user%02d" % i for i in range(a.users)]

    programs = 0

    def program(rel):
        nonlocal programs
        p = os.path.join(root, rel.replace("\\", "/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(b"MZ" + rng.randbytes(rng.randint(510, 4094)))
        programs += 1

    sw = Hive()
    sw.sz(NT, "SystemRoot", r"C:\Windows")
    for i, u in enumerate(users):
        sw.expand(r"%s\ProfileList\S-1-5-21-1-2-3-%d" % (NT, 1001 + i), "ProfileImagePath",
                  r"%SystemDrive%\Users" + "\\" + u)
    run_keys = [CV + r"\Run", CV + r"\RunOnce", r"Wow6432Node" + "\\" + CV + r"\Run"]
    for i in range(n_hklm):
        key = run_keys[i % len(run_keys)]
        rel = r"ProgramData\bench\run\r%05d.exe" % i
        program(rel)
        sw.sz(key, "Run%05d" % i, r"C:\%s -autostart" % rel)
    for i in range(n_tasks):
        guid = "{%08d-0000-4000-8000-%012d}" % (i, i)
        rel = r"ProgramData\bench\task\t%05d.exe" % i
        program(rel)
        sw.sz(r"%s\Schedule\TaskCache\Tree\BenchTask%05d" % (NT, i), "Id", guid)
        sw.sz(r"%s\Schedule\TaskCache\Tasks\%s" % (NT, guid), "Path", r"\BenchTask%05d" % i)
        sw.binary(r"%s\Schedule\TaskCache\Tasks\%s" % (NT, guid), "Actions",
                  actions_blob(r"C:\%s" % rel, "--task %d" % i))
        xml = os.path.join(root, "Windows/System32/Tasks/BenchTask%05d" % i)
        os.makedirs(os.path.dirname(xml), exist_ok=True)
        with open(xml, "wb") as f:
            f.write(task_xml(r"C:\%s" % rel, "--task %d" % i))
    sw.write(os.path.join(root, "Windows/System32/config/SOFTWARE"))

    sysh = Hive()
    sysh.dword("Select", "Current", 1)
    for i in range(n_svc):
        key = r"ControlSet001\Services\BenchSvc%05d" % i
        rel = r"ProgramData\bench\svc\s%05d.exe" % i
        program(rel)
        sysh.expand(key, "ImagePath", '"C:\\%s" -service' % rel)
        sysh.dword(key, "Type", 16)
        sysh.dword(key, "Start", 2)
        sysh.sz(key, "ObjectName", "LocalSystem")
    sysh.write(os.path.join(root, "Windows/System32/config/SYSTEM"))

    per_user = [n_user // len(users) + (1 if i < n_user % len(users) else 0) for i in range(len(users))]
    k = 0
    for u, count in zip(users, per_user):
        h = Hive()
        for j in range(count):
            rel = r"Users\%s\AppData\Roaming\bench\u%05d.exe" % (u, k)
            program(rel)
            h.expand(r"Software\%s\Run" % CV, "UserRun%05d" % k, r"%%APPDATA%%\bench\u%05d.exe" % k)
            k += 1
        h.write(os.path.join(root, "Users", u, "NTUSER.DAT"))

    startup = "AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup"
    for i in range(n_lnk):
        u = users[i % len(users)]
        rel = r"Users\%s\AppData\Local\bench\l%05d.exe" % (u, i)
        program(rel)
        p = os.path.join(root, "Users", u, startup, "link%05d.lnk" % i)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(lnk("C:\\" + rel, "--logon"))

    json.dump({
        "entries": n_hklm + n_user + n_svc + 2 * n_tasks + n_lnk,
        "registry_entries": n_hklm + n_user + n_svc + n_tasks,
        "hklm_run": n_hklm, "user_run": n_user, "services": n_svc,
        "tasks": n_tasks, "task_entries": 2 * n_tasks, "startup_links": n_lnk,
        "users": len(users), "programs": programs,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
