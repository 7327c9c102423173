//! Container unpackers for takedown.
//!
//! [`identify`] names the container format of a byte buffer from its magic
//! bytes and structure (never from a file name), and [`extract`] hands every
//! object inside it to a callback, one at a time. The scan engine does the
//! recursion: it scans each object with every signature and calls back in
//! here when the object is itself a container.
//!
//! Everything here treats its input as hostile. Every byte that is expanded
//! goes through [`Ctx::expand`], which enforces the limits of one top-level
//! object ([`Limits`]): the size of one member, the bytes expanded in all,
//! the compression ratio and the deadline. Entries per container are
//! counted in [`extract`]. Members are slices of their parent where the
//! format stores them uncompressed, and owned buffers otherwise. Nothing
//! is written to disk but one thing: libunrar reads RAR archives by path,
//! so a RAR archive with compressed members is copied to a private
//! temporary directory while it is unpacked.
#![deny(missing_docs)]

mod arj;
mod autoit;
mod binhex;
mod cab;
mod chm;
mod compress;
mod cpio;
mod ctx;
pub mod fuzzing;
pub mod heuristics;
mod html;
mod installshield;
mod iso;
mod mail;
mod nsis;
mod ole;
mod onenote;
mod packers;
mod pdf;
mod rar;
mod rtf;
mod sevenz;
mod sis;
mod szdd;
mod tar;
#[cfg(test)]
pub(crate) mod testutil;
mod tnef;
mod zip;

pub use ctx::{
    Counted, Ctx, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ENTRIES, DEFAULT_MAX_EXPANDED, DEFAULT_MAX_RATIO,
    Entry, Expanded, Flow, Issue, IssueKind, Limits, RATIO_FLOOR,
};

/// A container format takedown can look into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// PKZIP archive (also self-extracting, zip64, split single segment).
    Zip,
    /// 7-Zip archive.
    SevenZ,
    /// RAR archive (v4 and v5).
    Rar,
    /// gzip stream (RFC 1952), multi-member.
    Gzip,
    /// bzip2 stream.
    Bzip2,
    /// xz stream.
    Xz,
    /// Zstandard frames.
    Zstd,
    /// Microsoft Cabinet.
    Cab,
    /// MS-DOS `COMPRESS.EXE` file (SZDD, and KWAJ).
    Szdd,
    /// ARJ archive.
    Arj,
    /// Symbian installation file (EPOC releases 3-6 and SIS 9.x).
    Sis,
    /// Microsoft Compiled HTML Help (ITSF; stored and LZX sections).
    Chm,
    /// OLE2 compound file (doc, xls, ppt, msi, msg).
    Ole2,
    /// OneNote section file.
    OneNote,
    /// PDF document.
    Pdf,
    /// RTF document.
    Rtf,
    /// BinHex 4.0 file.
    BinHex,
    /// TNEF (winmail.dat) attachment container.
    Tnef,
    /// cpio archive (newc, crc, odc, binary of either byte order).
    Cpio,
    /// tar archive (v7, ustar, GNU, pax).
    Tar,
    /// ISO 9660 image (with Joliet and Rock Ridge names).
    Iso9660,
    /// UPX-packed executable (PE or ELF).
    Upx,
    /// PE packed by a packer whose stub is run to unpack it (ASPack, MEW,
    /// Petite, PESpin, Upack, WWPack32, yC).
    PackerStub,
    /// PE executable carrying other PE files (in a section or appended).
    PeEmbedded,
    /// LZMA "alone" stream (.lzma).
    Lzma,
    /// mbox mailbox of several messages.
    Mbox,
    /// MIME mail message (RFC 5322 / 2045).
    Mail,
    /// HTML with `data:` URIs.
    Html,
    /// uuencoded file.
    Uuencode,
    /// NSIS installer (zlib, bzip2 or LZMA; solid or not).
    Nsis,
    /// InstallShield setup.exe with its files appended (plain records and
    /// cabinets, or the encoded `InstallShield` stream).
    InstallShield,
    /// AutoIt v3 compiled script (EA05, EA06): the script and the files
    /// it installs.
    AutoIt,
}

