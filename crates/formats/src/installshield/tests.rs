//! Installers built here by hand, following the layouts in the module
//! docs (checked against ClamAV's `clam_IScab_*.exe` and
//! `clam_ISmsi_*.exe`, and InstallShield cabinets against Debian's
//! `unshield`), plus those test files when Debian's `clamav-testfiles` is
//! installed.

use std::io::Write;

use md5::{Digest, Md5};

use super::*;
use crate::packers::testpe::pe;
use crate::testutil::{EICAR, each_byte_flipped, random_flips, walk, walk_with};
use crate::{Format, IssueKind, Limits, identify};

fn stub() -> Vec<u8> {
    pe(&[(b".text", 0x1000, b"\xC3setup stub")], (0x1000, 0x200))
}

/// A plain overlay: `name\0Disk1\name\0version\0size\0data` per file.
fn plain_installer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut exe = stub();
    for (name, data) in files {
        write!(exe, "{name}\0Disk1\\{name}\x000.0.0.0\0{}\0", data.len()).unwrap();
        exe.extend_from_slice(data);
    }
    exe
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// The inverse of [`Decode`]: XOR with the key, invert, swap nibbles.
fn encode(data: &[u8], name: &str, block: usize) -> Vec<u8> {
    let key = key_of(name.as_bytes());
    data.iter()
        .enumerate()
        .map(|(i, &d)| (!(d ^ key[(i % block) % key.len()])).rotate_left(4))
        .collect()
}

/// An `InstallShield` overlay (after a CodeView record, as the stub
/// writes it): `(name, flags, data)`, compressed with zlib when `flags`
/// asks for encoding.
fn stream_installer(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut exe = stub();
    exe.extend_from_slice(b"NB10\0\0\0\0x\x030J\x01\0\0\0C:\\setup.pdb\0");
    exe.extend_from_slice(STREAM_MAGIC);
    exe.extend_from_slice(&(files.len() as u16).to_le_bytes());
    exe.extend_from_slice(&[0; 30]);
    for (name, flags, data) in files {
        let stored = match *flags {
            0 => data.to_vec(),
            f if f & FLAG_BLOCKS != 0 => encode(&zlib(data), name, BLOCK),
            _ => encode(&zlib(data), name, usize::MAX),
        };
        let mut entry = [0u8; STREAM_ENTRY_LEN];
        entry[..name.len()].copy_from_slice(name.as_bytes());
        entry[260..264].copy_from_slice(&flags.to_le_bytes());
        entry[268..272].copy_from_slice(&(stored.len() as u32).to_le_bytes());
        entry[280] = 1;
        exe.extend_from_slice(&entry);
        exe.extend_from_slice(&stored);
    }
    exe
}

/// A file of an InstallShield cabinet: name, directory index, volume,
/// content, compressed or stored.
struct CabFile<'a> {
    name: &'a str,
    dir: u16,
    volume: u16,
    data: &'a [u8],
    compressed: bool,
}

/// Raw deflate in chunks of at most `chunk` input bytes, each behind its
/// `u16` length, as InstallShield cabinets store files.
fn chunks(data: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(piece).unwrap();
        let c = z.finish().unwrap();
        out.extend_from_slice(&(c.len() as u16).to_le_bytes());
        out.extend_from_slice(&c);
    }
    out
}

