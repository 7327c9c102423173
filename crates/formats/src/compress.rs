//! Single compressed streams: gzip, bzip2, xz, lzma-alone and zstd. Each
//! holds exactly one member, its expansion.
//!
//! Only gzip can store a name (FNAME); the others are named after the
//! container, minus its compression suffix (`a.tar.xz` holds `a.tar`,
//! `x.tgz` holds `x.tar`), else the container name plus `.out`.

use std::cell::Cell;
use std::io::Read;

use crate::{Counted, Ctx, Entry, Issue, Sink};

/// The member name for a stream without a stored name: `name` minus the
/// first matching suffix in `suffixes` (`(suffix, replacement)`, compared
/// ASCII case-insensitively), else `name` plus `.out`.
fn member_name(name: &str, suffixes: &[(&str, &str)]) -> String {
    for (suffix, replacement) in suffixes {
        let (n, s) = (name.len(), suffix.len());
        if n > s && name.is_char_boundary(n - s) && name[n - s..].eq_ignore_ascii_case(suffix) {
            return format!("{}{}", &name[..n - s], replacement);
        }
    }
    if name.is_empty() {
        "stream.out".to_string()
    } else {
        format!("{name}.out")
    }
}

/// Expands one stream and hands it out.
fn one(
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
    name: String,
    decoder: &mut dyn Read,
    packed: &Cell<u64>,
) {
    let expanded = ctx.expand(decoder, packed);
    sink(ctx, Entry::expanded(name, expanded));
}

// ---- gzip ------------------------------------------------------------

pub(crate) fn detect_gzip(data: &[u8]) -> bool {
    // Magic, method 8 (deflate), no reserved flag bits.
    data.len() >= 18 && data[0] == 0x1F && data[1] == 0x8B && data[2] == 8 && data[3] & 0xE0 == 0
}

/// The FNAME field of the gzip header at the start of `data`, if any.
fn gzip_fname(data: &[u8]) -> Option<String> {
    let flags = *data.get(3)?;
    if flags & 0x08 == 0 {
        return None;
    }
    let mut at = 10usize;
    if flags & 0x04 != 0 {
        let xlen = usize::from(u16::from_le_bytes([*data.get(10)?, *data.get(11)?]));
        at = at.checked_add(2 + xlen)?;
    }
    let rest = data.get(at..)?;
    // A name is short; a missing terminator within 4 KiB is garbage.
    let window = &rest[..rest.len().min(4096)];
    let end = window.iter().position(|&b| b == 0)?;
    (end > 0).then(|| String::from_utf8_lossy(&window[..end]).into_owned())
}

/// The members of a multi-member gzip stream, one after the other; stops
/// quietly at trailing bytes that do not start another member (padding,
/// as gzip(1) does). Counts the packed bytes consumed into `packed`.
struct GzMembers<'a, 'c> {
    data: &'a [u8],
    /// Start of the member being read.
    start: usize,
    current: Option<flate2::bufread::GzDecoder<&'a [u8]>>,
    packed: &'c Cell<u64>,
}

impl Read for GzMembers<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let rest = self.data.get(self.start..).unwrap_or(&[]);
            let decoder = match &mut self.current {
                Some(d) => d,
                None => {
                    if !rest.starts_with(&[0x1F, 0x8B]) {
                        return Ok(0);
                    }
                    self.current.insert(flate2::bufread::GzDecoder::new(rest))
                }
            };
            let n = decoder.read(buf)?;
            let consumed = rest.len() - decoder.get_ref().len();
            self.packed.set((self.start + consumed) as u64);
            if n > 0 {
                return Ok(n);
            }
            // This member is done; the next one starts where it ended.
            self.current = None;
            if consumed == 0 {
                return Ok(0);
            }
            self.start += consumed;
        }
    }
}

pub(crate) fn extract_gzip(
    data: &[u8],
    name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let member = gzip_fname(data).unwrap_or_else(|| {
        member_name(
            name,
            &[(".tgz", ".tar"), (".gz", ""), (".gzip", ""), (".z", "")],
        )
    });
    let packed = Cell::new(0);
    let mut decoder = GzMembers {
        data,
        start: 0,
        current: None,
        packed: &packed,
    };
    one(ctx, sink, member, &mut decoder, &packed);
    Ok(())
}

