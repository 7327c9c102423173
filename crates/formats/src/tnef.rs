//! TNEF (`winmail.dat`, `application/ms-tnef`): the attachments Outlook
//! wraps for other mailers.
//!
//! The stream is a signature, a key, and a list of attributes (level,
//! id, length, data, checksum). Attachments start with
//! `attAttachRenddata`; their content is `attAttachData` (or, failing
//! that, `PR_ATTACH_DATA_BIN` / `PR_ATTACH_DATA_OBJ` in the attachment's
//! MAPI properties), their name the MAPI long file name, else the MAPI
//! short one, else `attAttachTransportFilename`, else `attAttachTitle`.
//! Contents are slices of the input.

use crate::mail::utf16;
use crate::{Ctx, Entry, Flow, Issue, Sink};

const SIGNATURE: u32 = 0x223E_9F78;
const LVL_ATTACHMENT: u8 = 2;
const ATT_ATTACH_DATA: u16 = 0x800F;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_TRANSPORT_FILENAME: u16 = 0x9001;
const ATT_ATTACH_RENDDATA: u16 = 0x9002;
const ATT_ATTACHMENT: u16 = 0x9005;
const PR_ATTACH_DATA: u16 = 0x3701;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
/// MAPI values read per property (multi-valued properties).
const MAX_VALUES: u32 = 4096;

/// The TNEF signature at offset 0 and a plausible first attribute level.
pub(crate) fn detect(data: &[u8]) -> bool {
    le32(data, 0) == Some(SIGNATURE) && data.get(6).is_some_and(|&l| l == 1 || l == 2)
}

fn le16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// What one attachment has gathered so far.
#[derive(Default)]
struct Attachment<'a> {
    data: Option<&'a [u8]>,
    mapi_data: Option<&'a [u8]>,
    long_name: Option<String>,
    short_name: Option<String>,
    transport_name: Option<String>,
    title: Option<String>,
    /// The data attribute was cut short.
    truncated: bool,
}

impl<'a> Attachment<'a> {
    fn entry(self, n: u32) -> Option<Entry<'a>> {
        let data = self.data.or(self.mapi_data)?;
        let name = [
            self.long_name,
            self.short_name,
            self.transport_name,
            self.title,
        ]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| format!("attachment-{n}"));
        let mut e = Entry::new(name, data);
        if self.truncated {
            e.issue = Some(Issue::corrupt(format!(
                "tnef: attachment {n} holds {} bytes, less than its header says (truncated)",
                data.len()
            )));
        }
        Some(e)
    }
}

/// An 8-bit string attribute, without its trailing NULs.
fn ansi(b: &[u8]) -> String {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn wide(b: &[u8]) -> String {
    let s = utf16(b, false);
    s.trim_end_matches('\0').to_string()
}

/// Reads the MAPI property list of an `attAttachment` attribute into
/// `att`. Stops quietly at a property type it does not know the size of,
/// or at the end of the data.
fn read_mapi<'a>(d: &'a [u8], att: &mut Attachment<'a>) {
    let Some(count) = le32(d, 0) else { return };
    let mut p = 4usize;
    for _ in 0..count {
        let (Some(ptype), Some(pid)) = (le16(d, p), le16(d, p + 2)) else {
            return;
        };
        p = p.saturating_add(4);
        if pid >= 0x8000 {
            // Named property: GUID, kind, then an id or a name.
            p = p.saturating_add(16);
            let Some(kind) = le32(d, p) else { return };
            p = p.saturating_add(4);
            if kind == 0 {
                p = p.saturating_add(4);
            } else {
                let Some(len) = le32(d, p) else { return };
                p = p
                    .saturating_add(4)
                    .saturating_add((len as usize).next_multiple_of(4));
            }
        }
        let base = ptype & 0x0fff;
        let multi = ptype & 0x1000 != 0;
        let variable = matches!(base, 0x001E | 0x001F | 0x0102 | 0x000D);
        let values = if multi || variable {
            let Some(c) = le32(d, p) else { return };
            p = p.saturating_add(4);
            c
        } else {
            1
        };
        if values > MAX_VALUES {
            return;
        }
        for _ in 0..values {
            if variable {
                let Some(len) = le32(d, p) else { return };
                let start = p.saturating_add(4);
                let Some(v) = start
                    .checked_add(len as usize)
                    .and_then(|end| d.get(start..end))
                else {
                    return;
                };
                match (pid, base) {
                    (PR_ATTACH_LONG_FILENAME, 0x001E) => att.long_name = Some(ansi(v)),
                    (PR_ATTACH_LONG_FILENAME, 0x001F) => att.long_name = Some(wide(v)),
                    (PR_ATTACH_FILENAME, 0x001E) => att.short_name = Some(ansi(v)),
                    (PR_ATTACH_FILENAME, 0x001F) => att.short_name = Some(wide(v)),
                    (PR_ATTACH_DATA, 0x0102) => att.mapi_data = Some(v),
                    // An embedded object starts with the 16-byte IID.
                    (PR_ATTACH_DATA, 0x000D) => att.mapi_data = v.get(16..),
                    _ => {}
                }
                p = start.saturating_add((len as usize).next_multiple_of(4));
            } else {
                let size = match base {
                    0x0001..=0x0004 | 0x000A | 0x000B => 4,
                    0x0005..=0x0007 | 0x0014 | 0x0040 => 8,
                    0x0048 => 16,
                    _ => return,
                };
                p = p.saturating_add(size);
            }
        }
        if p > d.len() {
            return;
        }
    }
}

