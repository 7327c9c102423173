//! 7z archives, through `sevenz-rust2`: LZMA, LZMA2, PPMd, bzip2, deflate,
//! copy, the BCJ/BCJ2/delta filters and AES-256 encryption.
//!
//! Blocks (folders) are decoded one after the other, members of a solid
//! block in sequence; every member goes through [`Ctx::expand`]. The
//! packed bytes a member consumed are counted by the reader the archive is
//! read through (the decoders pull packed bytes from it as they go), so the
//! ratio check sees the packed share of each member of a solid block.

use std::cell::Cell;
use std::io::{self, Cursor, Read, Seek, SeekFrom};

use sevenz_rust2::{Archive, ArchiveEntry, BlockDecoder, EncoderMethod, Error, Password};

use crate::{Ctx, Entry, Flow, Issue, Sink};

const SIGNATURE: &[u8; 6] = b"7z\xBC\xAF\x27\x1C";
/// Memory one decoder's dictionary or model (and one header buffer) may
/// take. 7-Zip's largest preset uses a 64 MiB dictionary.
const MEMORY_LIMIT_KB: usize = 256 << 10;
/// Bytes decoded from the first member of an encrypted block to tell a
/// right password from a wrong one.
const PASSWORD_PROBE: u64 = 1 << 20;

pub(crate) fn detect(data: &[u8]) -> bool {
    data.len() >= 32 && data.starts_with(SIGNATURE) && data[6] == 0
}

/// The archive bytes, counting what is read into a shared cell.
struct Source<'d, 'c> {
    cur: Cursor<&'d [u8]>,
    read: &'c Cell<u64>,
}

impl Read for Source<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.cur.read(buf)?;
        self.read.set(self.read.get().saturating_add(n as u64));
        Ok(n)
    }
}

impl Seek for Source<'_, '_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.cur.seek(pos)
    }
}

fn password(p: &[u8]) -> Password {
    Password::new(&String::from_utf8_lossy(p))
}

/// Reads the header, trying the passwords when it is encrypted.
fn open(src: &mut Source<'_, '_>, ctx: &Ctx) -> Result<(Archive, Password), Issue> {
    let empty = Password::empty();
    match Archive::read_with_memory_limit(src, &empty, MEMORY_LIMIT_KB) {
        Ok(a) => return Ok((a, empty)),
        Err(Error::PasswordRequired) => {}
        Err(e) => return Err(Issue::corrupt(format!("7z: cannot read the header: {e}"))),
    }
    for p in &ctx.limits().passwords {
        ctx.check_time()?;
        let pw = password(p);
        if let Ok(a) = Archive::read_with_memory_limit(src, &pw, MEMORY_LIMIT_KB) {
            return Ok((a, pw));
        }
    }
    Err(Issue::encrypted(
        "7z: the header (member list) is encrypted and no password given opened it",
    ))
}

fn is_encrypted(archive: &Archive, block: usize) -> bool {
    archive.blocks.get(block).is_some_and(|b| {
        b.coders
            .iter()
            .any(|c| c.encoder_method_id() == EncoderMethod::ID_AES256_SHA256)
    })
}

/// True when the member is an object worth handing out (not a directory
/// or an anti-item).
fn is_member(e: &ArchiveEntry) -> bool {
    !e.is_directory && !e.is_anti_item
}

