//! ISO 9660 images: the primary volume's directory tree, Joliet names where
//! a Joliet volume exists, Rock Ridge `NM` names in the primary tree.
//!
//! File contents are stored as is: every file is a slice of the image.
//! The Joliet tree is walked first (its names are the ones Windows shows),
//! then the primary tree, which hands out only the files the Joliet tree
//! did not already point at, so a file hidden from one tree is still seen.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::{Ctx, Entry, Flow, Issue, Sink};

/// Byte offset of the first volume descriptor (sector 16 of 2048 bytes).
const VD_START: usize = 16 * 2048;
/// Sector size of the volume descriptors.
const VD_SIZE: usize = 2048;
/// Volume descriptors looked at before giving up on a terminator.
const MAX_DESCRIPTORS: usize = 64;
/// Directory depth followed (ISO 9660 allows 8, Rock Ridge more).
const MAX_DEPTH: usize = 64;
/// Directory records read in all, across both trees.
const MAX_RECORDS: u64 = 4_000_000;
/// Extents joined into one multi-extent file.
const MAX_EXTENTS: usize = 1024;

pub(crate) fn detect(data: &[u8]) -> bool {
    data.len() >= VD_START + VD_SIZE && data.get(VD_START + 1..VD_START + 6) == Some(b"CD001")
}

/// One directory record, parsed.
struct Record<'a> {
    lba: u32,
    ext_attr: u8,
    size: u32,
    flags: u8,
    id: &'a [u8],
    system_use: &'a [u8],
}

const FLAG_DIR: u8 = 0x02;
const FLAG_MULTI: u8 = 0x80;

fn parse_record(rec: &[u8]) -> Option<Record<'_>> {
    if rec.len() < 34 {
        return None;
    }
    let ext_attr = rec[1];
    let lba = u32::from_le_bytes(rec[2..6].try_into().ok()?);
    let size = u32::from_le_bytes(rec[10..14].try_into().ok()?);
    let flags = rec[25];
    let nl = rec[32] as usize;
    let id = rec.get(33..33 + nl)?;
    let su_start = 33 + nl + (1 - nl % 2);
    let system_use = rec.get(su_start..).unwrap_or(&[]);
    Some(Record {
        lba,
        ext_attr,
        size,
        flags,
        id,
        system_use,
    })
}

/// The volume: its block size and the roots of its trees.
struct Volume {
    block: u64,
    primary: Option<(u32, u32)>,
    joliet: Option<(u32, u32)>,
}

fn volume(data: &[u8]) -> Result<Volume, Issue> {
    let mut vol = Volume {
        block: 2048,
        primary: None,
        joliet: None,
    };
    for i in 0..MAX_DESCRIPTORS {
        let off = VD_START + i * VD_SIZE;
        let Some(vd) = data.get(off..off + VD_SIZE) else {
            break;
        };
        if &vd[1..6] != b"CD001" {
            break;
        }
        let kind = vd[0];
        if kind == 255 {
            break;
        }
        if kind != 1 && kind != 2 {
            continue;
        }
        let block = u16::from_le_bytes([vd[128], vd[129]]) as u64;
        let root = parse_record(&vd[156..190]).map(|r| (r.lba, r.size));
        if kind == 1 && vol.primary.is_none() {
            if !(block.is_power_of_two() && (512..=2048).contains(&block)) {
                return Err(Issue::corrupt(format!(
                    "iso9660: the primary volume descriptor declares a block size of {block} bytes"
                )));
            }
            vol.block = block;
            vol.primary = root;
        } else if kind == 2 && vol.joliet.is_none() {
            let esc = &vd[88..91];
            if esc == b"%/@" || esc == b"%/C" || esc == b"%/E" {
                vol.joliet = root;
            }
        }
    }
    if vol.primary.is_none() {
        return Err(Issue::corrupt(
            "iso9660: no primary volume descriptor in the descriptor set",
        ));
    }
    Ok(vol)
}

