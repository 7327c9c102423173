#!/usr/bin/env python3
"""Builds the container corpus of bench/containers.sh from this machine's
own files, plants test samples inside nested containers, and builds the
bomb cases.

usage: mkarchives.py --out DIR --bombs DIR --target BYTES --sigs DIR

Corpus (DIR):
  gz/      every .gz under /usr/share/doc (copied as they are)
  zip/     zips of /usr/lib files, 24 files each, deflate; every 8th holds
           a zip of its own (zip in zip)
  tar/     .tar.gz, .tar.bz2 and .tar.xz of /usr/lib files, 24 files each
  mail/    .eml messages with base64 attachments (a zip or a plain file),
           and one mbox of 20 messages
  planted/ EICAR and "IOC" samples (seeded random bytes whose SHA-256 is in
           the signatures) nested in the formats above:
             eicar.zip!eicar.com, eicar.tar.gz!eicar.tar!a/b/eicar.com,
             nested.zip!inner.zip!eicar.com, invoice.eml!invoice.zip!eicar.com,
             ioc.tar.xz!ioc.tar!ioc_1.bin, mailbox.mbox!message-3!ioc_2.bin, ...
Signatures (--sigs DIR), loaded by both takedown and clamscan:
  bench.yar   a YARA rule for EICAR (ClamAV loads YARA rules too)
  planted.hsb SHA-256:size:name of the IOC samples
Bombs (--bombs DIR):
  42.zip          4 levels of 16 zips, innermost 1 GiB of zeros (16^4 GiB)
  overlap.zip     one deflated run of 1 GiB zeros, 256 central-directory
                  entries all pointing at it (Fifield-style, non-nested)
  zeros10g.gz     10 GiB of zeros: 10 gzip members of 1 GiB each
Built once and reused while the parameters stay the same.
"""
import argparse
import email.message
import email.policy
import gzip
import hashlib
import io
import os
import random
import shutil
import struct
import tarfile
import zipfile
import zlib

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
GIB = 1 << 30


def lib_files(limit_bytes, skip=0):
    """Regular files under /usr/lib, deterministic order, up to limit_bytes."""
    out, total, seen = [], 0, 0
    for root in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/python3", "/usr/lib/gcc", "/usr/share/doc"):
        for d, dirs, fs in os.walk(root):
            dirs.sort()
            for f in sorted(fs):
                p = os.path.join(d, f)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                s = os.path.getsize(p)
                if s == 0 or s > (8 << 20) or p.endswith(".gz"):
                    continue
                seen += 1
                if seen <= skip:
                    continue
                out.append(p)
                total += s
                if total >= limit_bytes:
                    return out
    return out


def chunks(lst, n):
    for i in range(0, len(lst), n):
        yield lst[i:i + n]


def zip_bytes(members):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return b.getvalue()


