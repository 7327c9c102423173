#!/usr/bin/env python3
"""Builds the installer corpus of bench/containers.sh (its second race) from
this machine's own files with the Debian tools makensis (nsis), arj and
mscompress, adds copies of the packed samples of Debian's clamav-testfiles,
and plants EICAR and ClamAV's test file clam.exe inside some of them.

usage: mkinstallers.py --out DIR --sigs DIR --target BYTES

Corpus (DIR):
  nsis/    NSIS installers of /usr/lib files, 24 files each, cycling through
           zlib, bzip2 and lzma, each solid and not (SetCompressor [/SOLID])
  arj/     ARJ archives of /usr/lib files, 24 files each, methods 1 to 4
  szdd/    single /usr/lib files compressed with mscompress (MS-SZDD, the
           format of expand.exe; the name gets a trailing "_")
  planted/ clam.exe and EICAR inside the formats above:
             nsis-{zlib,bzip2,lzma}[-solid].exe!{clam.exe,eicar.com},
             nsis-lzma-solid-nested.exe!bundle.arj!clam.exe,
             planted-m{1,4}.arj!{clam.exe,eicar.com}, nested.arj!clam.ex_!clam.exe,
             clam.ex_ and eicar.co_ (SZDD)
  packed/  copies of /usr/share/clamav-testfiles' packed and installer
           samples (clam-*.exe: UPX, ASPack, FSG, MEW, NSIS, PeSpin, Petite,
           Upack, WWPack, yC; clam.ea05.exe, clam.ea06.exe (AutoIt),
           clam_IS*.exe (InstallShield), clam.sis, clam.chm, clam.arj,
           clam.exe.szdd), each hiding clam.exe
Signatures (--sigs DIR), loaded by both takedown and clamscan:
  bench.yar   a YARA rule for EICAR
  clam.hsb    SHA-256:size:name of clam.exe
Needs makensis, arj, mscompress and /usr/share/clamav-testfiles.
Built once and reused while the parameters stay the same.
"""
import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mkarchives import EICAR, chunks, lib_files  # noqa: E402

TESTFILES = "/usr/share/clamav-testfiles"
PACKED = ["clam-*.exe", "clam.ea05.exe", "clam.ea06.exe", "clam_IS*.exe", "clam.sis",
          "clam.chm", "clam.arj", "clam.exe.szdd"]
NSIS_KINDS = [(c, s) for c in ("zlib", "bzip2", "lzma") for s in (False, True)]


def run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit(f"mkinstallers: {' '.join(cmd)} failed (exit {r.returncode}):\n"
                 + r.stdout.decode(errors="replace")[-2000:])


def stage(dirpath, members):
    """Copies (name, bytes-or-path) members into dirpath under plain unique
    names (no '$' or quotes, which NSIS scripts would interpret); returns
    the staged paths."""
    os.makedirs(dirpath, exist_ok=True)
    out = []
    for i, (name, src) in enumerate(members):
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(name))[-60:]
        dst = os.path.join(dirpath, f"{i:03}_{safe}" if isinstance(src, str) else safe)
        if isinstance(src, str):
            shutil.copyfile(src, dst)
        else:
            with open(dst, "wb") as f:
                f.write(src)
        out.append(dst)
    return out


def nsis(out, compressor, solid, files, work):
    script = os.path.join(work, "installer.nsi")
    lines = ["Unicode true", f"SetCompressor {'/SOLID ' if solid else ''}{compressor}",
             f'OutFile "{out}"', 'InstallDir "$TEMP\\bench"', "RequestExecutionLevel user",
             "Section", 'SetOutPath "$INSTDIR"']
    lines += [f'File "{p}"' for p in files]
    lines += ["SectionEnd", ""]
    with open(script, "w") as f:
        f.write("\n".join(lines))
    run(["makensis", "-V1", "-INPUTCHARSET", "UTF8", script])


def arj(out, method, files):
    # -e: names without paths; -y: no questions.
    run(["arj", "a", "-y", "-e", f"-m{method}", out] + files)


def szdd(files):
    """mscompress writes NAME_ next to each NAME; returns those paths."""
    run(["mscompress"] + files)
    return [p + "_" for p in files]