/// A name from a record: UCS-2 big endian on Joliet, bytes otherwise;
/// the `;1` version suffix is dropped.
fn record_name(id: &[u8], joliet: bool) -> String {
    let mut name = if joliet {
        let units: Vec<u16> = id
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(id).into_owned()
    };
    if let Some(semi) = name.rfind(';')
        && name[semi + 1..].bytes().all(|b| b.is_ascii_digit())
    {
        name.truncate(semi);
    }
    name
}

/// The Rock Ridge alternate name in a System Use area, if one is there.
/// Continuation areas (`CE`) are not followed.
fn rock_ridge_name(mut su: &[u8]) -> Option<Vec<u8>> {
    let mut name: Option<Vec<u8>> = None;
    while su.len() >= 4 {
        let len = su[2] as usize;
        if len < 4 || len > su.len() {
            break;
        }
        let (entry, rest) = su.split_at(len);
        if &entry[..2] == b"NM" && len >= 5 {
            let flags = entry[4];
            if flags & 0x06 == 0 {
                name.get_or_insert_with(Vec::new)
                    .extend_from_slice(&entry[5..]);
            }
        } else if &entry[..2] == b"ST" {
            break;
        }
        su = rest;
    }
    name.filter(|n| !n.is_empty())
}

struct Walker<'d> {
    data: &'d [u8],
    block: u64,
    records: u64,
    /// Files (first block, size) handed out from the Joliet tree.
    joliet_files: HashSet<(u64, u64)>,
    problem: Option<Issue>,
}

impl<'d> Walker<'d> {
    fn note(&mut self, issue: Issue) {
        if self.problem.is_none() {
            self.problem = Some(issue);
        }
    }

    /// The bytes of an extent, cut at the end of the image.
    fn extent(&self, lba: u64, size: u64) -> (&'d [u8], bool) {
        let start = lba.saturating_mul(self.block);
        let end = start.saturating_add(size);
        let len = self.data.len() as u64;
        let s = start.min(len) as usize;
        let e = end.min(len) as usize;
        (&self.data[s..e], end <= len)
    }

