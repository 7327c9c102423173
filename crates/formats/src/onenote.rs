//! OneNote sections (`.one`): embedded files, in both packagings.
//!
//! A section file written by the desktop application is a revision store
//! (MS-ONESTORE 2.3): every file attached to a page is stored in a
//! FileDataStoreObject (MS-ONESTORE 2.6.13), the GUID
//! {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}, a u64 length, 12 reserved
//! bytes, then the file's bytes. Rather than walking the revision store,
//! the file is scanned for that GUID and each length checked against the
//! bytes left, the usual lightweight approach. Files are handed out as
//! stored (no copy), named `embedded-N` from 1 in file order.
//!
//! A section exported by OneNote for the web (or downloaded from
//! OneDrive) uses the alternative packaging (MS-ONESTORE 2.8): the same
//! first GUID, but guidFileFormat {638DE92F-A6D4-4BC1-9A36-B3FC2511A5B7}
//! at offset 48, then an MS-FSSHTTPB data element package. There file
//! data is not behind the FileDataStoreObject GUID: each attached file (and
//! each picture) is the data of an Object Data BLOB data element, stored
//! as a binary item (a compact length, then the bytes). That
//! packaging is walked as a stream of stream objects (MS-FSSHTTPB
//! 2.2.1.5): every BLOB is handed out, borrowed from the section, in file
//! order. Object groups are read just far enough to name the files: an
//! embedded file node (JCID 0x00060035) holds the file's name
//! (EmbeddedFileName) and a reference to its file data object
//! (EmbeddedFileContainer), whose Object Data BLOB declaration names the
//! BLOB. A BLOB no node names is `embedded-N` (N its place among the
//! BLOBs, from 1).
//!
//! Hostile input: the walk is one pass without recursion (the nesting of
//! compound objects is a bounded stack), every length is checked against
//! the bytes left, and what is kept for naming is capped. A structure
//! that does not parse ends the walk with a corrupt problem, after the
//! BLOBs found so far are handed out; a BLOB cut off by the end of the
//! file is handed out as far as it goes, marked corrupt.

use std::collections::HashMap;

use memchr::memmem;

use crate::{Ctx, Entry, Flow, Issue, Sink};

/// {7B5C52E4-D88C-4DA7-AEB1-5378D02996D3}: a section file (guidFileType
/// in both packagings).
const SECTION: [u8; 16] = [
    0xE4, 0x52, 0x5C, 0x7B, 0x8C, 0xD8, 0xA7, 0x4D, 0xAE, 0xB1, 0x53, 0x78, 0xD0, 0x29, 0x96, 0xD3,
];
/// {638DE92F-A6D4-4BC1-9A36-B3FC2511A5B7}: guidFileFormat of the
/// alternative packaging (MS-ONESTORE 2.8.1), at offset 48. A desktop
/// revision store has {109ADD3F-911B-49F5-A5D0-1791EDC8AED8} there.
const PACKAGE: [u8; 16] = [
    0x2F, 0xE9, 0x8D, 0x63, 0xD4, 0xA6, 0xC1, 0x4B, 0x9A, 0x36, 0xB3, 0xFC, 0x25, 0x11, 0xA5, 0xB7,
];
/// {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}: a FileDataStoreObject header.
const FILE_DATA: [u8; 16] = [
    0xE7, 0x16, 0xE3, 0xBD, 0x65, 0x26, 0x11, 0x45, 0xA4, 0xC4, 0x8D, 0x4D, 0x0B, 0x7A, 0x9E, 0xAC,
];
/// GUID, u64 length, u32 unused, u64 reserved.
const HEADER: usize = 36;

/// The two packagings of a section file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Packaging {
    /// The desktop revision store.
    RevisionStore,
    /// The FSSHTTPB packaging of OneNote for the web.
    Fsshttpb,
}

fn packaging(data: &[u8]) -> Option<Packaging> {
    if !data.starts_with(&SECTION) {
        None
    } else if data.get(48..64) == Some(&PACKAGE[..]) {
        Some(Packaging::Fsshttpb)
    } else {
        Some(Packaging::RevisionStore)
    }
}

pub(crate) fn detect(data: &[u8]) -> bool {
    packaging(data).is_some()
}

pub(crate) fn extract(
    data: &[u8],
    name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    match packaging(data) {
        Some(Packaging::Fsshttpb) => extract_package(data, ctx, sink),
        _ => extract_revision_store(data, name, ctx, sink),
    }
}

