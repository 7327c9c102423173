//! OneNote sections (`.one`): embedded files.
//!
//! Every file attached to a page is stored in a FileDataStoreObject
//! (MS-ONESTORE 2.6.13): the GUID {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC},
//! a u64 length, 12 reserved bytes, then the file's bytes. Rather than
//! walking the revision store, the file is scanned for that GUID and each
//! length checked against the bytes left, the usual lightweight approach.
//! Files are handed out as stored (no copy), named `embedded-N` from 1 in
//! file order: their names live in the page's property sets, which are
//! not parsed.

use memchr::memmem;

use crate::{Ctx, Entry, Flow, Issue, Sink};

/// {7B5C52E4-D88C-4DA7-AEB1-5378D02996D3}: a section file.
const SECTION: [u8; 16] = [
    0xE4, 0x52, 0x5C, 0x7B, 0x8C, 0xD8, 0xA7, 0x4D, 0xAE, 0xB1, 0x53, 0x78, 0xD0, 0x29, 0x96, 0xD3,
];
/// {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}: a FileDataStoreObject header.
const FILE_DATA: [u8; 16] = [
    0xE7, 0x16, 0xE3, 0xBD, 0x65, 0x26, 0x11, 0x45, 0xA4, 0xC4, 0x8D, 0x4D, 0x0B, 0x7A, 0x9E, 0xAC,
];
/// GUID, u64 length, u32 unused, u64 reserved.
const HEADER: usize = 36;

pub(crate) fn detect(data: &[u8]) -> bool {
    data.starts_with(&SECTION)
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let finder = memmem::Finder::new(&FILE_DATA);
    let mut pos = 0usize;
    let mut n = 0u64;
    while let Some(rel) = finder.find(data.get(pos..).unwrap_or(&[])) {
        ctx.check_time()?;
        let p = pos + rel;
        n += 1;
        let name = format!("embedded-{n}");
        let Some(len) = data
            .get(p + 16..p + 24)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        else {
            let issue = Issue::corrupt(format!("onenote: {name} is cut off in its header"));
            sink(ctx, Entry::failed(name, issue));
            return Err(Issue::corrupt("onenote: truncated file data object"));
        };
        let start = (p + HEADER).min(data.len());
        let avail = (data.len() - start) as u64;
        let take = len.min(avail) as usize;
        let mut entry = Entry::new(name, &data[start..start + take]);
        let short = len > avail;
        if short {
            entry.issue = Some(Issue::corrupt(format!(
                "onenote: embedded-{n} declares {len} bytes, only {avail} are left"
            )));
        }
        if sink(ctx, entry) == Flow::Stop {
            return Ok(());
        }
        if short {
            return Err(Issue::corrupt(
                "onenote: the file ends inside an embedded file",
            ));
        }
        pos = start + take;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IssueKind;
    use crate::ole::tests::build;
    use crate::testutil::{EICAR, walk};

    fn file_data(content: &[u8], declared: u64) -> Vec<u8> {
        let mut o = FILE_DATA.to_vec();
        o.extend_from_slice(&declared.to_le_bytes());
        o.extend_from_slice(&[0; 12]);
        o.extend_from_slice(content);
        o.resize(o.len().next_multiple_of(8), 0);
        // Footer {71FBA722-0F79-4A0B-BB13-899256426B24}.
        o.extend_from_slice(&[
            0x22, 0xA7, 0xFB, 0x71, 0x79, 0x0F, 0x0B, 0x4A, 0xBB, 0x13, 0x89, 0x92, 0x56, 0x42,
            0x6B, 0x24,
        ]);
        o
    }

    fn section(objects: &[Vec<u8>]) -> Vec<u8> {
        let mut f = SECTION.to_vec();
        f.resize(1024, 0);
        for o in objects {
            f.extend_from_slice(o);
            f.extend_from_slice(&[0x55; 40]);
        }
        f
    }

    #[test]
    fn embedded_files() {
        let ole = build(&[("Dir/eicar.com", EICAR)]);
        let f = section(&[file_data(b"first", 5), file_data(&ole, ole.len() as u64)]);
        assert!(detect(&f));
        let w = walk(&f, "x.one");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.found[0].chain, "embedded-1");
        assert_eq!(w.found[0].data, b"first");
        assert!(w.chains().contains(&"embedded-2!Dir/eicar.com"));
    }

    #[test]
    fn lying_lengths_and_truncation() {
        let mut f = section(&[file_data(EICAR, u64::MAX)]);
        f.truncate(f.len() - 56);
        let w = walk(&f, "x.one");
        let e = w.containing(EICAR).unwrap();
        assert_eq!(e.chain, "embedded-1");
        assert_eq!(e.issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
        let full = section(&[file_data(EICAR, EICAR.len() as u64), file_data(b"x", 1)]);
        for len in 0..full.len() {
            let _ = walk(&full[..len], "t");
        }
        for i in 0..full.len() {
            let mut m = full.clone();
            m[i] ^= 0x80;
            let _ = walk(&m, "t");
        }
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"just some text"));
        assert!(!detect(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"));
        assert!(!detect(&FILE_DATA));
    }
}