    /// Walks one tree; returns `Flow::Stop` when the sink asked to stop.
    fn tree(
        &mut self,
        root: (u32, u32),
        joliet: bool,
        ctx: &mut Ctx,
        sink: &mut Sink<'_>,
    ) -> Result<Flow, Issue> {
        let mut visited: HashSet<u32> = HashSet::new();
        let mut stack: Vec<(u32, u32, String, usize)> = vec![(root.0, root.1, String::new(), 0)];
        while let Some((lba, size, prefix, depth)) = stack.pop() {
            ctx.check_time()?;
            if !visited.insert(lba) {
                continue;
            }
            let (dir, whole) = self.extent(lba as u64, size as u64);
            if !whole {
                self.note(Issue::corrupt(format!(
                    "iso9660: directory '{prefix}' at block {lba} runs past the end of the image"
                )));
            }
            let mut subdirs = Vec::new();
            // Pending multi-extent file: name and extents so far.
            let mut multi: Option<(String, Vec<(u64, u64)>)> = None;
            let block = self.block as usize;
            let mut pos = 0usize;
            while pos < dir.len() {
                let len = dir[pos] as usize;
                if len == 0 {
                    // Records do not cross block boundaries: go to the next.
                    pos = (pos / block + 1) * block;
                    continue;
                }
                let Some(rec) = dir.get(pos..pos + len).and_then(parse_record) else {
                    self.note(Issue::corrupt(format!(
                        "iso9660: malformed directory record in '{prefix}' at offset {pos}"
                    )));
                    break;
                };
                pos += len;
                self.records += 1;
                if self.records > MAX_RECORDS {
                    return Err(Issue::limit(
                        "max-entries",
                        format!("iso9660: more than {MAX_RECORDS} directory records"),
                    ));
                }
                if rec.id == [0] || rec.id == [1] {
                    continue;
                }
                let own = if joliet {
                    record_name(rec.id, true)
                } else {
                    match rock_ridge_name(rec.system_use) {
                        Some(n) => String::from_utf8_lossy(&n).into_owned(),
                        None => record_name(rec.id, false),
                    }
                };
                let name = if prefix.is_empty() {
                    own
                } else {
                    format!("{prefix}/{own}")
                };
                if rec.flags & FLAG_DIR != 0 {
                    if depth + 1 >= MAX_DEPTH {
                        self.note(Issue::limit(
                            "max-depth",
                            format!("iso9660: directory '{name}' is nested deeper than {MAX_DEPTH} levels"),
                        ));
                    } else {
                        subdirs.push((rec.lba, rec.size, name, depth + 1));
                    }
                    continue;
                }
                let start = (rec.lba as u64).saturating_add(rec.ext_attr as u64);
                let (name, extents) = match multi.take() {
                    Some((first, mut extents)) if extents.len() < MAX_EXTENTS => {
                        extents.push((start, rec.size as u64));
                        (first, extents)
                    }
                    Some((first, extents)) => {
                        self.note(Issue::limit(
                            "max-entries",
                            format!("iso9660: '{first}' has more than {MAX_EXTENTS} extents"),
                        ));
                        (first, extents)
                    }
                    None => (name, vec![(start, rec.size as u64)]),
                };
                if rec.flags & FLAG_MULTI != 0 {
                    multi = Some((name, extents));
                    continue;
                }
                if self.file(name, &extents, joliet, ctx, sink) == Flow::Stop {
                    return Ok(Flow::Stop);
                }
            }
            if let Some((name, extents)) = multi.take()
                && self.file(name, &extents, joliet, ctx, sink) == Flow::Stop
            {
                return Ok(Flow::Stop);
            }
            // Depth first, in directory order.
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(Flow::Continue)
    }

    /// Hands out one file made of `extents` (block, size), unless it is
    /// a file of the primary tree already handed out from the Joliet tree.
    fn file(
        &mut self,
        name: String,
        extents: &[(u64, u64)],
        joliet: bool,
        ctx: &mut Ctx,
        sink: &mut Sink<'_>,
    ) -> Flow {
        let Some(&(first, size)) = extents.first() else {
            return Flow::Continue;
        };
        let key = (first, size ^ ((extents.len() as u64 - 1) << 32));
        if joliet {
            self.joliet_files.insert(key);
        } else if self.joliet_files.contains(&key) {
            return Flow::Continue;
        }
        let past_end = || {
            Issue::corrupt(format!(
                "iso9660: '{name}' runs past the end of the image; only what is there was scanned"
            ))
        };
        // One extent, or several that follow each other: a single slice.
        let contiguous = extents.windows(2).all(|w| {
            w[0].0.saturating_mul(self.block).saturating_add(w[0].1)
                == w[1].0.saturating_mul(self.block)
        });
        if contiguous {
            let total = extents.iter().fold(0u64, |a, e| a.saturating_add(e.1));
            let (slice, whole) = self.extent(first, total);
            let issue = (!whole).then(past_end);
            let entry = Entry {
                name,
                data: Cow::Borrowed(slice),
                issue,
            };
            return sink(ctx, entry);
        }
        // Scattered extents: joined into one buffer, within the limits.
        let cap = ctx.limits().max_member_size.min(ctx.budget_left());
        let mut out = Vec::new();
        let mut issue = None;
        for &(b, s) in extents {
            let (slice, whole) = self.extent(b, s);
            let room = cap.saturating_sub(out.len() as u64) as usize;
            if slice.len() > room {
                out.extend_from_slice(&slice[..room]);
                issue = Some(Issue::limit(
                    "max-filesize",
                    format!(
                        "iso9660: '{name}' is larger than {cap} bytes; only the start was scanned"
                    ),
                ));
                break;
            }
            out.extend_from_slice(slice);
            if !whole {
                issue = Some(past_end());
                break;
            }
        }
        sink(
            ctx,
            Entry {
                name,
                data: Cow::Owned(out),
                issue,
            },
        )
    }
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let vol = volume(data)?;
    let mut w = Walker {
        data,
        block: vol.block,
        records: 0,
        joliet_files: HashSet::new(),
        problem: None,
    };
    if let Some(root) = vol.joliet
        && w.tree(root, true, ctx, sink)? == Flow::Stop
    {
        return Ok(());
    }
    if let Some(root) = vol.primary
        && w.tree(root, false, ctx, sink)? == Flow::Stop
    {
        return Ok(());
    }
    match w.problem {
        Some(issue) => Err(issue),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, walk, walk_with};
    use crate::{IssueKind, Limits};

    const S: usize = 2048;

    /// A directory record.
    fn rec(lba: u32, size: u32, flags: u8, id: &[u8], su: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 33];
        r[2..6].copy_from_slice(&lba.to_le_bytes());
        r[6..10].copy_from_slice(&lba.to_be_bytes());
        r[10..14].copy_from_slice(&size.to_le_bytes());
        r[14..18].copy_from_slice(&size.to_be_bytes());
        r[25] = flags;
        r[28] = 1;
        r[32] = id.len() as u8;
        r.extend_from_slice(id);
        if id.len().is_multiple_of(2) {
            r.push(0);
        }
        r.extend_from_slice(su);
        r[0] = r.len() as u8;
        r
    }