fn extract_revision_store(
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

// The FSSHTTPB packaging (MS-ONESTORE 2.8, MS-FSSHTTPB 2.2).

/// The Packaging Start follows four GUIDs and 4 reserved bytes.
const PACKAGE_BODY: usize = 68;

// Stream object types (MS-FSSHTTPB 2.2.1.5.1, 2.2.1.5.2).
const DATA_ELEMENT: u16 = 0x01;
const OBJECT_DATA_BLOB: u16 = 0x02;
const OBJECT_EXCLUDED: u16 = 0x03;
const BLOB_DECLARATION: u16 = 0x05;
const OBJECT_DATA: u16 = 0x16;
const OBJECT_DECLARATION: u16 = 0x18;
const BLOB_REFERENCE: u16 = 0x1C;
const DATA_ELEMENT_FRAGMENT: u16 = 0x6A;
const PACKAGING: u16 = 0x7A;

// Data element types (MS-FSSHTTPB 2.2.1.12.1).
const OBJECT_GROUP: u64 = 0x05;
const BLOB_ELEMENT: u64 = 0x0A;

// Object partitions of a revision store object (MS-ONESTORE 2.7.8): its
// property set, and its JCID.
const PARTITION_DATA: u64 = 1;
const PARTITION_METADATA: u64 = 4;

/// jcidEmbeddedFileNode (MS-ONE): an attached file on a page.
const JCID_EMBEDDED_FILE_NODE: u32 = 0x0006_0035;
/// EmbeddedFileContainer (MS-ONE): an ObjectID property naming the file
/// data object.
const PROP_CONTAINER: u32 = 0x2000_1D9B;
/// EmbeddedFileName (MS-ONE): the file's name, UTF-16LE.
const PROP_FILE_NAME: u32 = 0x1C00_1D9C;

/// Compound stream objects open at once beyond this are taken as corrupt
/// (a package nests four deep).
const MAX_NESTING: usize = 32;
/// Declarations, objects, nodes and BLOB declarations kept for naming,
/// each: about 64 bytes apiece, so a hostile file costs at most some tens
/// of MB. Past it files go unnamed, and a limit problem says so.
const MAX_KEPT: usize = 1 << 18;
/// Property sets nested deeper than this are taken as corrupt.
const MAX_PROPERTY_DEPTH: u32 = 8;

/// An extended GUID (MS-FSSHTTPB 2.2.1.7): a GUID and a number.
type ExGuid = ([u8; 16], u32);

/// A bounds-checked little-endian reader.
struct Rd<'a> {
    d: &'a [u8],
    p: usize,
}

/// A stream object header (MS-FSSHTTPB 2.2.1.5).
enum Header {
    Start { ty: u16, compound: bool, len: u64 },
    End(u16),
}

impl<'a> Rd<'a> {
    fn new(d: &'a [u8]) -> Rd<'a> {
        Rd { d, p: 0 }
    }

    fn left(&self) -> usize {
        self.d.len().saturating_sub(self.p)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.p.checked_add(n)?;
        let s = self.d.get(self.p..end)?;
        self.p = end;
        Some(s)
    }

    /// An `n`-byte little-endian integer, `n` at most 8.
    fn le(&mut self, n: usize) -> Option<u64> {
        let b = self.take(n)?;
        Some(b.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x)))
    }

    fn u16(&mut self) -> Option<u16> {
        self.le(2).map(|v| v as u16)
    }

    fn u32(&mut self) -> Option<u32> {
        self.le(4).map(|v| v as u32)
    }

    /// A compact unsigned 64-bit integer (MS-FSSHTTPB 2.2.1.1): the lowest
    /// set bit of the first byte gives the width.
    fn compact(&mut self) -> Option<u64> {
        let first = *self.d.get(self.p)?;
        if first == 0 {
            self.p += 1;
            return Some(0);
        }
        let width = first.trailing_zeros() as usize + 1;
        if width == 8 {
            self.p += 1;
            return self.le(8);
        }
        Some(self.le(width)? >> width)
    }

    /// An extended GUID (MS-FSSHTTPB 2.2.1.7): null, or a 5-, 10-, 17- or
    /// 32-bit number then a GUID.
    fn exguid(&mut self) -> Option<ExGuid> {
        let first = *self.d.get(self.p)?;
        let value = if first == 0 {
            self.p += 1;
            return Some(([0; 16], 0));
        } else if first & 0x07 == 0x04 {
            self.le(1)? >> 3
        } else if first & 0x3F == 0x20 {
            self.le(2)? >> 6
        } else if first & 0x7F == 0x40 {
            self.le(3)? >> 7
        } else if first == 0x80 {
            self.p += 1;
            self.le(4)?
        } else {
            return None;
        };
        let guid = self.take(16)?.try_into().ok()?;
        Some((guid, value as u32))
    }

    /// A serial number (MS-FSSHTTPB 2.2.1.9): null, or a GUID and a u64.
    fn serial(&mut self) -> Option<()> {
        match self.take(1)?.first()? {
            0 => Some(()),
            0x80 => self.take(24).map(|_| ()),
            _ => None,
        }
    }

    /// An extended GUID array (MS-FSSHTTPB 2.2.1.8), skipped.
    fn exguids(&mut self) -> Option<()> {
        // Each extended GUID takes at least a byte, so a lying count
        // ends at the end of the data.
        for _ in 0..self.compact()? {
            self.exguid()?;
        }
        Some(())
    }

    /// A cell ID array (MS-FSSHTTPB 2.2.1.11), skipped: a cell ID is two
    /// extended GUIDs.
    fn cell_ids(&mut self) -> Option<()> {
        for _ in 0..self.compact()? {
            self.exguid()?;
            self.exguid()?;
        }
        Some(())
    }

    /// A stream object header: 16- or 32-bit start (low bits 00, 10), 8- or
    /// 16-bit end (01, 11).
    fn header(&mut self) -> Option<Header> {
        let first = *self.d.get(self.p)?;
        Some(match first & 3 {
            0 => {
                let v = self.u16()?;
                Header::Start {
                    ty: (v >> 3) & 0x3F,
                    compound: v & 4 != 0,
                    len: u64::from(v >> 9),
                }
            }
            2 => {
                let v = self.u32()?;
                let mut len = u64::from(v >> 17);
                if len == 0x7FFF {
                    len = self.compact()?;
                }
                Header::Start {
                    ty: ((v >> 3) & 0x3FFF) as u16,
                    compound: v & 4 != 0,
                    len,
                }
            }
            1 => {
                self.p += 1;
                Header::End(u16::from(first >> 2))
            }
            _ => Header::End(self.u16()? >> 2),
        })
    }
}