def build(out, target, sigs):
    for t in ("makensis", "arj", "mscompress"):
        if shutil.which(t) is None:
            sys.exit(f"mkinstallers: '{t}' not found (apt-get install nsis arj mscompress)")
    clam = os.path.join(TESTFILES, "clam.exe")
    if not os.path.isfile(clam):
        sys.exit(f"mkinstallers: {clam} not found (apt-get install clamav-testfiles)")
    clam_bytes = open(clam, "rb").read()
    for sub in ("nsis", "arj", "szdd", "planted", "packed"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    work = tempfile.mkdtemp(prefix="mkinstallers-")
    total = 0
    try:
        files = [(os.path.relpath(p, "/"), p) for p in lib_files(target)]
        n = len(files)
        # Split by count: 60% NSIS, 25% ARJ, 15% SZDD.
        ns, ar, sz = files[:n * 60 // 100], files[n * 60 // 100:n * 85 // 100], files[n * 85 // 100:]
        for i, group in enumerate(chunks(ns, 24)):
            comp, solid = NSIS_KINDS[i % len(NSIS_KINDS)]
            d = os.path.join(work, f"nsis{i}")
            dst = os.path.join(out, "nsis", f"setup-{i:04}-{comp}{'-solid' if solid else ''}.exe")
            nsis(dst, comp, solid, stage(d, group), work)
            shutil.rmtree(d)
            total += os.path.getsize(dst)
        for i, group in enumerate(chunks(ar, 24)):
            d = os.path.join(work, f"arj{i}")
            dst = os.path.join(out, "arj", f"lib-{i:04}.arj")
            arj(dst, 1 + i % 4, stage(d, group))
            shutil.rmtree(d)
            total += os.path.getsize(dst)
        for i, group in enumerate(chunks(sz, 64)):
            d = os.path.join(out, "szdd")
            staged = stage(os.path.join(work, "szdd"), [(f"{i:03}-{name}", p) for name, p in group])
            for p in szdd(staged):
                dst = os.path.join(d, os.path.basename(p))
                shutil.move(p, dst)
                total += os.path.getsize(dst)
            shutil.rmtree(os.path.join(work, "szdd"))

        # Planted: clam.exe and EICAR among a few machine files.
        p = os.path.join(out, "planted")
        filler = [(name, path) for name, path in files[:6]]
        plant = [("clam.exe", clam_bytes), ("eicar.com", EICAR)]
        for comp, solid in NSIS_KINDS:
            d = os.path.join(work, f"planted-{comp}{solid}")
            nsis(os.path.join(p, f"nsis-{comp}{'-solid' if solid else ''}.exe"), comp, solid,
                 stage(d, filler) + stage(d, plant), work)
        for m in (1, 4):
            arj(os.path.join(p, f"planted-m{m}.arj"), m, stage(os.path.join(work, f"arj-m{m}"), filler + plant))
        d = os.path.join(work, "szdd-planted")
        for src in szdd(stage(d, plant)):
            shutil.copyfile(src, os.path.join(p, os.path.basename(src)[:-2] + "_"))
        d = os.path.join(work, "nested")
        arj(os.path.join(d, "nested.arj"), 2,
            stage(os.path.join(d, "in"), filler[:2]) + [os.path.join(p, "clam.ex_")])
        shutil.copyfile(os.path.join(d, "nested.arj"), os.path.join(p, "nested.arj"))
        d = os.path.join(work, "nested2")
        arj(os.path.join(work, "bundle.arj"), 3, stage(d, filler[:3] + [plant[0]]))
        nsis(os.path.join(p, "nsis-lzma-solid-nested.exe"), "lzma", True,
             stage(os.path.join(work, "nested3"), filler[3:]) + [os.path.join(work, "bundle.arj")], work)
        for f in os.listdir(p):
            total += os.path.getsize(os.path.join(p, f))

        # The packed samples, as Debian ships them.
        for pat in PACKED:
            found = sorted(glob.glob(os.path.join(TESTFILES, pat)))
            if not found:
                sys.exit(f"mkinstallers: no {pat} in {TESTFILES} (apt-get install clamav-testfiles)")
            for src in found:
                dst = os.path.join(out, "packed", os.path.basename(src))
                shutil.copyfile(src, dst)
                total += os.path.getsize(dst)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    os.makedirs(sigs, exist_ok=True)
    with open(os.path.join(sigs, "bench.yar"), "w") as f:
        f.write('rule Bench_EICAR\n{\n  strings:\n    $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"\n'
                '  condition:\n    $a\n}\n')
    with open(os.path.join(sigs, "clam.hsb"), "w") as f:
        f.write(f"{hashlib.sha256(clam_bytes).hexdigest()}:{len(clam_bytes)}:Bench.ClamAV.TestFile\n")
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--sigs", required=True)
    ap.add_argument("--target", type=int, default=200 << 20)
    a = ap.parse_args()
    # makensis runs in its script's directory: every path it sees is absolute.
    a.out, a.sigs = os.path.abspath(a.out), os.path.abspath(a.sigs)
    stamp = a.out + ".done"
    key = f"v1 {a.target}\n"
    if os.path.exists(stamp) and open(stamp).read() == key:
        return
    for p in (a.out, a.sigs):
        shutil.rmtree(p, ignore_errors=True)
    total = build(a.out, a.target, a.sigs)
    open(stamp, "w").write(key)
    print(f"installer corpus: {total} bytes", flush=True)


if __name__ == "__main__":
    main()
