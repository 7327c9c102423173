//! A file type by magic bytes, for the YARA external `filetype`.
//!
//! Public rule sets (Neo23x0/signature-base, written for Loki and THOR) test
//! `filetype == "EXE"` and the like; the names below follow that convention
//! so those rules mean the same here. Only the first bytes of the content
//! are looked at: this is a label for rules, not the container detection.

/// Returns the type label for content starting with `head`, or `""` when
/// nothing is recognised.
pub fn detect(head: &[u8]) -> &'static str {
    // Ordered longest/most specific first where prefixes overlap.
    const MAGIC: &[(&[u8], &str)] = &[
        (b"MDMP", "MDMP"),
        (b"MZ", "EXE"),
        (b"\x7fELF", "ELF"),
        (b"\xfe\xed\xfa\xce", "MACH-O"),
        (b"\xfe\xed\xfa\xcf", "MACH-O"),
        (b"\xce\xfa\xed\xfe", "MACH-O"),
        (b"\xcf\xfa\xed\xfe", "MACH-O"),
        (b"\xca\xfe\xba\xbe", "Java Class or DYLIB"),
        (b"dex\n", "DEX"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Office"),
        (b"PK\x03\x04", "ZIP"),
        (b"PK\x05\x06", "PKZIP"),
        (b"Rar!\x1a\x07", "RAR"),
        (b"7z\xbc\xaf\x27\x1c", "7Zip"),
        (b"\x1f\x8b\x08", "GZIP"),
        (b"BZh", "BZip2"),
        (b"\xfd7zXZ\x00", "XZ"),
        (b"\x28\xb5\x2f\xfd", "ZSTD"),
        (b"MSCF", "CAB"),
        (b"%PDF", "PDF"),
        (b"{\\rt", "RTF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE"),
        (b"L\x00\x00\x00\x01\x14\x02\x00", "LNK"),
        (b"regf", "Registry Hive"),
        (b"ElfFile\x00", "EVTX"),
        (b"\xd4\xc3\xb2\xa1", "WINPCAP"),
        (b"\xa1\xb2\xc3\xd4", "LIBPCAP"),
        (b"\x89PNG", "PNG"),
        (b"\xff\xd8\xff", "JPEG"),
        (b"GIF8", "GIF"),
        (b"<?php", "PHP"),
        (b"<%@", "ASP"),
        (b"#!/usr/bin/python", "Python"),
        (b"#!/usr/bin/env python", "Python"),
        (b"#!", "UNIX SCRIPT"),
        (b"@echo off", "BATCH"),
        (b"@ECHO OFF", "BATCH"),
        (b"Function", "VBS"),
        (b"<html", "HTML"),
        (b"<HTML", "HTML"),
        (b"<!DOCTYPE html", "HTML"),
        (b"<?xml", "XML"),
    ];
    for (magic, name) in MAGIC {
        if head.starts_with(magic) {
            return name;
        }
    }
    // tar keeps its magic at offset 257.
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return "TAR";
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn common_types() {
        assert_eq!(detect(b"MZ\x90\x00"), "EXE");
        assert_eq!(detect(b"\x7fELF\x02\x01"), "ELF");
        assert_eq!(detect(b"MDMP\x93\xa7"), "MDMP");
        assert_eq!(detect(b"%PDF-1.7"), "PDF");
        assert_eq!(detect(b"hello"), "");
        assert_eq!(detect(b""), "");
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(detect(&tar), "TAR");
    }
}