/// What the walk of a package keeps.
#[derive(Default)]
struct Package<'a> {
    /// Object Data BLOBs in file order.
    blobs: Vec<Blob<'a>>,
    /// File data object → its BLOB, from Object Data BLOB declarations.
    blob_of: HashMap<ExGuid, ExGuid>,
    /// Embedded file nodes: their reference array (as stored, count
    /// first) and their property set.
    nodes: Vec<(&'a [u8], &'a [u8])>,
    /// The first problem met.
    problem: Option<Issue>,
}

impl Package<'_> {
    fn problem(&mut self, issue: Issue) {
        self.problem.get_or_insert(issue);
    }
}

struct Blob<'a> {
    /// The data element's extended GUID.
    id: ExGuid,
    data: &'a [u8],
    /// Why the data is incomplete (a length past what is there).
    short: Option<String>,
}

impl<'a> Blob<'a> {
    /// The content of an Object Data BLOB stream object: a binary item
    /// (MS-FSSHTTPB 2.2.1.3), a compact length then the bytes, as OneNote
    /// writes it (the section's text calls it a byte stream).
    fn new(id: ExGuid, body: &'a [u8], pkg: &mut Package<'a>, at: usize) -> Blob<'a> {
        let mut r = Rd::new(body);
        let Some(n) = r.compact() else {
            return Blob {
                id,
                data: &[],
                short: Some("its length is cut off".into()),
            };
        };
        let rest = body.get(r.p..).unwrap_or(&[]);
        match usize::try_from(n).ok().and_then(|n| rest.get(..n)) {
            Some(data) => {
                if data.len() < rest.len() {
                    pkg.problem(corrupt(format!(
                        "the Object Data BLOB at offset {at} holds {} bytes past its data",
                        rest.len() - data.len()
                    )));
                }
                Blob {
                    id,
                    data,
                    short: None,
                }
            }
            None => Blob {
                id,
                data: rest,
                short: Some(format!("declares {n} bytes, only {} are left", rest.len())),
            },
        }
    }
}

/// The data element being read.
struct Element<'a> {
    id: ExGuid,
    kind: u64,
    /// An object group's declarations and objects, paired by position.
    decls: Vec<Decl>,
    objects: Vec<Option<Object<'a>>>,
}

enum Decl {
    Object { id: ExGuid, partition: u64 },
    Blob { id: ExGuid, blob: ExGuid },
}

struct Object<'a> {
    /// The reference array as stored, count first.
    refs: &'a [u8],
    data: &'a [u8],
}

fn corrupt(what: String) -> Issue {
    Issue::corrupt(format!("onenote: {what}"))
}

fn walk<'a>(data: &'a [u8], ctx: &Ctx, max_blobs: usize) -> Package<'a> {
    let mut pkg = Package::default();
    if let Err(issue) = walk_into(data, ctx, max_blobs, &mut pkg) {
        pkg.problem(issue);
    }
    pkg
}

fn walk_into<'a>(
    data: &'a [u8],
    ctx: &Ctx,
    max_blobs: usize,
    pkg: &mut Package<'a>,
) -> Result<(), Issue> {
    let mut r = Rd::new(data);
    r.p = PACKAGE_BODY;
    if data.len() < PACKAGE_BODY {
        return Err(corrupt("the packaging header is cut off".into()));
    }
    let mut open: Vec<u16> = Vec::new();
    let mut element: Option<Element<'a>> = None;
    let mut steps = 0u32;
    loop {
        steps = steps.wrapping_add(1);
        if steps.is_multiple_of(4096) {
            ctx.check_time()?;
        }
        let at = r.p;
        let Some(header) = r.header() else {
            return Err(corrupt(if r.left() == 0 {
                format!("the package ends at offset {at}, before its end")
            } else {
                format!("no stream object header at offset {at}")
            }));
        };
        let (ty, compound, len) = match header {
            Header::End(ty) => {
                if open.pop() != Some(ty) {
                    return Err(corrupt(format!(
                        "the end of stream object 0x{ty:X} at offset {at} closes nothing open"
                    )));
                }
                if ty == DATA_ELEMENT
                    && let Some(e) = element.take()
                {
                    finish(e, pkg);
                }
                if open.is_empty() {
                    return Ok(());
                }
                continue;
            }
            Header::Start { ty, compound, len } => (ty, compound, len),
        };
        if open.is_empty() && (ty != PACKAGING || !compound) {
            return Err(corrupt(format!("no packaging start at offset {at}")));
        }
        let avail = r.left() as u64;
        if len > avail {
            if let Some(e) = &element
                && e.kind == BLOB_ELEMENT
                && ty == OBJECT_DATA_BLOB
            {
                let mut blob = Blob::new(e.id, data.get(r.p..).unwrap_or(&[]), pkg, at);
                blob.short
                    .get_or_insert_with(|| "the file ends inside it".into());
                pkg.blobs.push(blob);
            }
            return Err(corrupt(format!(
                "stream object 0x{ty:X} at offset {at} declares {len} bytes, only {avail} are left"
            )));
        }
        let body = r.take(len as usize).unwrap_or(&[]);
        if compound {
            if open.len() >= MAX_NESTING {
                return Err(corrupt(format!(
                    "stream objects nest more than {MAX_NESTING} deep at offset {at}"
                )));
            }
            open.push(ty);
        }
        if ty == DATA_ELEMENT {
            if element.is_some() || !compound {
                return Err(corrupt(format!(
                    "a misplaced data element start at offset {at}"
                )));
            }
            let mut b = Rd::new(body);
            let (Some(id), Some(()), Some(kind)) = (b.exguid(), b.serial(), b.compact()) else {
                return Err(corrupt(format!(
                    "a corrupt data element start at offset {at}"
                )));
            };
            element = Some(Element {
                id,
                kind,
                decls: Vec::new(),
                objects: Vec::new(),
            });
        } else if ty == DATA_ELEMENT_FRAGMENT {
            // A data element sent in parts; not seen in saved sections.
            pkg.problem(Issue::unsupported(format!(
                "onenote: a data element fragment at offset {at} is not reassembled"
            )));
        } else if let Some(e) = element.as_mut() {
            e.object(ty, body, at, pkg, max_blobs)?;
        }
    }
}