    /// A directory extent: `.`, `..` and `records`.
    fn dir(me: u32, parent: u32, records: &[Vec<u8>]) -> Vec<u8> {
        let mut d = rec(me, S as u32, FLAG_DIR, &[0], &[]);
        d.extend(rec(parent, S as u32, FLAG_DIR, &[1], &[]));
        for r in records {
            d.extend_from_slice(r);
        }
        d
    }

    /// A volume descriptor of `kind` with the root directory at `root`.
    fn vd(kind: u8, root: u32, joliet: bool) -> Vec<u8> {
        let mut v = vec![0u8; S];
        v[0] = kind;
        v[1..6].copy_from_slice(b"CD001");
        v[6] = 1;
        v[128..130].copy_from_slice(&2048u16.to_le_bytes());
        v[130..132].copy_from_slice(&2048u16.to_be_bytes());
        if joliet {
            v[88..91].copy_from_slice(b"%/E");
        }
        let r = rec(root, S as u32, FLAG_DIR, &[0], &[]);
        v[156..156 + r.len()].copy_from_slice(&r);
        v
    }

    /// An image with `sectors` placed at their block numbers.
    fn image(sectors: &[(usize, Vec<u8>)]) -> Vec<u8> {
        let end = sectors
            .iter()
            .map(|(n, b)| n * S + b.len().div_ceil(S) * S)
            .max()
            .unwrap();
        let mut img = vec![0u8; end.max(19 * S)];
        for (n, b) in sectors {
            img[n * S..n * S + b.len()].copy_from_slice(b);
        }
        img
    }

    fn ucs2(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
    }

    /// Root (19) holding directory SUB (20) holding `file` at block 21,
    /// with an optional Joliet tree (root 40, SUB 41) naming it `jname`.
    fn iso(fname: &[u8], file: &[u8], jname: Option<&str>) -> Vec<u8> {
        let len = file.len() as u32;
        let mut sectors = vec![
            (16, vd(1, 19, false)),
            (19, dir(19, 19, &[rec(20, S as u32, FLAG_DIR, b"SUB", &[])])),
            (20, dir(20, 19, &[rec(21, len, 0, fname, &[])])),
            (21, file.to_vec()),
        ];
        let term = if let Some(j) = jname {
            sectors.push((17, vd(2, 40, true)));
            sectors.push((
                40,
                dir(40, 40, &[rec(41, S as u32, FLAG_DIR, &ucs2("Sub"), &[])]),
            ));
            sectors.push((41, dir(41, 40, &[rec(21, len, 0, &ucs2(j), &[])])));
            18
        } else {
            17
        };
        let mut t = vec![0u8; S];
        t[0] = 255;
        t[1..6].copy_from_slice(b"CD001");
        sectors.push((term, t));
        image(&sectors)
    }