/// The first password that decodes the start of `block` without error.
fn find_password(
    archive: &Archive,
    block: usize,
    src: &mut Source<'_, '_>,
    ctx: &Ctx,
) -> Result<Option<Password>, Issue> {
    for p in &ctx.limits().passwords {
        ctx.check_time()?;
        let pw = password(p);
        let dec = BlockDecoder::new_with_memory_limit(1, MEMORY_LIMIT_KB, block, archive, &pw, src);
        let probe = dec.for_each_entries(&mut |_, r| {
            io::copy(&mut r.take(PASSWORD_PROBE), &mut io::sink())?;
            Ok(false)
        });
        if probe.is_ok() {
            return Ok(Some(pw));
        }
    }
    Ok(None)
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let packed = Cell::new(0u64);
    let mut src = Source {
        cur: Cursor::new(data),
        read: &packed,
    };
    let (archive, header_pw) = open(&mut src, ctx)?;
    let mut problem: Option<Issue> = None;

    for block in 0..archive.blocks.len() {
        ctx.check_time()?;
        let members: Vec<(String, bool)> = {
            let dec = BlockDecoder::new(1, block, &archive, &header_pw, &mut src);
            dec.entries()
                .iter()
                .map(|e| (e.name.clone(), is_member(e)))
                .collect()
        };
        let mut pw = header_pw.clone();
        if is_encrypted(&archive, block) && header_pw.is_empty() {
            match find_password(&archive, block, &mut src, ctx)? {
                Some(p) => pw = p,
                None => {
                    for (name, _) in members.iter().filter(|m| m.1) {
                        let issue = Issue::encrypted(format!(
                            "7z: member '{name}' is encrypted (AES-256) and no password given opened it"
                        ));
                        if sink(ctx, Entry::failed(name.clone(), issue)) == Flow::Stop {
                            return Ok(());
                        }
                    }
                    continue;
                }
            }
        }

        let mut seen = 0usize;
        let mut stop = false;
        let mut skipped: Option<Issue> = None;
        let dec =
            BlockDecoder::new_with_memory_limit(1, MEMORY_LIMIT_KB, block, &archive, &pw, &mut src);
        let result = dec.for_each_entries(&mut |entry, reader| {
            seen += 1;
            if !is_member(entry) {
                return Ok(true);
            }
            packed.set(0);
            let expanded = ctx.expand(reader, &packed);
            let cut = expanded.cut.clone();
            if sink(ctx, Entry::expanded(entry.name.clone(), expanded)) == Flow::Stop {
                stop = true;
                return Ok(false);
            }
            if let Some(cut) = cut {
                // The rest of the block would have to be decoded through
                // this member: give up on the block.
                skipped = Some(cut);
                return Ok(false);
            }
            Ok(true)
        });
        if stop {
            return Ok(());
        }
        let why = match (result, skipped) {
            (_, Some(cut)) => Some(Issue::corrupt(format!(
                "7z: not decoded: an earlier member of the same solid block was cut short ({cut})"
            ))),
            (Err(e @ (Error::PasswordRequired | Error::MaybeBadPassword(_))), None) => Some(
                Issue::encrypted(format!("7z: block {block} cannot be decrypted: {e}")),
            ),
            (Err(e), None) => {
                let issue = Issue::corrupt(format!("7z: block {block} cannot be decoded: {e}"));
                problem.get_or_insert(issue.clone());
                Some(issue)
            }
            (Ok(_), None) => None,
        };
        if let Some(why) = why {
            // Members the decoder never reached still have names worth
            // scanning.
            for (name, _) in members.iter().skip(seen).filter(|m| m.1) {
                if sink(ctx, Entry::failed(name.clone(), why.clone())) == Flow::Stop {
                    return Ok(());
                }
            }
        }
    }

    // Members without data (empty files) sit in no block.
    for (i, file) in archive.files.iter().enumerate() {
        let in_block = archive
            .stream_map
            .file_block_index
            .get(i)
            .copied()
            .flatten()
            .is_some();
        if in_block || !is_member(file) {
            continue;
        }
        if sink(ctx, Entry::new(file.name.clone(), &[][..])) == Flow::Stop {
            return Ok(());
        }
    }
    match problem {
        Some(issue) => Err(issue),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, random_flips, walk, walk_with};
    use crate::{IssueKind, Limits};
    use sevenz_rust2::encoder_options::AesEncoderOptions;
    use sevenz_rust2::{ArchiveWriter, EncoderConfiguration, SourceReader};

    /// A 7z of `files`, one block each unless `solid`; encrypted with
    /// `password` (and its header too, with `header`) when given.
    fn sevenz(
        files: &[(&str, &[u8])],
        solid: bool,
        password: Option<&str>,
        header: bool,
    ) -> Vec<u8> {
        let mut w = ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
        if let Some(p) = password {
            w.set_content_methods(vec![
                AesEncoderOptions::new(p.into()).into(),
                EncoderConfiguration::new(EncoderMethod::LZMA2),
            ]);
            w.set_encrypt_header(header);
        }
        if solid {
            let entries = files
                .iter()
                .map(|(n, _)| ArchiveEntry::new_file(n))
                .collect();
            let readers = files.iter().map(|(_, d)| SourceReader::from(*d)).collect();
            w.push_archive_entries(entries, readers).unwrap();
        } else {
            for (n, d) in files {
                w.push_archive_entry(ArchiveEntry::new_file(n), Some(*d))
                    .unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn nested_7z_finds_eicar() {
        let inner = sevenz(
            &[("readme.txt", b"hello"), ("eicar.com", EICAR)],
            false,
            None,
            false,
        );
        let outer = sevenz(&[("inner.7z", &inner)], false, None, false);
        assert!(detect(&outer));
        let w = walk(&outer, "outer.7z");
        // Small members are stored as LZMA2 raw chunks: the inner archive
        // itself holds EICAR, so look for the exact member.
        let found = w.found.iter().find(|f| f.data == EICAR).unwrap();
        assert_eq!(found.chain, "inner.7z!eicar.com");
        assert_eq!(
            w.chains(),
            ["inner.7z", "inner.7z!readme.txt", "inner.7z!eicar.com"]
        );
        assert!(w.issues.is_empty(), "{:?}", w.issues);
    }

    #[test]
    fn solid_block_in_order() {
        let data = sevenz(
            &[("a", b"first"), ("b/../../c\x1b[0m", EICAR), ("d", b"")],
            true,
            None,
            false,
        );
        let w = walk(&data, "s.7z");
        assert_eq!(w.chains(), ["a", "b/../../c\x1b[0m", "d"]);
        assert_eq!(w.found[0].data, b"first");
        assert_eq!(w.found[1].data, EICAR);
    }

    #[test]
    fn encrypted_members_need_a_password() {
        let data = sevenz(&[("eicar.com", EICAR)], false, Some("infected"), false);
        let w = walk(&data, "e.7z");
        assert_eq!(w.chains(), ["eicar.com"]);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Encrypted
        );

        let limits = Limits {
            passwords: vec![b"wrong".to_vec(), b"infected".to_vec()],
            ..Limits::default()
        };
        let w = walk_with(&data, "e.7z", &limits);
        assert_eq!(w.containing(EICAR).unwrap().chain, "eicar.com");
        assert!(w.found[0].issue.is_none());
    }

    #[test]
    fn encrypted_header_needs_a_password() {
        let data = sevenz(&[("eicar.com", EICAR)], false, Some("infected"), true);
        let w = walk(&data, "e.7z");
        assert!(w.found.is_empty());
        assert_eq!(w.issues[0].1.kind, IssueKind::Encrypted);

        let limits = Limits {
            passwords: vec![b"nope".to_vec(), b"infected".to_vec()],
            ..Limits::default()
        };
        let w = walk_with(&data, "e.7z", &limits);
        assert_eq!(w.containing(EICAR).unwrap().chain, "eicar.com");
    }

    #[test]
    fn big_member_is_cut_and_rest_of_block_reported() {
        let zeros = vec![0u8; 3 << 20];
        let data = sevenz(&[("zeros", &zeros), ("after", EICAR)], true, None, false);
        assert!(data.len() < 10_000);
        let limits = Limits {
            max_member_size: 1 << 20,
            ..Limits::default()
        };
        let w = walk_with(&data, "z.7z", &limits);
        assert_eq!(w.chains(), ["zeros", "after"]);
        assert_eq!(w.found[0].data.len(), 1 << 20);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-filesize")
        );
        assert!(w.found[1].data.is_empty());
        assert!(w.found[1].issue.is_some());

        // The budget ends the whole walk.
        let limits = Limits {
            max_expanded: 1 << 20,
            ..Limits::default()
        };
        let w = walk_with(&data, "z.7z", &limits);
        assert_eq!(w.found.len(), 1);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-scansize")
        );
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        let inner = sevenz(&[("eicar.com", EICAR), ("x", b"xyz")], true, None, false);
        let data = sevenz(&[("inner.7z", &inner), ("y", b"hello")], false, None, false);
        for cut in 0..data.len() {
            let w = walk(&data[..cut], "t.7z");
            assert!(w.found.len() <= 4);
        }
        random_flips(&data, 0x9e37_79b9, 3000, 3, |d| {
            let _ = walk(d, "f.7z");
        });
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"hello world, this is plain text and nothing more"));
        assert!(!detect(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"));
        assert!(!detect(SIGNATURE));
    }
}