impl<'a> Element<'a> {
    /// A stream object inside this data element.
    fn object(
        &mut self,
        ty: u16,
        body: &'a [u8],
        at: usize,
        pkg: &mut Package<'a>,
        max_blobs: usize,
    ) -> Result<(), Issue> {
        let bad = || corrupt(format!("a corrupt stream object 0x{ty:X} at offset {at}"));
        let mut b = Rd::new(body);
        match (self.kind, ty) {
            (BLOB_ELEMENT, OBJECT_DATA_BLOB) => {
                // One more than the entry limit, so that the limit is
                // reported when they are handed out.
                if pkg.blobs.len() <= max_blobs {
                    let blob = Blob::new(self.id, body, pkg, at);
                    pkg.blobs.push(blob);
                }
                return Ok(());
            }
            (OBJECT_GROUP, _) if self.decls.len().max(self.objects.len()) >= MAX_KEPT => {
                pkg.problem(Issue::limit(
                    "max-entries",
                    format!(
                        "onenote: an object group holds more than {MAX_KEPT} objects; \
                         the files of the rest are not named"
                    ),
                ));
                return Ok(());
            }
            (OBJECT_GROUP, OBJECT_DECLARATION) => {
                let (Some(id), Some(partition)) = (b.exguid(), b.compact()) else {
                    return Err(bad());
                };
                self.decls.push(Decl::Object { id, partition });
            }
            (OBJECT_GROUP, BLOB_DECLARATION) => {
                let (Some(id), Some(blob)) = (b.exguid(), b.exguid()) else {
                    return Err(bad());
                };
                self.decls.push(Decl::Blob { id, blob });
            }
            (OBJECT_GROUP, OBJECT_DATA) => {
                b.exguids().ok_or_else(bad)?;
                let refs = body.get(..b.p).unwrap_or(&[]);
                b.cell_ids().ok_or_else(bad)?;
                let n = b.compact().ok_or_else(bad)?;
                let data = usize::try_from(n)
                    .ok()
                    .and_then(|n| b.take(n))
                    .ok_or_else(bad)?;
                self.objects.push(Some(Object { refs, data }));
            }
            (OBJECT_GROUP, OBJECT_EXCLUDED | BLOB_REFERENCE) => self.objects.push(None),
            _ => {}
        }
        Ok(())
    }
}

/// Keeps what naming needs from a finished object group.
fn finish<'a>(e: Element<'a>, pkg: &mut Package<'a>) {
    if e.kind != OBJECT_GROUP {
        return;
    }
    if e.decls.len() != e.objects.len() {
        pkg.problem(corrupt(format!(
            "an object group declares {} objects and holds {}",
            e.decls.len(),
            e.objects.len()
        )));
    }
    let pairs = || e.decls.iter().zip(&e.objects);
    let mut jcids: HashMap<ExGuid, u32> = HashMap::new();
    for (d, o) in pairs() {
        if let (Decl::Object { id, partition }, Some(o)) = (d, o)
            && *partition == PARTITION_METADATA
            && let Some(jcid) = o.data.get(..4)
        {
            jcids.insert(*id, Rd::new(jcid).u32().unwrap_or(0));
        }
    }
    for (d, o) in pairs() {
        match (d, o) {
            (Decl::Object { id, partition }, Some(o))
                if *partition == PARTITION_DATA
                    && jcids.get(id) == Some(&JCID_EMBEDDED_FILE_NODE)
                    && pkg.nodes.len() < MAX_KEPT =>
            {
                pkg.nodes.push((o.refs, o.data));
            }
            (Decl::Blob { id, blob }, _) if pkg.blob_of.len() < MAX_KEPT => {
                pkg.blob_of.insert(*id, *blob);
            }
            _ => {}
        }
    }
}

/// Scans an embedded file node's property set (MS-ONESTORE 2.6.1
/// ObjectSpaceObjectPropSet) for the file's name and the position of its
/// container among the object references.
#[derive(Default)]
struct NodeProps {
    /// ObjectID references met so far: each takes the next entry of the
    /// object's reference array.
    oids: u64,
    name: Option<String>,
    container: Option<u64>,
}