/// A cabinet header and its data volumes (`data1.cab`, `data2.cab`...).
fn cabinet(dirs: &[&str], files: &[CabFile<'_>]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let volumes = files.iter().map(|f| f.volume).max().unwrap_or(1);
    let mut vols: Vec<Vec<u8>> = (0..volumes)
        .map(|_| {
            let mut v = b"ISc(\x00\x95\x00\x01".to_vec();
            v.resize(0x200, 0);
            v
        })
        .collect();
    // The string area: directory offsets, directory names, file names.
    let mut table = vec![0u8; dirs.len() * 4];
    for (i, d) in dirs.iter().enumerate() {
        let at = table.len() as u32;
        table[i * 4..i * 4 + 4].copy_from_slice(&at.to_le_bytes());
        table.extend_from_slice(d.as_bytes());
        table.push(0);
    }
    let mut descriptors = Vec::new();
    for f in files {
        let name_at = table.len() as u32;
        table.extend_from_slice(f.name.as_bytes());
        table.push(0);
        let vol = &mut vols[usize::from(f.volume) - 1];
        let offset = vol.len() as u64;
        let stored = if f.compressed {
            chunks(f.data, 700)
        } else {
            f.data.to_vec()
        };
        vol.extend_from_slice(&stored);
        let mut d = [0u8; FILE_LEN];
        d[0..2].copy_from_slice(&(if f.compressed { 4u16 } else { 0 }).to_le_bytes());
        d[2..10].copy_from_slice(&(f.data.len() as u64).to_le_bytes());
        d[10..18].copy_from_slice(&(stored.len() as u64).to_le_bytes());
        d[18..26].copy_from_slice(&offset.to_le_bytes());
        d[26..42].copy_from_slice(&Md5::digest(f.data));
        d[58..62].copy_from_slice(&name_at.to_le_bytes());
        d[62..64].copy_from_slice(&f.dir.to_le_bytes());
        d[85..87].copy_from_slice(&f.volume.to_le_bytes());
        descriptors.extend_from_slice(&d);
    }
    let files_at = table.len() as u32;
    table.extend_from_slice(&descriptors);
    let mut hdr = b"ISc(\x00\x95\x00\x01\0\0\0\0".to_vec();
    hdr.extend_from_slice(&0x200u32.to_le_bytes());
    hdr.resize(0x200, 0);
    let mut desc = [0u8; DESCRIPTOR_LEN];
    desc[0x0C..0x10].copy_from_slice(&(DESCRIPTOR_LEN as u32).to_le_bytes());
    desc[0x14..0x18].copy_from_slice(&(table.len() as u32).to_le_bytes());
    desc[0x1C..0x20].copy_from_slice(&(dirs.len() as u32).to_le_bytes());
    desc[0x28..0x2C].copy_from_slice(&(files.len() as u32).to_le_bytes());
    desc[0x2C..0x30].copy_from_slice(&files_at.to_le_bytes());
    hdr.extend_from_slice(&desc);
    hdr.extend_from_slice(&table);
    (hdr, vols)
}

const DESCRIPTOR_LEN: usize = 0x30;
const FILE_LEN: usize = 0x57;

fn text() -> Vec<u8> {
    b"an installer's readme, long enough to span several chunks. ".repeat(60)
}

/// A plain installer carrying a two-volume cabinet (a compressed file in
/// a directory, EICAR stored in the second volume) and a loose file.
fn cab_installer() -> Vec<u8> {
    let readme = text();
    let (hdr, vols) = cabinet(
        &["", "docs"],
        &[
            CabFile {
                name: "readme.txt",
                dir: 1,
                volume: 1,
                data: &readme,
                compressed: true,
            },
            CabFile {
                name: "eicar.com",
                dir: 0,
                volume: 2,
                data: EICAR,
                compressed: true,
            },
            CabFile {
                name: "stored.bin",
                dir: 0,
                volume: 1,
                data: b"stored as is",
                compressed: false,
            },
        ],
    );
    plain_installer(&[
        ("setup.ini", b"[Startup]\r\n"),
        ("data1.hdr", &hdr),
        ("data1.cab", &vols[0]),
        ("data2.cab", &vols[1]),
    ])
}

#[test]
fn plain_records_are_handed_out_by_name() {
    let exe = plain_installer(&[("setup.ini", b"[Startup]\r\n"), ("eicar.com", EICAR)]);
    assert_eq!(identify(&exe), Some(Format::InstallShield));
    let w = walk(&exe, "setup.exe");
    assert_eq!(w.chains(), ["setup.ini", "eicar.com"]);
    assert_eq!(w.found[1].data, EICAR);
    assert!(w.issues.is_empty(), "{w:?}");
}

#[test]
fn a_signed_setup_ends_at_its_signature() {
    let mut exe = plain_installer(&[("setup.ini", b"[Startup]\r\n"), ("eicar.com", EICAR)]);
    let cert = exe.len() as u32;
    // The security entry of the data directories: file offset and size.
    exe[0x118..0x11C].copy_from_slice(&cert.to_le_bytes());
    exe[0x11C..0x120].copy_from_slice(&16u32.to_le_bytes());
    exe.extend_from_slice(&[0x10, 0, 0, 0, 0, 2, 2, 0, 0x30, 0x82, 1, 2, 3, 4, 5, 6]);
    let w = walk(&exe, "setup.exe");
    assert_eq!(w.chains(), ["setup.ini", "eicar.com"]);
    assert!(w.issues.is_empty(), "{w:?}");
    // Without the entry, the signature reads as a damaged record.
    exe[0x118..0x120].fill(0);
    let w = walk(&exe, "setup.exe");
    assert!(reported(&w), "{w:?}");
}

#[test]
fn cabinets_are_unpacked_across_volumes() {
    let exe = cab_installer();
    let w = walk(&exe, "setup.exe");
    let chains = w.chains();
    for want in [
        "data1.cab\\docs\\readme.txt",
        "data1.cab\\eicar.com",
        "data1.cab\\stored.bin",
    ] {
        assert!(chains.contains(&want), "{want} not in {chains:?}");
    }
    assert_eq!(w.containing(EICAR).unwrap().chain, "data1.cab\\eicar.com");
    let readme = w
        .found
        .iter()
        .find(|f| f.chain.ends_with("readme.txt"))
        .unwrap();
    assert_eq!(readme.data, text());
    assert!(w.found.iter().all(|f| f.issue.is_none()), "{w:?}");
    assert!(w.issues.is_empty(), "{w:?}");
}

#[test]
fn damaged_cabinet_data_is_reported_by_its_md5() {
    let exe = cab_installer();
    // Flip a byte of the stored file inside data1.cab.
    let at = memchr::memmem::find(&exe, b"stored as is").unwrap();
    let mut bad = exe.clone();
    bad[at] ^= 0x20;
    let w = walk(&bad, "setup.exe");
    let f = w
        .found
        .iter()
        .find(|f| f.chain.ends_with("stored.bin"))
        .unwrap();
    let issue = f.issue.as_ref().unwrap();
    assert_eq!(issue.kind, IssueKind::Corrupt);
    assert!(issue.message.contains("MD5"), "{issue:?}");
}

#[test]
fn a_missing_volume_and_an_old_cabinet_are_reported() {
    let (hdr, vols) = cabinet(
        &[""],
        &[CabFile {
            name: "eicar.com",
            dir: 0,
            volume: 2,
            data: EICAR,
            compressed: true,
        }],
    );
    let exe = plain_installer(&[("data1.hdr", &hdr), ("data1.cab", &vols[0])]);
    let w = walk(&exe, "setup.exe");
    let f = w
        .found
        .iter()
        .find(|f| f.chain.ends_with("eicar.com"))
        .unwrap();
    assert!(
        f.issue.as_ref().unwrap().message.contains("volume 2"),
        "{f:?}"
    );
    // An InstallShield 5 version word.
    let mut old = hdr.clone();
    old[4..8].copy_from_slice(&0x0100_5000u32.to_le_bytes());
    let exe = plain_installer(&[("data1.hdr", &old), ("data1.cab", &vols[0])]);
    let w = walk(&exe, "setup.exe");
    assert!(
        w.issues
            .iter()
            .any(|(_, i)| i.kind == IssueKind::Unsupported),
        "{w:?}"
    );
}

#[test]
fn stream_files_are_decoded_and_inflated() {
    let readme = text();
    let exe = stream_installer(&[
        ("0x0409.ini", 6, &readme),
        ("eicar.com", 6, EICAR),
        ("whole.bin", 4, &readme),
        ("plain.txt", 0, b"as is"),
    ]);
    assert_eq!(identify(&exe), Some(Format::InstallShield));
    let w = walk(&exe, "setup.exe");
    assert_eq!(
        w.chains(),
        ["0x0409.ini", "eicar.com", "whole.bin", "plain.txt"]
    );
    assert_eq!(w.found[0].data, readme);
    assert_eq!(w.found[1].data, EICAR);
    assert_eq!(w.found[2].data, readme);
    assert_eq!(w.found[3].data, b"as is");
    assert!(w.issues.is_empty(), "{w:?}");
}

#[test]
fn not_installshield() {
    let mut exe = stub();
    assert!(!detect(&exe));
    exe.extend_from_slice(b"random overlay data\0\0\0");
    assert!(!detect(&exe));
    // A record whose path does not end with its name.
    let mut r = stub();
    r.extend_from_slice(b"a.txt\0Disk1\\b.txt\x000.0.0.0\x003\0abc");
    assert!(!detect(&r));
    // A size that is not a number.
    let mut r = stub();
    r.extend_from_slice(b"a.txt\0Disk1\\a.txt\x000.0.0.0\x003x\0abc");
    assert!(!detect(&r));
    // Records without the executable.
    let exe = plain_installer(&[("eicar.com", EICAR)]);
    assert!(!detect(&exe[0x600..]));
}

fn reported(w: &crate::testutil::Walk) -> bool {
    w.issues.iter().any(|(_, i)| i.kind == IssueKind::Corrupt)
        || w.found.iter().any(|f| f.issue.is_some())
}

#[test]
fn truncated_installers_are_reported_and_never_panic() {
    let readme = text();
    let stream = stream_installer(&[("a.ini", 6, &readme), ("eicar.com", 6, EICAR)]);
    let cab = cab_installer();
    for exe in [&stream, &cab] {
        let start = stub().len() + 1;
        for cut in (start..exe.len()).step_by(7) {
            let w = walk(&exe[..cut], "setup.exe");
            if detect(&exe[..cut]) {
                assert!(reported(&w), "cut at {cut}: {w:?}");
            }
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let readme = text();
    let stream = stream_installer(&[("a.ini", 6, &readme), ("eicar.com", 4, EICAR)]);
    let cab = cab_installer();
    for exe in [&stream, &cab] {
        let head = stub().len();
        each_byte_flipped(&exe[head..], &[0x01, 0x80], |d| {
            let mut v = exe[..head].to_vec();
            v.extend_from_slice(d);
            let _ = walk(&v, "setup.exe");
        });
        random_flips(exe, 11, 300, 8, |d| {
            let _ = walk(d, "setup.exe");
        });
    }
}

#[test]
fn a_bomb_stops_at_the_limits() {
    let zeros = vec![0u8; 4 << 20];
    let limits = Limits {
        max_member_size: 1 << 20,
        ..Limits::default()
    };
    let exe = stream_installer(&[("zeros", 6, &zeros)]);
    let w = walk_with(&exe, "setup.exe", &limits);
    let f = &w.found[0];
    assert_eq!(f.data.len(), 1 << 20);
    assert_eq!(
        f.issue.as_ref().unwrap().kind,
        IssueKind::Limit("max-filesize")
    );
    let (hdr, vols) = cabinet(
        &[""],
        &[CabFile {
            name: "zeros",
            dir: 0,
            volume: 1,
            data: &zeros,
            compressed: true,
        }],
    );
    let exe = plain_installer(&[("data1.hdr", &hdr), ("data1.cab", &vols[0])]);
    let w = walk_with(&exe, "setup.exe", &limits);
    let f = w.found.iter().find(|f| f.chain.ends_with("zeros")).unwrap();
    assert_eq!(f.data.len(), 1 << 20);
    assert_eq!(
        f.issue.as_ref().unwrap().kind,
        IssueKind::Limit("max-filesize")
    );
    // Entries per container.
    let many: Vec<(String, Vec<u8>)> = (0..20).map(|i| (format!("f{i}"), vec![i as u8])).collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let exe = plain_installer(&refs);
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let w = walk_with(&exe, "setup.exe", &limits);
    assert_eq!(w.found.len(), 5);
    assert!(
        w.issues
            .iter()
            .any(|(_, i)| i.kind == IssueKind::Limit("max-entries")),
        "{w:?}"
    );
}

/// MD5 of ClamAV's `clam.exe`.
const CLAM_EXE_MD5: &str = "aa15bcf478d165efd2065190eb473bcb";

#[test]
fn clamav_test_installers_give_clam_exe() {
    let dir = std::path::Path::new("/usr/share/clamav-testfiles");
    let cases = [
        ("clam_IScab_ext.exe", "clam.exe"),
        ("clam_IScab_int.exe", "data1.cab\\clam.exe"),
        ("clam_ISmsi_ext.exe", "clam.exe409.bmp"),
        ("clam_ISmsi_int.exe", "clam.msi!"),
    ];
    for (file, want) in cases {
        let Ok(exe) = std::fs::read(dir.join(file)) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install clamav-testfiles"
            );
            eprintln!("skipped: {file} (Debian clamav-testfiles) not installed");
            continue;
        };
        assert_eq!(identify(&exe), Some(Format::InstallShield), "{file}");
        let w = walk(&exe, file);
        let clam: Vec<&str> = w
            .found
            .iter()
            .filter(|f| format!("{:x}", Md5::digest(&f.data)) == CLAM_EXE_MD5)
            .map(|f| f.chain.as_str())
            .collect();
        assert!(
            clam.iter().any(|c| c.starts_with(want)),
            "{file}: clam.exe at {clam:?}, not {want}: {:?}",
            w.chains()
        );
        assert!(
            w.issues.is_empty() && w.found.iter().all(|f| f.issue.is_none()),
            "{file}: {w:?}"
        );
    }
}

/// Writes the fuzz seeds of `fmt_installshield` into the directory named
/// by `TAKEDOWN_SEED_DIR` (a tool, not a check: run with `--ignored`).
#[test]
#[ignore = "writes the fuzz seeds"]
fn write_fuzz_seeds() {
    let dir = std::path::PathBuf::from(std::env::var_os("TAKEDOWN_SEED_DIR").unwrap());
    let hello = b"hello\n".repeat(3);
    let (hdr, vols) = cabinet(
        &["", "docs"],
        &[
            CabFile {
                name: "hello.txt",
                dir: 1,
                volume: 1,
                data: &hello,
                compressed: true,
            },
            CabFile {
                name: "world.txt",
                dir: 0,
                volume: 2,
                data: b"world\n",
                compressed: false,
            },
        ],
    );
    let seeds = [
        plain_installer(&[("setup.ini", b"[Startup]\r\n"), ("hello.txt", &hello)]),
        plain_installer(&[
            ("data1.hdr", &hdr),
            ("data1.cab", &vols[0]),
            ("data2.cab", &vols[1]),
        ]),
        stream_installer(&[
            ("0x0409.ini", 6, &hello),
            ("whole.txt", 4, b"world\n"),
            ("plain.txt", 0, b"as is"),
        ]),
    ];
    std::fs::create_dir_all(&dir).unwrap();
    for (i, s) in seeds.iter().enumerate() {
        assert!(detect(s));
        std::fs::write(dir.join(format!("seed-{i}")), s).unwrap();
    }
}
