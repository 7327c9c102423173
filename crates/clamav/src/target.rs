//! ClamAV target types: which kind of file a signature applies to, and a
//! small content sniffer for callers that do not know the type.

use std::fmt;

/// A ClamAV target type (`0` = any file ... `12` = Java class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetType {
    /// 0: any file.
    Any,
    /// 1: Portable Executable (32 and 64 bit).
    Pe,
    /// 2: OLE2 containers.
    Ole2,
    /// 3: HTML (normalised by ClamAV; lower-cased here).
    Html,
    /// 4: mail.
    Mail,
    /// 5: graphics.
    Graphics,
    /// 6: ELF.
    Elf,
    /// 7: ASCII text (normalised by ClamAV; lower-cased here).
    Ascii,
    /// 9: Mach-O.
    MachO,
    /// 10: PDF.
    Pdf,
    /// 11: Flash.
    Flash,
    /// 12: Java class.
    Java,
}

impl TargetType {
    /// From a signature's number; `None` for unknown or unused numbers.
    pub fn from_number(n: u32) -> Option<TargetType> {
        Some(match n {
            0 => TargetType::Any,
            1 => TargetType::Pe,
            2 => TargetType::Ole2,
            3 => TargetType::Html,
            4 => TargetType::Mail,
            5 => TargetType::Graphics,
            6 => TargetType::Elf,
            7 => TargetType::Ascii,
            9 => TargetType::MachO,
            10 => TargetType::Pdf,
            11 => TargetType::Flash,
            12 => TargetType::Java,
            _ => return None,
        })
    }

    /// ClamAV's number.
    pub fn number(self) -> u32 {
        match self {
            TargetType::Any => 0,
            TargetType::Pe => 1,
            TargetType::Ole2 => 2,
            TargetType::Html => 3,
            TargetType::Mail => 4,
            TargetType::Graphics => 5,
            TargetType::Elf => 6,
            TargetType::Ascii => 7,
            TargetType::MachO => 9,
            TargetType::Pdf => 10,
            TargetType::Flash => 11,
            TargetType::Java => 12,
        }
    }

    /// Whether ClamAV matches this target on normalised text rather than
    /// raw bytes (here: the lower-cased bytes).
    pub fn normalised(self) -> bool {
        matches!(self, TargetType::Html | TargetType::Ascii)
    }

    /// Whether a signature for `self` applies to a file of type `file`.
    pub fn applies_to(self, file: TargetType) -> bool {
        self == TargetType::Any || self == file
    }

    /// Sniffs the type of `data` from its first bytes; `Any` when unknown.
    pub fn detect(data: &[u8]) -> TargetType {
        let head = &data[..data.len().min(1024)];
        let starts = |m: &[u8]| data.starts_with(m);
        if starts(b"MZ") && crate::exe::parse_pe(data).is_some() {
            return TargetType::Pe;
        }
        if starts(b"\x7fELF") {
            return TargetType::Elf;
        }
        if starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
            return TargetType::Ole2;
        }
        if memchr::memmem::find(head, b"%PDF-").is_some() {
            return TargetType::Pdf;
        }
        if [
            &b"\xfe\xed\xfa\xce"[..],
            b"\xfe\xed\xfa\xcf",
            b"\xce\xfa\xed\xfe",
            b"\xcf\xfa\xed\xfe",
        ]
        .iter()
        .any(|m| starts(m))
        {
            return TargetType::MachO;
        }
        if starts(b"\xca\xfe\xba\xbe") {
            // Java class files and Mach-O universal binaries share this
            // magic; a universal binary has a small architecture count.
            let n = data
                .get(4..8)
                .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            return if n > 0 && n < 30 {
                TargetType::MachO
            } else {
                TargetType::Java
            };
        }
        if starts(b"FWS") || starts(b"CWS") || starts(b"ZWS") {
            return TargetType::Flash;
        }
        if starts(b"GIF8")
            || starts(b"\x89PNG")
            || starts(b"\xff\xd8\xff")
            || starts(b"BM")
            || starts(b"II*\0")
            || starts(b"MM\0*")
        {
            return TargetType::Graphics;
        }
        if head.is_empty()
            || !head
                .iter()
                .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        {
            return TargetType::Any;
        }
        let lower = head.to_ascii_lowercase();
        for m in [
            &b"from "[..],
            b"received:",
            b"return-path:",
            b"delivered-to:",
            b"message-id:",
        ] {
            if lower.starts_with(m) {
                return TargetType::Mail;
            }
        }
        for m in [
            &b"<html"[..],
            b"<!doctype html",
            b"<script",
            b"<head",
            b"<body",
        ] {
            if memchr::memmem::find(&lower, m).is_some() {
                return TargetType::Html;
            }
        }
        TargetType::Ascii
    }
}

impl fmt::Display for TargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect() {
        assert_eq!(TargetType::detect(b"\x7fELF\x02\x01"), TargetType::Elf);
        assert_eq!(TargetType::detect(b"%PDF-1.4\n"), TargetType::Pdf);
        assert_eq!(
            TargetType::detect(b"<HTML><body>x</body>"),
            TargetType::Html
        );
        assert_eq!(TargetType::detect(b"plain words\n"), TargetType::Ascii);
        assert_eq!(
            TargetType::detect(b"From a@b\nSubject: x\n"),
            TargetType::Mail
        );
        assert_eq!(TargetType::detect(b"\x00\x01\x02"), TargetType::Any);
        assert_eq!(TargetType::detect(b"MZ not really"), TargetType::Ascii);
        for n in 0..=13 {
            if let Some(t) = TargetType::from_number(n) {
                assert_eq!(t.number(), n);
            }
        }
        assert_eq!(TargetType::from_number(8), None);
    }
}
