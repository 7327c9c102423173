#!/usr/bin/env python3
"""Writes small, valid, harmless seed inputs for the fuzz targets.

Usage: python3 fuzz-formats/seeds.py [corpus-dir]

The corpus directory defaults to `corpus/` next to this script. Each
target `fmt_<format>` gets one to three samples in `corpus/fmt_<format>/`;
`containers` gets a copy of all of them. Only the Python standard library
is used: the stdlib writers where there is one (zip, tar, gzip, bzip2, xz,
lzma, mail), hand-assembled bytes for the rest. Every sample holds short
text such as "hello"; nothing here is malware or a test virus.

Formats hard to build by hand (7z, rar, cab, iso9660, tnef, ole2, and
desktop OneNote) get no seed from this script; their corpora were seeded
once from the unit tests' builders and are kept in git (see README.md).
OneNote sections as exported by OneNote for the web are written here.
"""

import binascii
import bz2
import email.message
import email.policy
import gzip
import hashlib
import io
import lzma
import os
import shutil
import struct
import sys
import tarfile
import zipfile
import zlib

HELLO = b"hello\n"


def zip_samples():
    out = []
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", compression=method) as z:
            for name, data in (("hello.txt", HELLO * 4), ("dir/", b""), ("dir/b.txt", b"world\n")):
                # A fixed date, so that the seeds are the same on every run.
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = method
                z.writestr(info, data)
        out.append(b.getvalue())
    # Written to a pipe (sizes in data descriptors), cut before its central
    # directory; and after an executable's headers with the last 5 bytes
    # of its end record overwritten (as WWPack32's stub leaves it): both
    # are read from their local headers.
    stream = Unseekable()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in (("hello.txt", HELLO * 4), ("b.txt", b"world\n")):
            with z.open(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), "w") as f:
                f.write(data)
    streamed = bytes(stream.data)
    out.append(streamed[: streamed.index(b"PK\x01\x02")])
    damaged = b"MZ" + bytes(62) + out[1]
    out.append(damaged[:-5] + b"\x01" * 5)
    return out


class Unseekable:
    """A write-only stream, so that zipfile writes data descriptors."""

    def __init__(self):
        self.data = bytearray()

    def write(self, b):
        self.data += b
        return len(b)

    def flush(self):
        pass


def tar_bytes(fmt):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        if fmt != tarfile.PAX_FORMAT:
            d = tarfile.TarInfo("dir")
            d.type = tarfile.DIRTYPE
            t.addfile(d)
        info = tarfile.TarInfo("dir/hello.txt")
        info.size = len(HELLO)
        t.addfile(info, io.BytesIO(HELLO))
        if fmt == tarfile.PAX_FORMAT:
            info = tarfile.TarInfo("long-" + "n" * 120 + ".txt")
            info.size = len(HELLO)
            t.addfile(info, io.BytesIO(HELLO))
        end = t.offset
    # Two zero blocks end the archive; drop the padding to a 10 KiB record.
    return b.getvalue()[: end + 1024]


def tar_samples():
    return [tar_bytes(tarfile.USTAR_FORMAT), tar_bytes(tarfile.PAX_FORMAT)]


def gzip_samples():
    one = gzip.compress(HELLO, mtime=0)
    # With a file name, and a second member.
    b = io.BytesIO()
    with gzip.GzipFile(filename="hello.txt", mode="wb", fileobj=b, mtime=0) as g:
        g.write(HELLO * 3)
    return [one, b.getvalue() + gzip.compress(b"world\n", mtime=0)]


def bzip2_samples():
    return [bz2.compress(HELLO), bz2.compress(HELLO * 50) + bz2.compress(b"world\n")]