impl NodeProps {
    fn parse(data: &[u8]) -> Option<NodeProps> {
        let mut r = Rd::new(data);
        // The OIDs, OSIDs and ContextIDs streams: a header (count in the
        // low 24 bits; bit 31: no OSIDs stream; bit 30 of the OSIDs
        // header: a ContextIDs stream) and 4-byte compact IDs.
        let oids = r.u32()?;
        r.take((oids & 0xFF_FFFF) as usize * 4)?;
        if oids >> 31 == 0 {
            let osids = r.u32()?;
            r.take((osids & 0xFF_FFFF) as usize * 4)?;
            if osids >> 30 & 1 == 1 {
                let contexts = r.u32()?;
                r.take((contexts & 0xFF_FFFF) as usize * 4)?;
            }
        }
        let mut p = NodeProps::default();
        p.set(&mut r, 0)?;
        Some(p)
    }

    /// A PropertySet (MS-ONESTORE 2.6.7): a count, the property IDs, then
    /// their data in order. The type is bits 26-30 of a property ID.
    fn set(&mut self, r: &mut Rd<'_>, depth: u32) -> Option<()> {
        if depth > MAX_PROPERTY_DEPTH {
            return None;
        }
        let n = usize::from(r.u16()?);
        let prids = r.take(n * 4)?;
        for prid in prids.chunks_exact(4) {
            let prid = Rd::new(prid).u32()?;
            match (prid >> 26) & 0x1F {
                // No data, a bool in the ID, one object space or context.
                0x1 | 0x2 | 0xA | 0xC => {}
                0x3 => _ = r.take(1)?,
                0x4 => _ = r.take(2)?,
                0x5 => _ = r.take(4)?,
                0x6 => _ = r.take(8)?,
                0x7 => {
                    let len = r.u32()? as usize;
                    let text = r.take(len)?;
                    if prid == PROP_FILE_NAME {
                        self.name = Some(utf16(text));
                    }
                }
                0x8 => {
                    if prid == PROP_CONTAINER {
                        self.container = Some(self.oids);
                    }
                    self.oids += 1;
                }
                0x9 => self.oids += u64::from(r.u32()?),
                0xB | 0xD => _ = r.u32()?,
                // An array of property sets: a count, then (when not
                // empty) the property ID of the sets, then the sets.
                0x10 => {
                    let count = r.u32()?;
                    if count > 0 {
                        r.u32()?;
                        // Each set takes at least 2 bytes, so a lying
                        // count ends at the end of the data.
                        for _ in 0..count {
                            self.set(r, depth + 1)?;
                        }
                    }
                }
                0x11 => self.set(r, depth + 1)?,
                _ => return None,
            }
        }
        Some(())
    }
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .collect();
    String::from_utf16_lossy(&units)
        .trim_end_matches('\0')
        .to_string()
}

/// The `i`-th extended GUID of a stored array.
fn nth_exguid(array: &[u8], i: u64) -> Option<ExGuid> {
    let mut r = Rd::new(array);
    if i >= r.compact()? {
        return None;
    }
    for _ in 0..i {
        r.exguid()?;
    }
    r.exguid()
}

/// The names of BLOBs, from the embedded file nodes.
fn blob_names(pkg: &Package<'_>) -> (HashMap<ExGuid, String>, Option<Issue>) {
    let mut names = HashMap::new();
    let mut problem = None;
    for (refs, props) in &pkg.nodes {
        let Some(p) = NodeProps::parse(props) else {
            problem.get_or_insert(corrupt("an embedded file's property set is corrupt".into()));
            continue;
        };
        if let (Some(name), Some(i)) = (p.name, p.container)
            && !name.is_empty()
            && let Some(blob) = nth_exguid(refs, i).and_then(|c| pkg.blob_of.get(&c))
        {
            names.entry(*blob).or_insert(name);
        }
    }
    (names, problem)
}