// ---- bzip2 -----------------------------------------------------------

pub(crate) fn detect_bzip2(data: &[u8]) -> bool {
    data.len() >= 14
        && data.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&data[3])
        // A block, or the end of an empty stream.
        && (data[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
            || data[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
}

pub(crate) fn extract_bzip2(
    data: &[u8],
    name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let member = member_name(
        name,
        &[
            (".tbz2", ".tar"),
            (".tbz", ".tar"),
            (".bz2", ""),
            (".bz", ""),
        ],
    );
    let packed = Cell::new(0);
    let mut decoder = bzip2::read::MultiBzDecoder::new(Counted::new(data, &packed));
    one(ctx, sink, member, &mut decoder, &packed);
    Ok(())
}

// ---- xz --------------------------------------------------------------

pub(crate) fn detect_xz(data: &[u8]) -> bool {
    // Magic, then stream flags: a zero byte and a check type below 16.
    data.len() >= 32 && data.starts_with(b"\xFD7zXZ\x00") && data[6] == 0 && data[7] < 16
}

/// Memory the LZMA/LZMA2 decoders may take for their dictionary, in KiB: a
/// dictionary larger than the largest member is never filled, and xz -9
/// uses 64 MiB.
fn dict_limit_kb(ctx: &Ctx) -> u32 {
    let bytes = ctx.limits().max_member_size.max(64 << 20) + (16 << 20);
    u32::try_from(bytes >> 10).unwrap_or(u32::MAX)
}

pub(crate) fn extract_xz(
    data: &[u8],
    name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let member = member_name(name, &[(".txz", ".tar"), (".xz", "")]);
    let packed = Cell::new(0);
    let mut decoder =
        lzma_rust2::XzReader::new_mem_limit(Counted::new(data, &packed), true, dict_limit_kb(ctx));
    one(ctx, sink, member, &mut decoder, &packed);
    Ok(())
}

// ---- lzma alone ------------------------------------------------------

/// The header of an LZMA-alone stream: properties, dictionary size and
/// declared size (`u64::MAX` for unknown).
fn lzma_header(data: &[u8]) -> Option<(u8, u32, u64)> {
    let h = data.get(..13)?;
    let props = h[0];
    let dict = u32::from_le_bytes([h[1], h[2], h[3], h[4]]);
    let mut s = [0u8; 8];
    s.copy_from_slice(&h[5..13]);
    Some((props, dict, u64::from_le_bytes(s)))
}

pub(crate) fn detect_lzma(data: &[u8]) -> bool {
    let Some((props, dict, size)) = lzma_header(data) else {
        return false;
    };
    // lc + lp * 9 + pb * 45 with lc <= 8, lp <= 4, pb <= 4.
    if props >= 225 {
        return false;
    }
    // The encoders write 2^n or 2^n + 2^(n-1), from 4 KiB to 1.5 GiB.
    let n = dict.trailing_zeros();
    let pow2 = dict.is_power_of_two();
    let pow2_half = dict.count_ones() == 2 && (dict >> n) == 0b11;
    if !(pow2 || pow2_half) || !(1 << 12..=3 << 29).contains(&dict) {
        return false;
    }
    // A known size must be plausible (below 256 GiB, and not empty for a
    // stream that carries data).
    if size != u64::MAX && (size == 0 || size > 1 << 38) {
        return false;
    }
    // The range coder's first byte is always zero.
    data.len() >= 18 && data[13] == 0
}

pub(crate) fn extract_lzma(
    data: &[u8],
    name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let member = member_name(name, &[(".tlz", ".tar"), (".lzma", "")]);
    let Some((props, dict, size)) = lzma_header(data) else {
        return Err(Issue::corrupt("lzma: header is cut short"));
    };
    // Output stops at the member size limit, so a larger dictionary would
    // never be filled: do not allocate it.
    let cap = u32::try_from(ctx.limits().max_member_size.max(1 << 12)).unwrap_or(u32::MAX);
    let dict = dict.clamp(1 << 12, cap);
    let packed = Cell::new(0);
    let input = Counted::new(data.get(13..).unwrap_or(&[]), &packed);
    let mut decoder = match lzma_rust2::LzmaReader::new_with_props(input, size, props, dict, None) {
        Ok(d) => d,
        Err(e) => return Err(Issue::corrupt(format!("lzma: bad header: {e}"))),
    };
    one(ctx, sink, member, &mut decoder, &packed);
    Ok(())
}

// ---- zstd ------------------------------------------------------------

pub(crate) fn detect_zstd(data: &[u8]) -> bool {
    // Magic, then a frame header descriptor with its reserved bit clear.
    data.len() >= 9 && data.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) && data[4] & 0x08 == 0
}

/// Largest window a zstd frame may ask for (2^27 = 128 MiB, the
/// reference decoder's default): larger frames are refused, not allocated.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

pub(crate) fn extract_zstd(
    data: &[u8],
    name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let member = member_name(name, &[(".tzst", ".tar"), (".zstd", ""), (".zst", "")]);
    let packed = Cell::new(0);
    let mut decoder = match zstd::stream::read::Decoder::new(Counted::new(data, &packed)) {
        Ok(d) => d,
        Err(e) => return Err(Issue::corrupt(format!("zstd: cannot start decoding: {e}"))),
    };
    if let Err(e) = decoder.window_log_max(ZSTD_WINDOW_LOG_MAX) {
        return Err(Issue::corrupt(format!("zstd: cannot set the window: {e}")));
    }
    one(ctx, sink, member, &mut decoder, &packed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, each_byte_flipped, random_bytes, walk, walk_with};
    use crate::{Format, IssueKind, Limits, identify};
    use std::io::Write;
    use std::time::{Duration, Instant};

    fn gzip(data: &[u8], fname: Option<&str>) -> Vec<u8> {
        let mut b = flate2::GzBuilder::new();
        if let Some(n) = fname {
            b = b.filename(n);
        }
        let mut e = b.write(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn bzip2(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut w =
            lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn lzma(data: &[u8], size: bool) -> Vec<u8> {
        let o = lzma_rust2::LzmaOptions::with_preset(6);
        let size = size.then_some(data.len() as u64);
        let mut w = lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &o, size).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        zstd::stream::encode_all(data, 3).unwrap()
    }

    /// A minimal ustar archive of one member, to nest something.
    fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let mut t = h.to_vec();
        t.extend_from_slice(data);
        t.resize(t.len().next_multiple_of(512) + 1024, 0);
        t
    }

    #[test]
    fn names() {
        let s: &[(&str, &str)] = &[(".tgz", ".tar"), (".gz", "")];
        assert_eq!(member_name("a.tar.gz", s), "a.tar");
        assert_eq!(member_name("x.TGZ", s), "x.tar");
        assert_eq!(member_name("blob", s), "blob.out");
        assert_eq!(member_name(".gz", s), ".gz.out");
        assert_eq!(member_name("", s), "stream.out");
        assert_eq!(member_name("é.gz", s), "é");
    }

    #[test]
    fn every_stream_nested() {
        let tar = tar_of("eicar.com", EICAR);
        let cases: Vec<(Format, Vec<u8>, &str, &str)> = vec![
            (
                Format::Gzip,
                gzip(&tar, None),
                "a.tar.gz",
                "a.tar!eicar.com",
            ),
            (
                Format::Gzip,
                gzip(&tar, Some("inner.tar")),
                "x.gz",
                "inner.tar!eicar.com",
            ),
            (Format::Bzip2, bzip2(&tar), "a.tbz2", "a.tar!eicar.com"),
            (Format::Xz, xz(&tar), "a.tar.xz", "a.tar!eicar.com"),
            (
                Format::Lzma,
                lzma(&tar, true),
                "a.tar.lzma",
                "a.tar!eicar.com",
            ),
            (Format::Lzma, lzma(&tar, false), "a.tlz", "a.tar!eicar.com"),
            (Format::Zstd, zstd(&tar), "a.tar.zst", "a.tar!eicar.com"),
            // Two levels of streams.
            (
                Format::Gzip,
                gzip(&xz(&tar), None),
                "a.tar.xz.gz",
                "a.tar.xz!a.tar!eicar.com",
            ),
        ];
        for (format, data, name, chain) in cases {
            assert_eq!(identify(&data), Some(format), "{name}");
            let w = walk(&data, name);
            let f = w.found.iter().find(|f| f.data == EICAR).expect(name);
            assert_eq!(f.chain, chain);
            assert!(w.issues.is_empty(), "{name}: {:?}", w.issues);
            assert!(w.found.iter().all(|f| f.issue.is_none()), "{name}");
        }
    }

    #[test]
    fn gzip_members_and_padding() {
        let mut g = gzip(b"first ", None);
        g.extend_from_slice(&gzip(EICAR, None));
        g.extend_from_slice(&[0u8; 300]);
        let w = walk(&g, "m.gz");
        assert_eq!(w.found.len(), 1);
        assert!(w.found[0].data.starts_with(b"first X5O"));
        assert!(w.found[0].issue.is_none());
    }

    #[test]
    fn gzip_of_zeros_stops_at_ratio() {
        // 1 MiB of zeros is about 1 KiB deflated; 4096 members expand to
        // 4 GiB from about 4 MiB.
        let member = gzip(&vec![0u8; 1 << 20], None);
        let mut bomb = Vec::with_capacity(member.len() * 4096);
        for _ in 0..4096 {
            bomb.extend_from_slice(&member);
        }
        let start = Instant::now();
        let w = walk(&bomb, "zeros.gz");
        assert!(start.elapsed() < Duration::from_secs(20));
        assert_eq!(w.found.len(), 1);
        let f = &w.found[0];
        assert_eq!(
            f.issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-ratio")
        );
        assert!(f.data.len() as u64 <= crate::RATIO_FLOOR + (1 << 20));
    }

    #[test]
    fn truncated_and_bit_flipped_do_not_panic() {
        let tar = tar_of("eicar.com", EICAR);
        let limits = Limits::default();
        for data in [
            gzip(&tar, Some("n")),
            bzip2(&tar),
            xz(&tar),
            lzma(&tar, true),
            zstd(&tar),
        ] {
            let format = identify(&data).unwrap();
            for n in 0..data.len() {
                let _ = walk_with(&data[..n], "t", &limits);
            }
            // Cut in the middle: whatever came out, the member is flagged.
            let w = walk(&data[..data.len() / 2], "t");
            if identify(&data[..data.len() / 2]) == Some(format) {
                assert!(
                    w.found.first().is_some_and(|f| f.issue.is_some()) || !w.issues.is_empty(),
                    "{format:?}: {:?}",
                    w.found
                );
            }
            each_byte_flipped(&data, &[0x10], |flipped| {
                let _ = walk_with(flipped, "t", &limits);
            });
        }
    }

    #[test]
    fn lzma_huge_dictionary_is_not_allocated() {
        let mut d = lzma(EICAR, true);
        // Claim a 1.5 GiB dictionary.
        d[1..5].copy_from_slice(&(3u32 << 29).to_le_bytes());
        assert!(detect_lzma(&d));
        let w = walk(&d, "e.lzma");
        assert_eq!(w.found[0].data, EICAR);
    }

    #[test]
    fn no_false_positives() {
        let random = random_bytes(65536, 0x9E37_79B9);
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(4096, 0);
        let text = b"Plain text, nothing compressed here.\n".repeat(20);
        for d in [&random[..], &elf, &text, &[0u8; 4096], b""] {
            assert!(!detect_gzip(d) && !detect_bzip2(d) && !detect_xz(d));
            assert!(!detect_lzma(d) && !detect_zstd(d));
        }
        // No lzma false positive at any offset of random data.
        let hits = (0..random.len() - 32)
            .filter(|&i| detect_lzma(&random[i..]))
            .count();
        assert_eq!(hits, 0);
    }
}