def tar_bytes(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1_480_000_000
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


def compress(kind, data):
    import bz2
    import lzma
    return {"gz": lambda d: gzip.compress(d, mtime=0), "bz2": bz2.compress,
            "xz": lzma.compress}[kind](data)


def eml(subject, attachments):
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = "billing@example.invalid"
    m["To"] = "victim@example.invalid"
    m["Subject"] = subject
    m["Date"] = "Mon, 05 Dec 2016 09:00:00 +0100"
    m["Message-ID"] = f"<{hashlib.sha1(subject.encode()).hexdigest()}@example.invalid>"
    m.set_content("Please find the invoice attached.\n")
    for name, data in attachments:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m.as_bytes()


def build_corpus(out, target, sigs):
    for sub in ("gz", "zip", "tar", "mail", "planted"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    total = 0
    # .gz files of /usr/share/doc, as they are.
    for d, dirs, fs in os.walk("/usr/share/doc"):
        dirs.sort()
        for f in sorted(fs):
            p = os.path.join(d, f)
            if f.endswith(".gz") and os.path.isfile(p) and not os.path.islink(p):
                dst = os.path.join(out, "gz", os.path.relpath(p, "/usr/share/doc").replace("/", "__"))
                shutil.copyfile(p, dst)
                total += os.path.getsize(dst)
    rest = max(target - total, 64 << 20)
    files = lib_files(rest)
    members = [(os.path.relpath(p, "/"), open(p, "rb").read()) for p in files]
    # Split: 45% zips, 40% tars, 15% mail.
    n = len(members)
    zips, tars, mails = members[:n * 45 // 100], members[n * 45 // 100:n * 85 // 100], members[n * 85 // 100:]
    for i, group in enumerate(chunks(zips, 24)):
        data = zip_bytes(group)
        if i % 8 == 7:
            data = zip_bytes([("inner.zip", data), ("readme.txt", b"nested\n")])
        open(os.path.join(out, "zip", f"lib-{i:04}.zip"), "wb").write(data)
        total += len(data)
    for i, group in enumerate(chunks(tars, 24)):
        kind = ("gz", "bz2", "xz")[i % 3]
        data = compress(kind, tar_bytes(group))
        open(os.path.join(out, "tar", f"lib-{i:04}.tar.{kind}"), "wb").write(data)
        total += len(data)
    for i, group in enumerate(chunks(mails, 4)):
        atts = [(os.path.basename(name), d) for name, d in group]
        if i % 2:
            atts = [("files.zip", zip_bytes(group))]
        data = eml(f"Invoice {i}", atts)
        open(os.path.join(out, "mail", f"msg-{i:04}.eml"), "wb").write(data)
        total += len(data)

    # Planted samples.
    rnd = random.Random(2016)
    iocs = []
    for k in range(1, 5):
        blob = bytes(rnd.getrandbits(8) for _ in range(4096 + 1000 * k))
        iocs.append((f"ioc_{k}.bin", blob))
    p = os.path.join(out, "planted")
    planted = {
        "eicar.zip": zip_bytes([("eicar.com", EICAR)]),
        "eicar.tar.gz": compress("gz", tar_bytes([("a/b/eicar.com", EICAR)])),
        "nested.zip": zip_bytes([("inner.zip", zip_bytes([("eicar.com", EICAR)]))]),
        "invoice.eml": eml("Invoice 2016-12", [("invoice.zip", zip_bytes([("eicar.com", EICAR)]))]),
        "eicar.gz": gzip.compress(EICAR, mtime=0),
        "ioc.tar.xz": compress("xz", tar_bytes([iocs[0]])),
        "ioc.zip": zip_bytes([iocs[1]]),
        "ioc.eml": eml("Report", [iocs[2]]),
        "ioc.tar.bz2": compress("bz2", tar_bytes([("deep/" + iocs[3][0], iocs[3][1])])),
    }
    mbox = b""
    for k in range(20):
        atts = [("eicar.com", EICAR)] if k == 2 else [("note.txt", b"hello %d\n" % k)]
        msg = eml(f"Message {k}", atts)
        mbox += b"From sender@example.invalid Mon Dec  5 09:00:00 2016\n" + msg.replace(b"\r\n", b"\n") + b"\n"
    planted["mailbox.mbox"] = mbox
    for name, data in planted.items():
        open(os.path.join(p, name), "wb").write(data)
        total += len(data)

    os.makedirs(sigs, exist_ok=True)
    with open(os.path.join(sigs, "bench.yar"), "w") as f:
        f.write('rule Bench_EICAR\n{\n  strings:\n    $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"\n'
                '  condition:\n    $a\n}\n')
    with open(os.path.join(sigs, "planted.hsb"), "w") as f:
        for name, blob in iocs:
            f.write(f"{hashlib.sha256(blob).hexdigest()}:{len(blob)}:Bench.IOC.{name}\n")
    return total


def zeros_deflate(n, wbits):
    """A deflate/gzip stream of n zero bytes, compressed in 1 MiB steps."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1 << 20)
    parts = [c.compress(block) for _ in range(n >> 20)]
    parts.append(c.flush())
    return b"".join(parts)


def build_bombs(d):
    os.makedirs(d, exist_ok=True)
    raw = zeros_deflate(GIB, -15)  # raw deflate of 1 GiB zeros
    crc = 0
    block = bytes(1 << 20)
    for _ in range(GIB >> 20):
        crc = zlib.crc32(block, crc)

    def local(name, comp, size, crc):
        n = name.encode()
        return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(comp), size, len(n), 0) + n

    def central(name, comp_len, size, crc, off):
        n = name.encode()
        return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, comp_len, size,
                           len(n), 0, 0, 0, 0, 0, off) + n

    def eocd(count, cd_len, cd_off):
        return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_len, cd_off, 0)

    # Innermost zip of 42.zip: one 1 GiB file of zeros, hand-assembled from
    # the precompressed stream (zipfile would recompress it).
    lh = local("0.txt", raw, GIB, crc)
    cd = central("0.txt", len(raw), GIB, crc, 0)
    level = lh + raw + cd + eocd(1, len(cd), len(lh) + len(raw))
    for depth in range(3):
        level = zip_bytes([(f"lib{depth}_{i:x}.zip", level) for i in range(16)])
    open(os.path.join(d, "42.zip"), "wb").write(
        zip_bytes([(f"lib_{i:x}.zip", level) for i in range(16)]))

    # Overlapping entries: every central-directory entry points at the same
    # local header and data.
    body = lh + raw
    cds = b"".join(central(f"{i:04}.txt", len(raw), GIB, crc, 0) for i in range(256))
    open(os.path.join(d, "overlap.zip"), "wb").write(body + cds + eocd(256, len(cds), len(body)))

    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = b"".join(c.compress(block) for _ in range(GIB >> 20)) + c.flush()
    with open(os.path.join(d, "zeros10g.gz"), "wb") as f:
        for _ in range(10):
            f.write(member)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--bombs", required=True)
    ap.add_argument("--sigs", required=True)
    ap.add_argument("--target", type=int, default=300 << 20)
    a = ap.parse_args()
    stamp = os.path.join(a.out + ".done")
    key = f"v1 {a.target}\n"
    if os.path.exists(stamp) and open(stamp).read() == key:
        return
    for p in (a.out, a.bombs, a.sigs):
        shutil.rmtree(p, ignore_errors=True)
    total = build_corpus(a.out, a.target, a.sigs)
    build_bombs(a.bombs)
    open(stamp, "w").write(key)
    print(f"container corpus: {total} bytes", flush=True)


if __name__ == "__main__":
    main()