/// Every format, in the order [`identify`] tries them: formats with a
/// fixed magic at offset 0 first, then those recognised by structure or
/// by text heuristics, so that a weak guess never shadows a sure one.
pub const FORMATS: &[Format] = &[
    // A PE with an NSIS first header at a 512-byte boundary: before zip,
    // which would take a stored zip member for a self-extracting archive.
    Format::Nsis,
    // A PE with InstallShield's files after its sections: before zip and
    // the embedded PEs, which would find only parts of it.
    Format::InstallShield,
    Format::Zip,
    Format::SevenZ,
    Format::Rar,
    Format::Gzip,
    Format::Bzip2,
    Format::Xz,
    Format::Zstd,
    Format::Cab,
    Format::Szdd,
    Format::Arj,
    Format::Sis,
    Format::Chm,
    Format::Ole2,
    Format::OneNote,
    Format::Pdf,
    Format::Rtf,
    Format::BinHex,
    Format::Tnef,
    Format::Cpio,
    Format::Tar,
    Format::Iso9660,
    Format::Lzma,
    Format::Mbox,
    Format::Mail,
    Format::Html,
    Format::Uuencode,
    // Executables last: only a PE or ELF gets this far.
    // Recognised by the bytes at the entry point. Before UPX: yC wraps
    // a UPX-packed file (whose pack header it leaves readable, its data
    // encrypted), and its image goes to the UPX unpacker in turn.
    Format::PackerStub,
    Format::Upx,
    // After UPX: a packed interpreter keeps its script in the resources
    // or the overlay of the unpacked image.
    Format::AutoIt,
    Format::PeEmbedded,
];

impl Format {
    /// Short lowercase name, for messages and docs.
    pub fn name(self) -> &'static str {
        match self {
            Format::Zip => "zip",
            Format::SevenZ => "7z",
            Format::Rar => "rar",
            Format::Gzip => "gzip",
            Format::Bzip2 => "bzip2",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Cab => "cab",
            Format::Szdd => "szdd",
            Format::Arj => "arj",
            Format::Sis => "sis",
            Format::Chm => "chm",
            Format::Ole2 => "ole2",
            Format::OneNote => "onenote",
            Format::Pdf => "pdf",
            Format::Rtf => "rtf",
            Format::BinHex => "binhex",
            Format::Tnef => "tnef",
            Format::Cpio => "cpio",
            Format::Tar => "tar",
            Format::Iso9660 => "iso9660",
            Format::Upx => "upx",
            Format::PackerStub => "packer",
            Format::PeEmbedded => "pe",
            Format::Lzma => "lzma",
            Format::Mbox => "mbox",
            Format::Mail => "mail",
            Format::Html => "html",
            Format::Uuencode => "uuencode",
            Format::Nsis => "nsis",
            Format::InstallShield => "installshield",
            Format::AutoIt => "autoit",
        }
    }

    fn detect(self, data: &[u8]) -> bool {
        match self {
            Format::Zip => zip::detect(data),
            Format::SevenZ => sevenz::detect(data),
            Format::Rar => rar::detect(data),
            Format::Gzip => compress::detect_gzip(data),
            Format::Bzip2 => compress::detect_bzip2(data),
            Format::Xz => compress::detect_xz(data),
            Format::Zstd => compress::detect_zstd(data),
            Format::Cab => cab::detect(data),
            Format::Szdd => szdd::detect(data),
            Format::Arj => arj::detect(data),
            Format::Sis => sis::detect(data),
            Format::Chm => chm::detect(data),
            Format::Ole2 => ole::detect(data),
            Format::OneNote => onenote::detect(data),
            Format::Pdf => pdf::detect(data),
            Format::Rtf => rtf::detect(data),
            Format::BinHex => binhex::detect(data),
            Format::Tnef => tnef::detect(data),
            Format::Cpio => cpio::detect(data),
            Format::Tar => tar::detect(data),
            Format::Iso9660 => iso::detect(data),
            Format::Upx => packers::upx::detect(data),
            Format::PackerStub => packers::stub::detect(data),
            Format::PeEmbedded => packers::detect_embedded(data),
            Format::Lzma => compress::detect_lzma(data),
            Format::Mbox => mail::detect_mbox(data),
            Format::Mail => mail::detect_mail(data),
            Format::Html => html::detect(data),
            Format::Uuencode => mail::detect_uuencode(data),
            Format::Nsis => nsis::detect(data),
            Format::InstallShield => installshield::detect(data),
            Format::AutoIt => autoit::detect(data),
        }
    }
}

/// The container format of `data`, if it is one takedown unpacks.
pub fn identify(data: &[u8]) -> Option<Format> {
    FORMATS.iter().copied().find(|f| f.detect(data))
}

/// The callback that receives entries.
pub type Sink<'s> = dyn FnMut(&mut Ctx, Entry<'_>) -> Flow + 's;