fn extract_package(data: &[u8], ctx: &mut Ctx, sink: &mut Sink<'_>) -> Result<(), Issue> {
    let max_blobs = usize::try_from(ctx.limits().max_entries).unwrap_or(usize::MAX);
    let pkg = walk(data, ctx, max_blobs);
    let (names, naming) = blob_names(&pkg);
    for (i, blob) in pkg.blobs.iter().enumerate() {
        ctx.check_time()?;
        let name = names
            .get(&blob.id)
            .cloned()
            .unwrap_or_else(|| format!("embedded-{}", i + 1));
        let issue = blob
            .short
            .as_ref()
            .map(|why| corrupt(format!("{name}: {why}")));
        let mut entry = Entry::new(name, blob.data);
        entry.issue = issue;
        if sink(ctx, entry) == Flow::Stop {
            return Ok(());
        }
    }
    match pkg.problem.or(naming) {
        Some(issue) => Err(issue),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ole::tests::build;
    use crate::testutil::{EICAR, each_byte_flipped, random_flips, walk, walk_with};
    use crate::{IssueKind, Limits};

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
        assert_eq!(packaging(&f), Some(Packaging::RevisionStore));
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
        assert!(!detect(&PACKAGE));
    }

    // A builder of sections in the packaging of OneNote for the web,
    // written from MS-ONESTORE 2.8 and MS-FSSHTTPB 2.2.1. It writes:
    //
    // - the Packaging structure: guidFileType (the section GUID),
    //   guidFile, guidLegacyFileVersion, guidFileFormat {638DE92F-...},
    //   4 reserved bytes; then a compound Packaging Start (32-bit stream
    //   object header, type 0x7A) holding the storage index extended GUID
    //   and guidCellSchemaId {1F937CB4-...} (.one), closed by a 16-bit
    //   end;
    // - inside it a Data Element Package (type 0x15, one reserved byte)
    //   of data elements (type 0x01: extended GUID, serial number, data
    //   element type as a compact uint64; closed by an 8-bit end):
    //   - a Storage Manifest (type 2) with only its schema GUID (0x0C),
    //     which the reader must step over;
    //   - one Object Group (type 5): Object Group Declarations (0x1D)
    //     then Object Group Data (0x1E), paired by position. A named file
    //     is an embedded file node, declared in partition 4 (its JCID
    //     0x00060035) and partition 1 (an ObjectSpaceObjectPropSet with
    //     an ArrayOfObjectIDs of two, EmbeddedFileContainer, a bool, a
    //     4-byte property, a nested property set and EmbeddedFileName),
    //     and a file data object (JCID 0x00080036) declared in partitions
    //     4 and 1 and by an Object Data BLOB Declaration (0x05) with its
    //     Object Data BLOB Reference (0x1C);
    //   - one Object Data BLOB data element (type 0x0A) per file, whose
    //     Object Data BLOB (0x02) holds the file as a binary item (compact
    //     length, then the bytes), as in sections OneNote writes.
    //
    // Extended GUIDs are written in all four widths (5, 10, 17 and 32-bit
    // numbers), headers in 16 and 32 bits and, for a large file, with a
    // compact uint64 Large Length.

    fn compact(v: u64) -> Vec<u8> {
        if v == 0 {
            return vec![0];
        }
        for width in 1..=7usize {
            if v < 1 << (7 * width) {
                let x = (v << width) | (1 << (width - 1));
                return x.to_le_bytes()[..width].to_vec();
            }
        }
        let mut o = vec![0x80];
        o.extend(v.to_le_bytes());
        o
    }

    fn guid(seed: u8) -> [u8; 16] {
        std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
    }

    fn exguid(seed: u8, value: u32) -> Vec<u8> {
        let mut o = if value < 32 {
            vec![(value << 3 | 4) as u8]
        } else if value < 1 << 10 {
            ((value << 6 | 0x20) as u16).to_le_bytes().to_vec()
        } else if value < 1 << 17 {
            (value << 7 | 0x40).to_le_bytes()[..3].to_vec()
        } else {
            let mut o = vec![0x80];
            o.extend(value.to_le_bytes());
            o
        };
        o.extend(guid(seed));
        o
    }

    fn start(ty: u16, compound: bool, len: usize) -> Vec<u8> {
        let c = u32::from(compound) << 2;
        if ty < 0x40 && len < 0x80 {
            ((len as u32) << 9 | u32::from(ty) << 3 | c)
                .to_le_bytes()
                .get(..2)
                .unwrap()
                .to_vec()
        } else if len < 0x7FFF {
            ((len as u32) << 17 | u32::from(ty) << 3 | c | 2)
                .to_le_bytes()
                .to_vec()
        } else {
            let mut o = (0x7FFF << 17 | u32::from(ty) << 3 | c | 2)
                .to_le_bytes()
                .to_vec();
            o.extend(compact(len as u64));
            o
        }
    }

    fn end(ty: u16) -> Vec<u8> {
        if ty < 0x40 {
            vec![(ty << 2 | 1) as u8]
        } else {
            (ty << 2 | 3).to_le_bytes().to_vec()
        }
    }

    fn single(ty: u16, body: &[u8]) -> Vec<u8> {
        [start(ty, false, body.len()), body.to_vec()].concat()
    }

    fn compound(ty: u16, fields: &[u8], children: &[u8]) -> Vec<u8> {
        [
            start(ty, true, fields.len()),
            fields.to_vec(),
            children.to_vec(),
            end(ty),
        ]
        .concat()
    }

    fn element(id: &[u8], kind: u64, children: &[u8]) -> Vec<u8> {
        let mut fields = id.to_vec();
        fields.push(0x80);
        fields.extend(guid(0x99));
        fields.extend(7u64.to_le_bytes());
        fields.extend(compact(kind));
        compound(DATA_ELEMENT, &fields, children)
    }

    fn declare(id: &[u8], partition: u64, size: usize, refs: u64) -> Vec<u8> {
        let body = [
            id.to_vec(),
            compact(partition),
            compact(size as u64),
            compact(refs),
            compact(0),
        ]
        .concat();
        single(OBJECT_DECLARATION, &body)
    }

    fn object(refs: &[Vec<u8>], data: &[u8]) -> Vec<u8> {
        let mut body = compact(refs.len() as u64);
        body.extend(refs.concat());
        body.extend(compact(0));
        body.extend(compact(data.len() as u64));
        body.extend(data);
        single(OBJECT_DATA, &body)
    }

    fn prid(ty: u32, id: u32) -> u32 {
        ty << 26 | id
    }

    /// An embedded file node's ObjectSpaceObjectPropSet: its container is
    /// the third object reference (after an array of two).
    fn node_props(name: &str) -> Vec<u8> {
        let mut o = (3u32 | 1 << 31).to_le_bytes().to_vec();
        for id in 1..=3u32 {
            o.extend(id.to_le_bytes());
        }
        let props = [
            prid(0x9, 0x1D00),
            PROP_CONTAINER,
            prid(0x2, 0x1C04) | 1 << 31,
            prid(0x5, 0x1C05),
            prid(0x11, 0x1C06),
            PROP_FILE_NAME,
        ];
        o.extend((props.len() as u16).to_le_bytes());
        for p in props {
            o.extend(p.to_le_bytes());
        }
        o.extend(2u32.to_le_bytes());
        o.extend(0x1234u32.to_le_bytes());
        // The nested set: one 2-byte property.
        o.extend(1u16.to_le_bytes());
        o.extend(prid(0x4, 0x1C07).to_le_bytes());
        o.extend(7u16.to_le_bytes());
        let wide: Vec<u8> = name
            .encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect();
        o.extend((wide.len() as u32).to_le_bytes());
        o.extend(wide);
        o
    }

    /// An empty ObjectSpaceObjectPropSet.
    const NO_PROPS: [u8; 6] = [0, 0, 0, 0x80, 0, 0];

    fn node_id(k: usize) -> Vec<u8> {
        exguid(0x11, k as u32 + 1)
    }
    fn container_id(k: usize) -> Vec<u8> {
        exguid(0x22, 100 + k as u32)
    }
    fn blob_id(k: usize) -> Vec<u8> {
        exguid(0x33, 70_000 + k as u32)
    }

    fn web_section(files: &[(Option<&str>, &[u8])]) -> Vec<u8> {
        let mut decls = Vec::new();
        let mut datas = Vec::new();
        for (k, (name, _)) in files.iter().enumerate() {
            if let Some(name) = name {
                let props = node_props(name);
                let others = vec![exguid(0x55, 1), exguid(0x55, 2), container_id(k)];
                decls.extend(declare(&node_id(k), PARTITION_METADATA, 4, 0));
                decls.extend(declare(&node_id(k), PARTITION_DATA, props.len(), 3));
                datas.extend(object(&[], &JCID_EMBEDDED_FILE_NODE.to_le_bytes()));
                datas.extend(object(&others, &props));
            }
            decls.extend(declare(&container_id(k), PARTITION_METADATA, 4, 0));
            decls.extend(declare(&container_id(k), PARTITION_DATA, NO_PROPS.len(), 0));
            let blob_declaration = [
                container_id(k),
                blob_id(k),
                compact(2),
                compact(0),
                compact(0),
            ]
            .concat();
            decls.extend(single(BLOB_DECLARATION, &blob_declaration));
            datas.extend(object(&[], &0x0008_0036u32.to_le_bytes()));
            datas.extend(object(&[], &NO_PROPS));
            let reference = [compact(0), compact(0), blob_id(k)].concat();
            datas.extend(single(BLOB_REFERENCE, &reference));
        }
        let mut elements = element(&exguid(0x66, 1), 2, &single(0x0C, &guid(0x77)));
        let group = [compound(0x1D, &[], &decls), compound(0x1E, &[], &datas)].concat();
        elements.extend(element(&exguid(0x44, 5_000_000), OBJECT_GROUP, &group));
        for (k, (_, content)) in files.iter().enumerate() {
            let blob = single(
                OBJECT_DATA_BLOB,
                &[compact(content.len() as u64), content.to_vec()].concat(),
            );
            elements.extend(element(&blob_id(k), BLOB_ELEMENT, &blob));
        }
        let mut f = SECTION.to_vec();
        f.extend(guid(1));
        f.extend(guid(2));
        f.extend(PACKAGE);
        f.extend([0; 4]);
        // {1F937CB4-B26F-445F-B9F8-17E20160E461}: a .one section.
        let schema = [
            0xB4, 0x7C, 0x93, 0x1F, 0x6F, 0xB2, 0x5F, 0x44, 0xB9, 0xF8, 0x17, 0xE2, 0x01, 0x60,
            0xE4, 0x61,
        ];
        let fields = [exguid(0x88, 1), schema.to_vec()].concat();
        let package = compound(0x15, &[0], &elements);
        f.extend(compound(PACKAGING, &fields, &package));
        f
    }

    fn small() -> Vec<u8> {
        web_section(&[(Some("eicar.com"), EICAR), (None, b"hello")])
    }

    #[test]
    fn compact_integers_and_extended_guids_read_back() {
        let mut values = vec![0, 1, u64::MAX];
        for bits in [7, 14, 21, 28, 35, 42, 49, 56, 63] {
            values.extend([(1 << bits) - 1, 1 << bits]);
        }
        for v in values {
            let b = compact(v);
            let mut r = Rd::new(&b);
            assert_eq!(r.compact(), Some(v), "{b:02x?}");
            assert_eq!(r.left(), 0);
        }
        for v in [0, 31, 32, 1023, 1024, (1 << 17) - 1, 1 << 17, u32::MAX] {
            let b = exguid(9, v);
            let mut r = Rd::new(&b);
            assert_eq!(r.exguid(), Some((guid(9), v)), "{b:02x?}");
            assert_eq!(r.left(), 0);
        }
        assert_eq!(Rd::new(&[0]).exguid(), Some(([0; 16], 0)));
        assert_eq!(Rd::new(&[0x02]).exguid(), None);
        assert_eq!(Rd::new(&[0x80]).compact(), None);
    }

    #[test]
    fn web_export_files_are_found_and_named() {
        let ole = build(&[("Dir/eicar.com", EICAR)]);
        let f = web_section(&[(Some("eicar.com"), EICAR), (None, &ole)]);
        assert!(detect(&f));
        assert_eq!(packaging(&f), Some(Packaging::Fsshttpb));
        let w = walk(&f, "x.one");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(
            w.chains(),
            ["eicar.com", "embedded-2", "embedded-2!Dir/eicar.com"]
        );
        assert_eq!(w.found[0].data, EICAR);
        assert_eq!(w.found[1].data, ole);
        // The files are not behind the FileDataStoreObject GUID: the
        // desktop reading finds nothing in this packaging.
        let mut n = 0;
        let limits = Limits::default();
        let mut ctx = Ctx::new(&limits, None);
        extract_revision_store(&f, "x.one", &mut ctx, &mut |_, _| {
            n += 1;
            Flow::Continue
        })
        .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn large_files_use_the_large_length() {
        let mut big = vec![0x41; 70_000];
        big.extend(EICAR);
        let f = web_section(&[(None, b"first"), (Some("big.bin"), &big)]);
        let w = walk(&f, "x.one");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.chains(), ["embedded-1", "big.bin"]);
        assert_eq!(w.found[1].data, big);
    }

    #[test]
    fn truncated_web_exports_hand_out_what_is_there() {
        let full = small();
        let eicar_end = memmem::find(&full, EICAR).unwrap() + EICAR.len();
        for len in 0..full.len() {
            let w = walk(&full[..len], "t");
            if len >= 64 {
                assert!(
                    !w.issues.is_empty() || w.found.iter().any(|f| f.issue.is_some()),
                    "{len}"
                );
            }
            if len >= eicar_end {
                let e = w.containing(EICAR).unwrap();
                assert_eq!(e.chain, "eicar.com", "{len}");
            }
        }
        // Cut inside the file: its bytes so far, marked corrupt.
        let w = walk(&full[..eicar_end - 10], "t");
        let e = w.found.iter().find(|f| f.chain == "eicar.com").unwrap();
        assert_eq!(e.data, &EICAR[..EICAR.len() - 10]);
        assert_eq!(e.issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
    }

    #[test]
    fn flipped_web_exports_do_not_panic() {
        let full = small();
        each_byte_flipped(&full, &[0x01, 0x80], |m| {
            let _ = walk(m, "t");
        });
        random_flips(&full, 7, 2000, 3, |m| {
            let _ = walk(m, "t");
        });
    }

    #[test]
    fn corrupt_structure_is_reported() {
        let full = small();
        let head = &full[..PACKAGE_BODY];
        // Garbage after the header.
        let f = [head, &[0xFF; 40][..]].concat();
        let w = walk(&f, "t");
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt, "{:?}", w.issues);
        // Compound objects nested without end.
        let f = [
            head.to_vec(),
            start(PACKAGING, true, 0),
            start(0x15, true, 0).repeat(100),
        ]
        .concat();
        let w = walk(&f, "t");
        assert!(w.issues[0].1.message.contains("nest"), "{:?}", w.issues);
        // An end that closes nothing open.
        let f = [head.to_vec(), start(PACKAGING, true, 0), end(0x15)].concat();
        let w = walk(&f, "t");
        assert!(
            w.issues[0].1.message.contains("closes nothing"),
            "{:?}",
            w.issues
        );
        // A length past the end.
        let f = [head.to_vec(), start(PACKAGING, true, 0x7FFF_FFFF)].concat();
        let w = walk(&f, "t");
        assert!(w.issues[0].1.message.contains("declares"), "{:?}", w.issues);
        // A node whose property set is corrupt: the file is still handed
        // out, unnamed, and the problem is reported.
        let mut f = small();
        let name: Vec<u8> = "eicar.com"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let at = memmem::find(&f, &name).unwrap();
        f[at - 4..at].copy_from_slice(&u32::MAX.to_le_bytes());
        let w = walk(&f, "t");
        assert_eq!(w.chains(), ["embedded-1", "embedded-2"]);
        assert_eq!(w.found[0].data, EICAR);
        assert!(
            w.issues[0].1.message.contains("property set"),
            "{:?}",
            w.issues
        );
    }

    #[test]
    fn blob_lengths_that_disagree_are_reported() {
        let full = small();
        let at = memmem::find(&full, EICAR).unwrap();
        // The binary item's length, a one-byte compact integer (68).
        assert_eq!(full[at - 1], 68 << 1 | 1);
        let mut f = full.clone();
        f[at - 1] = 60 << 1 | 1;
        let w = walk(&f, "t");
        assert_eq!(w.found[0].data, &EICAR[..60]);
        assert!(w.found[0].issue.is_none());
        assert!(
            w.issues[0].1.message.contains("8 bytes past its data"),
            "{:?}",
            w.issues
        );
        let mut f = full.clone();
        f[at - 1] = 100 << 1 | 1;
        let w = walk(&f, "t");
        assert_eq!(w.found[0].data, EICAR);
        let issue = w.found[0].issue.as_ref().unwrap();
        assert!(
            issue.message.contains("declares 100 bytes, only 68"),
            "{issue:?}"
        );
    }

    #[test]
    fn entry_limit_is_reported() {
        let limits = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        let w = walk_with(&small(), "t", &limits);
        assert_eq!(w.chains(), ["eicar.com"]);
        assert_eq!(w.issues[0].1.kind, IssueKind::Limit("max-entries"));
    }

    /// Writes the fuzz seeds (harmless text) into `TAKEDOWN_SEED_DIR`.
    #[test]
    #[ignore]
    fn write_fuzz_seeds() {
        let dir = std::path::PathBuf::from(std::env::var_os("TAKEDOWN_SEED_DIR").unwrap());
        let f = web_section(&[(Some("hello.txt"), b"hello\n"), (None, b"world\n")]);
        std::fs::write(dir.join("web-export.one"), f).unwrap();
    }
}