    #[test]
    fn nested_iso_finds_eicar() {
        let inner = iso(b"EICAR.COM;1", EICAR, None);
        let outer = iso(b"INNER.ISO;1", &inner, None);
        assert!(detect(&outer));
        let w = walk(&outer, "outer.iso");
        // The inner image holds EICAR as is, so look for the exact member.
        let found = w.found.iter().find(|f| f.data == EICAR).unwrap();
        assert_eq!(found.chain, "SUB/INNER.ISO!SUB/EICAR.COM");
        assert_eq!(w.formats, [crate::Format::Iso9660, crate::Format::Iso9660]);
        assert!(w.issues.is_empty(), "{:?}", w.issues);
    }

    #[test]
    fn joliet_names_preferred_and_files_not_repeated() {
        let img = iso(b"EICAR.COM;1", EICAR, Some("eicar long name.com;1"));
        let w = walk(&img, "a.iso");
        assert_eq!(w.chains(), ["Sub/eicar long name.com"]);
        assert_eq!(w.found[0].data, EICAR);
    }

    #[test]
    fn file_only_in_primary_tree_still_found() {
        // The Joliet tree points at something else: the primary file is
        // handed out as well.
        let mut img = iso(b"EICAR.COM;1", EICAR, Some("decoy.txt"));
        // Point the Joliet file at block 22, size 4.
        let d = dir(41, 40, &[rec(22, 4, 0, &ucs2("decoy.txt"), &[])]);
        img[41 * S..41 * S + d.len()].copy_from_slice(&d);
        let w = walk(&img, "a.iso");
        assert_eq!(w.chains(), ["Sub/decoy.txt", "SUB/EICAR.COM"]);
    }

    #[test]
    fn rock_ridge_name() {
        let name = b"../x\x1b[31m";
        let mut nm = vec![b'N', b'M', 5 + name.len() as u8, 1, 0];
        nm.extend_from_slice(name);
        let len = EICAR.len() as u32;
        let img = image(&[
            (16, vd(1, 19, false)),
            (19, dir(19, 19, &[rec(21, len, 0, b"EICAR.COM;1", &nm)])),
            (21, EICAR.to_vec()),
        ]);
        let w = walk(&img, "a.iso");
        assert_eq!(w.chains(), ["../x\x1b[31m"]);
    }

    #[test]
    fn odd_names_come_through() {
        let img = iso(b"../\xff\xfe/abs;1", EICAR, None);
        let w = walk(&img, "a.iso");
        assert_eq!(w.chains(), ["SUB/../\u{fffd}\u{fffd}/abs"]);
    }

    #[test]
    fn directory_cycle_is_cut() {
        // SUB's records hold a directory pointing back at the root and one
        // pointing at SUB itself.
        let len = EICAR.len() as u32;
        let img = image(&[
            (16, vd(1, 19, false)),
            (19, dir(19, 19, &[rec(20, S as u32, FLAG_DIR, b"SUB", &[])])),
            (
                20,
                dir(
                    20,
                    19,
                    &[
                        rec(19, S as u32, FLAG_DIR, b"LOOP", &[]),
                        rec(20, S as u32, FLAG_DIR, b"SELF", &[]),
                        rec(21, len, 0, b"E;1", &[]),
                    ],
                ),
            ),
            (21, EICAR.to_vec()),
        ]);
        let w = walk(&img, "a.iso");
        assert_eq!(w.chains(), ["SUB/E"]);
    }