/// Unpacks every attachment that has content, in order; attachments are
/// numbered from 1 (`attachment-N` when no name is stored).
pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    if le32(data, 0) != Some(SIGNATURE) {
        return Err(Issue::corrupt("tnef: no TNEF signature"));
    }
    let mut p = 6usize;
    let mut cur: Option<Attachment<'_>> = None;
    let mut n = 0u32;
    let mut bad_checksums = 0u32;
    let mut problem: Option<Issue> = None;
    let mut emit = |ctx: &mut Ctx, att: Option<Attachment<'_>>, n: u32| -> Flow {
        match att.and_then(|a| a.entry(n)) {
            Some(e) => sink(ctx, e),
            None => Flow::Continue,
        }
    };
    while p < data.len() {
        ctx.check_time()?;
        let (Some(&level), Some(attr), Some(len)) =
            (data.get(p), le32(data, p + 1), le32(data, p + 5))
        else {
            problem = Some(Issue::corrupt(format!(
                "tnef: truncated attribute header at offset {p}"
            )));
            break;
        };
        let start = p + 9;
        let end = start.saturating_add(len as usize);
        let body = &data[start.min(data.len())..end.min(data.len())];
        let truncated = end > data.len();
        if !truncated {
            match le16(data, end) {
                Some(sum) => {
                    let calc = body.iter().fold(0u16, |a, &b| a.wrapping_add(u16::from(b)));
                    if calc != sum {
                        bad_checksums += 1;
                    }
                }
                None => bad_checksums += 1,
            }
        }
        let id = attr as u16;
        if level == LVL_ATTACHMENT {
            if id == ATT_ATTACH_RENDDATA {
                if let Some(prev) = cur.take()
                    && emit(ctx, Some(prev), n) == Flow::Stop
                {
                    return Ok(());
                }
                n += 1;
                cur = Some(Attachment::default());
            }
            let att = cur.get_or_insert_with(|| {
                n += 1;
                Attachment::default()
            });
            match id {
                ATT_ATTACH_DATA => {
                    att.data = Some(body);
                    att.truncated = truncated;
                }
                ATT_ATTACH_TITLE => att.title = Some(ansi(body)),
                ATT_ATTACH_TRANSPORT_FILENAME => att.transport_name = Some(ansi(body)),
                ATT_ATTACHMENT => read_mapi(body, att),
                _ => {}
            }
        }
        if truncated {
            problem = Some(Issue::corrupt(format!(
                "tnef: attribute at offset {p} declares {len} bytes, past the end of the data (truncated)"
            )));
            break;
        }
        p = end + 2;
    }
    if emit(ctx, cur.take(), n) == Flow::Stop {
        return Ok(());
    }
    if let Some(issue) = problem {
        return Err(issue);
    }
    if bad_checksums > 0 {
        return Err(Issue::corrupt(format!(
            "tnef: {bad_checksums} attribute checksum(s) do not match"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, each_byte_flipped, walk};
    use crate::{Format, IssueKind, identify};

    fn attr(out: &mut Vec<u8>, level: u8, id: u32, data: &[u8]) {
        out.push(level);
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        let sum = data.iter().fold(0u16, |a, &b| a.wrapping_add(u16::from(b)));
        out.extend_from_slice(&sum.to_le_bytes());
    }

    /// MAPI property list with a unicode long file name, and a named
    /// property and a fixed-size one before it to be skipped.
    fn mapi_long_name(name: &str) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&3u32.to_le_bytes());
        // PT_LONG 0x0E05 (attach method)
        m.extend_from_slice(&0x0003u16.to_le_bytes());
        m.extend_from_slice(&0x3705u16.to_le_bytes());
        m.extend_from_slice(&1u32.to_le_bytes());
        // Named string property with a name.
        m.extend_from_slice(&0x001Eu16.to_le_bytes());
        m.extend_from_slice(&0x8001u16.to_le_bytes());
        m.extend_from_slice(&[7; 16]);
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&6u32.to_le_bytes());
        m.extend_from_slice(b"n\0a\0m\0\0\0");
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&3u32.to_le_bytes());
        m.extend_from_slice(b"ab\0\0");
        // PR_ATTACH_LONG_FILENAME, PT_UNICODE
        m.extend_from_slice(&0x001Fu16.to_le_bytes());
        m.extend_from_slice(&PR_ATTACH_LONG_FILENAME.to_le_bytes());
        m.extend_from_slice(&1u32.to_le_bytes());
        let w: Vec<u8> = name
            .encode_utf16()
            .chain([0])
            .flat_map(|u| u.to_le_bytes())
            .collect();
        m.extend_from_slice(&(w.len() as u32).to_le_bytes());
        m.extend_from_slice(&w);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn tnef(atts: &[(&[u8], Option<&str>, &[u8])]) -> Vec<u8> {
        let mut t = SIGNATURE.to_le_bytes().to_vec();
        t.extend_from_slice(&0x1234u16.to_le_bytes());
        attr(&mut t, 1, 0x0008_9006, &0x0001_0000u32.to_le_bytes());
        attr(&mut t, 1, 0x0001_8004, b"Subject\0");
        for (title, long, data) in atts {
            attr(&mut t, 2, 0x0006_9002, &[0; 14]);
            attr(&mut t, 2, 0x0001_8010, title);
            attr(&mut t, 2, 0x0006_800F, data);
            if let Some(l) = long {
                attr(&mut t, 2, 0x0006_9005, &mapi_long_name(l));
            }
        }
        t
    }

    #[test]
    fn eicar_attachments_nested() {
        let inner = tnef(&[(b"EICAR~1.COM\0", Some("eicar.com"), EICAR)]);
        let outer = tnef(&[
            (b"notes.txt\0", None, b"some notes"),
            (b"", None, b"nameless"),
            (b"WINMAIL.DAT\0", Some("inner.dat"), &inner),
        ]);
        assert_eq!(identify(&outer), Some(Format::Tnef));
        let w = walk(&outer, "winmail.dat");
        assert_eq!(
            w.chains(),
            [
                "notes.txt",
                "attachment-2",
                "inner.dat",
                "inner.dat!eicar.com"
            ]
        );
        assert_eq!(w.found[3].data, EICAR);
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        // As a mail attachment.
        let m = format!(
            "From: a@example.com\nSubject: t\nContent-Type: application/ms-tnef; name=winmail.dat\n\
             Content-Transfer-Encoding: base64\n\n{}\n",
            crate::mail::tests::b64(&outer)
        );
        let w = walk(m.as_bytes(), "m.eml");
        let f = w.found.iter().find(|f| f.data == EICAR).unwrap();
        assert_eq!(f.chain, "winmail.dat!inner.dat!eicar.com");
    }

    #[test]
    fn checksum_truncation_and_flips() {
        let t = tnef(&[(b"\x1b[2J../x.exe\0", None, EICAR)]);
        let w = walk(&t, "w.dat");
        assert_eq!(w.chains(), ["\x1b[2J../x.exe"]);
        // A wrong checksum: content still handed out, reported.
        let mut bad = t.clone();
        let at = bad.windows(EICAR.len()).position(|w| w == EICAR).unwrap();
        bad[at + EICAR.len()] ^= 1;
        let w = walk(&bad, "w.dat");
        assert_eq!(w.containing(EICAR).unwrap().chain, "\x1b[2J../x.exe");
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
        // Cut in the data: partial content, flagged.
        let w = walk(&t[..at + 20], "w.dat");
        assert_eq!(w.found[0].data, &EICAR[..20]);
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
        for cut in 0..t.len() {
            let _ = walk(&t[..cut], "w.dat");
        }
        let big = tnef(&[(b"a\0", Some("b"), EICAR), (b"c\0", Some("d"), b"x")]);
        each_byte_flipped(&big, &[0x01, 0x80], |v| {
            let _ = walk(v, "w.dat");
        });
    }

    #[test]
    fn not_tnef() {
        assert!(!detect(b""));
        assert!(!detect(b"\x7fELF\x02\x01\x01\0"));
        assert!(!detect(b"\x78\x9f\x3e\x22"));
        assert!(!detect(b"\x78\x9f\x3e\x22\x00\x00\x07"));
        assert!(detect(b"\x78\x9f\x3e\x22\x00\x00\x01"));
    }
}