def xz_samples():
    return [
        lzma.compress(HELLO, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64),
        lzma.compress(HELLO * 20, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    ]


def lzma_samples():
    return [lzma.compress(HELLO, format=lzma.FORMAT_ALONE)]


def zstd_samples():
    # Frame with a raw block and a single-segment content size, then a
    # frame with an RLE block (no stdlib zstd writer).
    magic = b"\x28\xb5\x2f\xfd"
    raw = magic + bytes([0x20, len(HELLO)])
    raw += ((len(HELLO) << 3) | 1).to_bytes(3, "little") + HELLO
    rle = magic + bytes([0x20, 40]) + ((40 << 3) | 0b011).to_bytes(3, "little") + b"a"
    return [raw, raw + rle]


def cpio_newc(members, magic=b"070701"):
    out = b""
    ino = 1
    for name, data, mode in members + [(b"TRAILER!!!", b"", 0)]:
        name = name + b"\0"
        check = sum(data) & 0xFFFFFFFF if magic == b"070702" else 0
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), check]
        hdr = magic + b"".join(b"%08X" % f for f in fields)
        out += hdr + name
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
        ino += 1
    return out


def cpio_odc(members):
    out = b""
    for name, data, mode in members + [(b"TRAILER!!!", b"", 0)]:
        name = name + b"\0"
        out += b"070707" + b"%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o" % (
            0, 1, mode, 0, 0, 1, 0, 0, len(name), len(data))
        out += name + data
    return out


def cpio_samples():
    files = [(b"dir", b"", 0o040755), (b"dir/hello.txt", HELLO, 0o100644)]
    return [cpio_newc(files), cpio_newc(files, b"070702"), cpio_odc(files)]


def pdf_bytes(objects):
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return out


def stream(dictionary, data):
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


def pdf_samples():
    page = b"BT /F1 12 Tf 72 712 Td (hello) Tj ET"
    flate = stream(b"/Filter /FlateDecode", zlib.compress(page))
    simple = pdf_bytes([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
        flate,
    ])
    # An embedded file, a JavaScript action and an ASCIIHex stream.
    attach = pdf_bytes([
        b"<< /Type /Catalog /Names << /EmbeddedFiles 2 0 R >> "
        b"/OpenAction << /S /JavaScript /JS (app.alert\\('hello'\\);) >> >>",
        b"<< /Names [(hello.txt) 3 0 R] >>",
        b"<< /Type /Filespec /F (hello.txt) /EF << /F 4 0 R >> >>",
        stream(b"/Type /EmbeddedFile /Filter /FlateDecode",
               zlib.compress(HELLO)),
        stream(b"/Filter /ASCIIHexDecode", binascii.hexlify(HELLO) + b">"),
    ])
    # An object stream.
    objstm_body = b"5 0 (hello)"
    objstm = pdf_bytes([
        b"<< /Type /Catalog >>",
        stream(b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode",
               zlib.compress(objstm_body)),
    ])
    return [simple, attach, objstm]


def lpstr(s):
    return struct.pack("<I", len(s) + 1) + s + b"\0"


def rtf_samples():
    native = HELLO
    ole1 = b"\x01\x05\x00\x00\x02\x00\x00\x00" + lpstr(b"Package") + lpstr(b"") + lpstr(b"")
    tmp = b"C:\\Temp\\hello.txt\0"
    package = (b"\x02\x00hello.txt\0C:\\hello.txt\0\x00\x00\x03\x00"
               + struct.pack("<I", len(tmp)) + tmp + struct.pack("<I", len(native)) + native)
    ole1 += struct.pack("<I", len(package)) + package
    hexed = binascii.hexlify(ole1)
    lines = b"\r\n".join(hexed[i:i + 64] for i in range(0, len(hexed), 64))
    one = (b"{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\pard Hello\\par{\\object\\objemb"
           b"{\\*\\objclass Package}{\\*\\objdata " + lines + b"}}\\par}")
    two = (b"{\\rtf1{\\*\\datastore 68656c6c6f0a}{\\object{\\*\\objdata \\bin%d " % len(ole1)
           + ole1 + b"}}}")
    return [one, two]


