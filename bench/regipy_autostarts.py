#!/usr/bin/env python3
"""The peer of `takedown persistence` in bench/autostarts.sh: reads the
autostart keys of an offline Windows volume's hives with regipy
(https://github.com/mkorman90/regipy, PyPI `regipy`).

    regipy_autostarts.py ROOT keys      # the keys takedown reads (default)
    regipy_autostarts.py ROOT recurse   # every key and value of each hive

`keys` walks what takedown's registry reader walks, with regipy's
RegistryHive: in SOFTWARE the Run family (Run, RunOnce, RunServices,
RunServicesOnce, Policies\\Explorer\\Run, RunOnceEx, with their Wow6432Node
forms), Winlogon Shell/Userinit, Windows AppInit_DLLs, Image File
Execution Options debuggers, ProfileList (to find the users' hives), the
TaskCache (Tree walked for Id values, Tasks for Path and Actions); in
SYSTEM Select\\Current and every service of that control set (ImagePath,
ObjectName, Parameters\\ServiceDll) and Session Manager BootExecute; in
each user's NTUSER.DAT the Run family. It does no more: no task XML, no
shortcuts, no path resolution on the volume, no hashing (takedown does
all of these), so the race favours regipy.

`recurse` is regipy's `recurse_subkeys` (values fetched) over each hive:
the plain "dump every hive" way of using it.

Prints one JSON line: the entries found (values in Run keys, services
with an ImagePath or ServiceDll, TaskCache tasks, ...), keys and values
read.
"""

import json
import logging
import os
import sys

from regipy.exceptions import RegistryKeyNotFoundException, NoRegistrySubkeysException
from regipy.registry import RegistryHive

logging.disable(logging.CRITICAL)

CV = r"\Microsoft\Windows\CurrentVersion"
NT = r"\Microsoft\Windows NT\CurrentVersion"
RUN = [
    CV + r"\Run",
    CV + r"\RunOnce",
    CV + r"\RunServices",
    CV + r"\RunServicesOnce",
    CV + r"\Policies\Explorer\Run",
    CV + r"\RunOnceEx",
]
MISSING = (RegistryKeyNotFoundException, NoRegistrySubkeysException)


class Count:
    entries = 0
    keys = 0
    values = 0


def key(hive, path):
    try:
        k = hive.get_key(path)
    except MISSING:
        return None
    Count.keys += 1
    return k


def values(k):
    if k is None:
        return {}
    out = {v.name: v.value for v in k.iter_values(trim_values=False)}
    Count.values += len(out)
    return out


def subkeys(k):
    if k is None or not k.subkey_count:
        return []
    return list(k.iter_subkeys())


def run_family(hive, prefix):
    for wow in ("", r"\Wow6432Node"):
        for p in RUN:
            k = key(hive, prefix + wow + p)
            if k is None:
                continue
            Count.entries += len(values(k))
            for sub in subkeys(k):  # RunOnceEx's numbered subkeys
                Count.keys += 1
                Count.entries += len(values(sub))


def software(path):
    h = RegistryHive(path)
    run_family(h, "")
    w = values(key(h, NT + r"\Winlogon"))
    Count.entries += sum(1 for n in ("Shell", "Userinit") if w.get(n))
    if values(key(h, NT + r"\Windows")).get("AppInit_DLLs"):
        Count.entries += 1
    for ifeo in subkeys(key(h, NT + r"\Image File Execution Options")):
        Count.keys += 1
        if values(ifeo).get("Debugger"):
            Count.entries += 1
    profiles = []
    for p in subkeys(key(h, NT + r"\ProfileList")):
        Count.keys += 1
        image = values(p).get("ProfileImagePath")
        if image:
            profiles.append(image)
    # TaskCache: Tree (any depth) names tasks by Id; Tasks holds them.
    stack = subkeys(key(h, NT + r"\Schedule\TaskCache\Tree"))
    while stack:
        t = stack.pop()
        Count.keys += 1
        values(t)
        stack.extend(subkeys(t))
    for t in subkeys(key(h, NT + r"\Schedule\TaskCache\Tasks")):
        Count.keys += 1
        v = values(t)
        if v.get("Path") and v.get("Actions"):
            Count.entries += 1
    return profiles


def system(path):
    h = RegistryHive(path)
    current = values(key(h, r"\Select")).get("Current", 1)
    cs = r"\ControlSet%03d" % current
    for s in subkeys(key(h, cs + r"\Services")):
        Count.keys += 1
        v = values(s)
        if v.get("ImagePath"):
            Count.entries += 1
        for sub in subkeys(s):
            Count.keys += 1
            if sub.name.lower() == "parameters" and values(sub).get("ServiceDll"):
                Count.entries += 1
    boot = values(key(h, cs + r"\Control\Session Manager")).get("BootExecute") or []
    Count.entries += len(boot)


def user_hive(root, image):
    # %SystemDrive%\Users\name -> ROOT/Users/name/NTUSER.DAT (exact case,
    # as the generator writes it).
    rel = image.replace("%SystemDrive%", "").replace("C:", "").strip("\\").replace("\\", "/")
    return os.path.join(root, rel, "NTUSER.DAT")


def recurse(path):
    h = RegistryHive(path)
    for sk in h.recurse_subkeys(fetch_values=True):
        Count.keys += 1
        Count.values += len(sk.values)


def main():
    root = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else "keys"
    cfg = os.path.join(root, "Windows/System32/config")
    if mode == "keys":
        profiles = software(os.path.join(cfg, "SOFTWARE"))
        system(os.path.join(cfg, "SYSTEM"))
        for image in profiles:
            p = user_hive(root, image)
            if os.path.isfile(p):
                run_family(RegistryHive(p), r"\Software")
    elif mode == "recurse":
        hives = [os.path.join(cfg, "SOFTWARE"), os.path.join(cfg, "SYSTEM")]
        users = os.path.join(root, "Users")
        for u in sorted(os.listdir(users)):
            p = os.path.join(users, u, "NTUSER.DAT")
            if os.path.isfile(p):
                hives.append(p)
        for p in hives:
            recurse(p)
    else:
        sys.exit("mode: keys or recurse")
    print(json.dumps({"mode": mode, "entries": Count.entries, "keys": Count.keys, "values": Count.values}))


if __name__ == "__main__":
    main()