    #[test]
    fn huge_sizes_are_cut_at_the_image() {
        let img = image(&[
            (16, vd(1, 19, false)),
            (
                19,
                dir(
                    19,
                    19,
                    &[
                        rec(21, u32::MAX, 0, b"BIG;1", &[]),
                        rec(u32::MAX, u32::MAX, 0, b"FAR;1", &[]),
                        rec(30, u32::MAX, FLAG_DIR, b"D", &[]),
                    ],
                ),
            ),
            (21, EICAR.to_vec()),
        ]);
        let w = walk(&img, "a.iso");
        assert_eq!(w.chains(), ["BIG", "FAR"]);
        assert!(w.found[0].data.starts_with(EICAR));
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert!(w.found[1].data.is_empty());
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
    }

    #[test]
    fn multi_extent_file_joined() {
        // Two extents in blocks 21 and 23 (not contiguous), then one in 24
        // following it.
        let img = image(&[
            (16, vd(1, 19, false)),
            (
                19,
                dir(
                    19,
                    19,
                    &[
                        rec(21, 3, FLAG_MULTI, b"M;1", &[]),
                        rec(23, 2048, FLAG_MULTI, b"M;1", &[]),
                        rec(24, 2, 0, b"M;1", &[]),
                    ],
                ),
            ),
            (21, b"abc".to_vec()),
            (23, vec![b'd'; 2048]),
            (24, b"ef".to_vec()),
        ]);
        let w = walk(&img, "a.iso");
        assert_eq!(w.chains(), ["M"]);
        let mut want = b"abc".to_vec();
        want.extend(vec![b'd'; 2048]);
        want.extend(b"ef");
        assert_eq!(w.found[0].data, want);
    }

    #[test]
    fn many_extents_pointing_at_the_image_stay_bounded() {
        let mut records = Vec::new();
        for i in 0..60 {
            // Alternate two far-apart extents so nothing is contiguous.
            let lba = if i % 2 == 0 { 0 } else { 1 };
            records.push(rec(lba, 8 * 2048, FLAG_MULTI, b"B;1", &[]));
        }
        let mut sectors = vec![(16, vd(1, 19, false))];
        let mut d = dir(19, 19, &[]);
        for r in &records {
            d.extend_from_slice(r);
        }
        let size = d.len().div_ceil(S) * S;
        let mut root = vd(1, 19, false);
        let r = rec(19, size as u32, FLAG_DIR, &[0], &[]);
        root[156..156 + r.len()].copy_from_slice(&r);
        sectors[0] = (16, root);
        // Records must not cross block boundaries: lay them out per block.
        let mut laid = Vec::new();
        for r in std::iter::once(rec(19, size as u32, FLAG_DIR, &[0], &[])).chain(records) {
            if laid.len() % S + r.len() > S {
                laid.resize(laid.len().div_ceil(S) * S, 0);
            }
            laid.extend(r);
        }
        sectors.push((19, laid));
        let img = image(&sectors);
        let limits = Limits {
            max_member_size: 100_000,
            ..Limits::default()
        };
        let w = walk_with(&img, "a.iso", &limits);
        assert_eq!(w.found.len(), 1);
        assert_eq!(w.found[0].data.len(), 100_000);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-filesize")
        );
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        let inner = iso(b"EICAR.COM;1", EICAR, Some("e.com"));
        for cut in (0..inner.len()).step_by(97) {
            let _ = walk(&inner[..cut], "t.iso");
        }
        let mut rng = 0x1234_5678u32;
        for _ in 0..2000 {
            let mut img = inner.clone();
            for _ in 0..4 {
                rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12345);
                // Flip inside the descriptors and directories mostly.
                let at = 16 * S + (rng as usize >> 4) % (img.len() - 16 * S);
                img[at] ^= 1 << (rng % 8);
            }
            let _ = walk(&img, "f.iso");
        }
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"hello world"));
        assert!(!detect(&[0u8; 40000]));
        let mut elf = vec![0u8; 40000];
        elf[..4].copy_from_slice(b"\x7fELF");
        assert!(!detect(&elf));
        // Too short even with the magic.
        let mut short = vec![0u8; VD_START + 100];
        short[VD_START + 1..VD_START + 6].copy_from_slice(b"CD001");
        assert!(!detect(&short));
    }
}