BINHEX_ALPHABET = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr"


def binhex_bytes(name, data, rsrc=b""):
    def crc(b):
        return struct.pack(">H", binascii.crc_hqx(b, 0))

    hdr = bytes([len(name)]) + name + b"\0" + b"TEXTttxt" + b"\0\0"
    hdr += struct.pack(">II", len(data), len(rsrc))
    raw = hdr + crc(hdr) + data + crc(data) + rsrc + crc(rsrc)
    # Run-length encoding: 0x90 is the escape (a literal 0x90 is 90 00);
    # runs of more than three bytes become <byte> 90 <count>.
    rle = bytearray()
    i = 0
    while i < len(raw):
        b = raw[i]
        n = 1
        while i + n < len(raw) and raw[i + n] == b and n < 255:
            n += 1
        lit = bytes([b, 0]) if b == 0x90 else bytes([b])
        if n > 3:
            rle += lit + bytes([0x90, n])
        else:
            rle += lit * n
        i += n
    text = bytearray()
    for j in range(0, len(rle), 3):
        chunk = rle[j:j + 3]
        v = int.from_bytes(chunk + b"\0" * (3 - len(chunk)), "big")
        for k in range(len(chunk) + 1):
            text.append(BINHEX_ALPHABET[(v >> (18 - 6 * k)) & 63])
    body = b":" + bytes(text) + b":"
    lines = b"\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return b"(This file must be converted with BinHex 4.0)\n\n" + lines + b"\n"


def binhex_samples():
    return [binhex_bytes(b"hello.txt", HELLO * 3),
            binhex_bytes(b"runs.bin", b"\x90" + b"a" * 40 + HELLO, b"rsrc")]


def uu_bytes(name, data):
    out = b"begin 644 " + name + b"\n"
    for i in range(0, len(data), 45):
        out += binascii.b2a_uu(data[i:i + 45])
    return out + b"`\nend\n"


def uuencode_samples():
    return [uu_bytes(b"hello.txt", HELLO),
            b"Some text before.\n\n" + uu_bytes(b"a.txt", HELLO * 10) + b"\n"
            + uu_bytes(b"b.txt", b"world\n")]


def mail_bytes():
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = "alice@example.com"
    m["To"] = "bob@example.com"
    m["Subject"] = "hello"
    m["Date"] = "Thu, 01 Jan 2026 00:00:00 +0000"
    m["Message-ID"] = "<1@example.com>"
    m.set_content("hello\n")
    m.add_alternative("<html><body><p>hello</p></body></html>", subtype="html")
    m.add_attachment(HELLO, maintype="application", subtype="octet-stream",
                     filename="hello.bin")
    m.add_attachment(b"hello quoted=\n", maintype="text", subtype="plain",
                     filename="q.txt", cte="quoted-printable")
    # Fixed boundaries, so that the seeds are the same on every run.
    for i, part in enumerate(p for p in m.walk() if p.is_multipart()):
        part.set_boundary(f"=-=hello-boundary-{i}=-=")
    return bytes(m)


def plain_mail(n):
    return (b"From: a%d@example.com\r\nTo: b@example.com\r\nSubject: hi %d\r\n"
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            % (n, n) + binascii.b2a_base64(HELLO))


# Header blocks that mail software reads differently (see
# docs/formats/mail.md), each with the body delimited by its second item.
MALFORMED_MAIL_HEADERS = [
    (b'Content-Type: multipart/mixed; boundary="decoy"\n'
     b'Content-Type: multipart/mixed; boundary="real"', b"real"),
    (b'Content-Type: multipart/mixed; boundary="decoy"; boundary="real"', b"real"),
    (b'Content-(x)Type (y): multipart/mixed (z); boundary=(c)"real"(d)', b"real"),
    (b"Content-Type: multipart/mixed;; boundary=real", b"real"),
    (b"Content-Type: multipart/mixed boundary=real", b"real"),
    (b"Content-Type: multipart/mixed\nContent-Disposition: inline; boundary=real", b"real"),
    (b"Content-Type: multipart/mixed", b"real"),
    (b"Content-Type: multipart/mixed; boundary=re(al)", b"re(al)"),
    (b"Content-Type: multipart/mixed; boundary*0=re; boundary*1=al", b"real"),
]