/// Hands every object inside `data` (a container of `format`) to `sink`,
/// in order. `name` is the container's own name (the last element of its
/// chain), used to name members of formats that store no name (a gzip
/// stream of `a.tar.gz` holds `a.tar`).
///
/// Every entry is charged to the expansion budget of `ctx` as it is
/// handed out; at most `max_entries` are handed out; the deadline is
/// checked between entries.
///
/// Returns the problem that ended the extraction early, if any: a corrupt
/// or truncated container, or a limit. Members handed to `sink` before
/// that point stand; a member's own limit problem travels in its
/// [`Entry`].
pub fn extract(
    format: Format,
    data: &[u8],
    name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    ctx.check_time()?;
    ctx.check_budget()?;
    let max_entries = ctx.limits().max_entries;
    let max_expanded = ctx.limits().max_expanded;
    let mut count = 0u64;
    let mut ended: Option<Issue> = None;
    let mut stopped = false;
    let mut guarded = |ctx: &mut Ctx, mut entry: Entry<'_>| -> Flow {
        if stopped {
            return Flow::Stop;
        }
        if count >= max_entries {
            ended = Some(Issue::limit(
                "max-entries",
                format!(
                    "holds more than the --max-entries limit of {max_entries} entries; the rest were not unpacked"
                ),
            ));
            stopped = true;
            return Flow::Stop;
        }
        count += 1;
        let len = entry.data.len() as u64;
        let fits = ctx.charge(len);
        let mut last = false;
        if fits < len {
            match &mut entry.data {
                std::borrow::Cow::Borrowed(b) => *b = &b[..fits as usize],
                std::borrow::Cow::Owned(v) => v.truncate(fits as usize),
            }
            entry.issue = Some(ctx::scansize_issue(max_expanded));
            last = true;
        }
        let flow = sink(ctx, entry);
        if flow == Flow::Stop || last {
            stopped = true;
            return Flow::Stop;
        }
        if let Err(e) = ctx.check_time() {
            ended = Some(e);
            stopped = true;
            return Flow::Stop;
        }
        Flow::Continue
    };
    let result = match format {
        Format::Zip => zip::extract(data, name, ctx, &mut guarded),
        Format::SevenZ => sevenz::extract(data, name, ctx, &mut guarded),
        Format::Rar => rar::extract(data, name, ctx, &mut guarded),
        Format::Gzip => compress::extract_gzip(data, name, ctx, &mut guarded),
        Format::Bzip2 => compress::extract_bzip2(data, name, ctx, &mut guarded),
        Format::Xz => compress::extract_xz(data, name, ctx, &mut guarded),
        Format::Zstd => compress::extract_zstd(data, name, ctx, &mut guarded),
        Format::Cab => cab::extract(data, name, ctx, &mut guarded),
        Format::Szdd => szdd::extract(data, name, ctx, &mut guarded),
        Format::Arj => arj::extract(data, name, ctx, &mut guarded),
        Format::Sis => sis::extract(data, name, ctx, &mut guarded),
        Format::Chm => chm::extract(data, name, ctx, &mut guarded),
        Format::Ole2 => ole::extract(data, name, ctx, &mut guarded),
        Format::OneNote => onenote::extract(data, name, ctx, &mut guarded),
        Format::Pdf => pdf::extract(data, name, ctx, &mut guarded),
        Format::Rtf => rtf::extract(data, name, ctx, &mut guarded),
        Format::BinHex => binhex::extract(data, name, ctx, &mut guarded),
        Format::Tnef => tnef::extract(data, name, ctx, &mut guarded),
        Format::Cpio => cpio::extract(data, name, ctx, &mut guarded),
        Format::Tar => tar::extract(data, name, ctx, &mut guarded),
        Format::Iso9660 => iso::extract(data, name, ctx, &mut guarded),
        Format::Upx => packers::upx::extract(data, name, ctx, &mut guarded),
        Format::PackerStub => packers::stub::extract(data, name, ctx, &mut guarded),
        Format::PeEmbedded => packers::extract_embedded(data, name, ctx, &mut guarded),
        Format::Lzma => compress::extract_lzma(data, name, ctx, &mut guarded),
        Format::Mbox => mail::extract_mbox(data, name, ctx, &mut guarded),
        Format::Mail => mail::extract_mail(data, name, ctx, &mut guarded),
        Format::Html => html::extract(data, name, ctx, &mut guarded),
        Format::Uuencode => mail::extract_uuencode(data, name, ctx, &mut guarded),
        Format::Nsis => nsis::extract(data, name, ctx, &mut guarded),
        Format::InstallShield => installshield::extract(data, name, ctx, &mut guarded),
        Format::AutoIt => autoit::extract(data, name, ctx, &mut guarded),
    };
    match ended {
        Some(issue) => Err(issue),
        None => result,
    }
}