def malformed_mail(top, boundary):
    return (b"From: a@example.com\nTo: b@example.com\nSubject: hi\n" + top
            + b"\n\npreamble\n--" + boundary + b"\nContent-Type: text/plain\n\nhello\n--"
            + boundary + b"\nContent-Type: application/octet-stream\n"
            b"Content-Transfer-Encoding: (x) base64\n\n"
            + binascii.b2a_base64(HELLO) + b"--" + boundary + b"--\n")


def mail_samples():
    return [mail_bytes(), plain_mail(1)] + [
        malformed_mail(top, b) for top, b in MALFORMED_MAIL_HEADERS]


def mbox_samples():
    sep = b"From alice@example.com Thu Jan  1 00:00:00 2026\n"
    msgs = [plain_mail(1).replace(b"\r\n", b"\n"),
            mail_bytes().replace(b"\r\n", b"\n")]
    return [sep + msgs[0] + b"\n" + sep + msgs[1] + b"\n"]


def html_samples():
    b64 = binascii.b2a_base64(HELLO, newline=False)
    one = (b"<!DOCTYPE html>\n<html><head><title>hello</title></head><body>\n"
           b"<a href=\"data:text/plain;base64," + b64 + b"\" download=\"hello.txt\">x</a>\n"
           b"<img src='data:image/png;base64,iVBORw0KGgo='>\n"
           b"<iframe src=\"data:text/html,%3Cb%3Ehello%3C%2Fb%3E\"></iframe>\n"
           b"</body></html>\n")
    two = (b"<script>var u = \"data:application/octet-stream;base64,"
           + binascii.b2a_base64(HELLO * 5, newline=False) + b"\";</script>\n")
    return [one, two]


# OneNote for the web (MS-ONESTORE 2.8 packaging around an MS-FSSHTTPB data
# element package): an object group with an embedded file node naming the
# first file (EmbeddedFileName, EmbeddedFileContainer) and one Object Data
# BLOB declaration and reference per file, then one Object Data BLOB data
# element per file. Headers are 16-bit where they fit, numbers as short as
# they can be, as OneNote writes them.
def fss_compact(v):
    if v == 0:
        return b"\0"
    for width in range(1, 8):
        if v < 1 << (7 * width):
            return ((v << width) | (1 << (width - 1))).to_bytes(width, "little")
    return b"\x80" + struct.pack("<Q", v)


def fss_exguid(n, seed):
    guid = bytes((seed * 7 + i) & 0xFF for i in range(16))
    if n < 32:
        return bytes([n << 3 | 4]) + guid
    if n < 1 << 10:
        return struct.pack("<H", n << 6 | 0x20) + guid
    if n < 1 << 17:
        return (n << 7 | 0x40).to_bytes(3, "little") + guid
    return b"\x80" + struct.pack("<I", n) + guid


def fss_object(ty, body, compound=False):
    c = 4 if compound else 0
    if ty < 0x40 and len(body) < 0x80:
        return struct.pack("<H", len(body) << 9 | ty << 3 | c) + body
    return struct.pack("<I", len(body) << 17 | ty << 3 | c | 2) + body


def fss_end(ty):
    return bytes([ty << 2 | 1]) if ty < 0x40 else struct.pack("<H", ty << 2 | 3)


def fss_element(eid, kind, children):
    head = fss_object(0x01, eid + b"\0" + fss_compact(kind), compound=True)
    return head + children + fss_end(0x01)


def onenote_web_bytes(named, files):
    node, decls, datas, blobs = fss_exguid(1, 1), b"", b"", b""
    name = named.encode("utf-16-le") + b"\0\0"
    props = (struct.pack("<II", 1 | 1 << 31, 1) + struct.pack("<H", 2)
             + struct.pack("<II", 0x20001D9B, 0x1C001D9C)
             + struct.pack("<I", len(name)) + name)

    def declare(oid, partition, size, refs):
        return fss_object(0x18, oid + b"".join(fss_compact(v) for v in (partition, size, refs, 0)))

    def data(refs, body):
        return fss_object(0x16, fss_compact(len(refs)) + b"".join(refs) + b"\0"
                          + fss_compact(len(body)) + body)

    decls += declare(node, 4, 4, 0) + declare(node, 1, len(props), 1)
    datas += data([], struct.pack("<I", 0x00060035))
    datas += data([fss_exguid(100, 2)], props)
    for k, content in enumerate(files):
        container, blob = fss_exguid(100 + k, 2), fss_exguid(70000 + k, 3)
        decls += fss_object(0x05, container + blob + b"\x05\x01\x01")
        datas += fss_object(0x1C, b"\0\0" + blob)
        # The BLOB holds the file as a binary item: its length, then it.
        item = fss_compact(len(content)) + content
        blobs += fss_element(blob, 0x0A, fss_object(0x02, item))
    group = (fss_object(0x1D, b"", True) + decls + fss_end(0x1D)
             + fss_object(0x1E, b"", True) + datas + fss_end(0x1E))
    package = (fss_object(0x15, b"\0", True)
               + fss_element(fss_exguid(5000000, 4), 0x05, group) + blobs + fss_end(0x15))
    # {7B5C52E4-D88C-4DA7-AEB1-5378D02996D3}, then guidFile and
    # guidLegacyFileVersion, then {638DE92F-A6D4-4BC1-9A36-B3FC2511A5B7}.
    head = (bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3") + bytes(range(32))
            + bytes.fromhex("2fe98d63d4a6c14b9a36b3fc2511a5b7") + b"\0" * 4)
    # {1F937CB4-B26F-445F-B9F8-17E20160E461}: a .one section.
    schema = bytes.fromhex("b47c931f6fb25f44b9f817e20160e461")
    return (head + fss_object(0x7A, fss_exguid(1, 5) + schema, compound=True)
            + package + fss_end(0x7A))


def onenote_samples():
    return [onenote_web_bytes("hello.txt", [HELLO, b"world\n" * 40])]


GENERATORS = {
    "fmt_zip": zip_samples,
    "fmt_gzip": gzip_samples,
    "fmt_bzip2": bzip2_samples,
    "fmt_xz": xz_samples,
    "fmt_lzma": lzma_samples,
    "fmt_zstd": zstd_samples,
    "fmt_tar": tar_samples,
    "fmt_cpio": cpio_samples,
    "fmt_pdf": pdf_samples,
    "fmt_rtf": rtf_samples,
    "fmt_binhex": binhex_samples,
    "fmt_uuencode": uuencode_samples,
    "fmt_mail": mail_samples,
    "fmt_mbox": mbox_samples,
    "fmt_html": html_samples,
    "fmt_onenote": onenote_samples,
}


def write(directory, data):
    assert len(data) <= 4096, (directory, len(data))
    os.makedirs(directory, exist_ok=True)
    # Named by content, as libFuzzer names corpus files.
    path = os.path.join(directory, hashlib.sha1(data).hexdigest())
    with open(path, "wb") as f:
        f.write(data)
    return path


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    containers = os.path.join(corpus, "containers")
    for target, gen in GENERATORS.items():
        for data in gen():
            path = write(os.path.join(corpus, target), data)
            os.makedirs(containers, exist_ok=True)
            shutil.copy(path, containers)
        print(f"{target}: {len(gen())} seed(s)")


if __name__ == "__main__":
    main()
