//! `--heuristics` through the real binary: each heuristic fires with it
//! and not without, in every output (JSON, text, the clamd protocol), and
//! real files (zips written by Info-ZIP's `zip`, ClamAV's test files, the
//! Windows launchers Python's packaging tools ship) do not fire.
//!
//! Every sample is built here at test time: the overlapping zips by
//! rewriting the central directory of a zip written by the `zip` crate as
//! David Fifield's "A better zip bomb" (2019) does; the nested packers as
//! UPX-packed ELF files (UPX's `l_info`/`p_info`/`b_info` layout, deflate
//! blocks), each packing the previous one.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use util::serve::Server;
use util::*;

const OVERLAP: &str = "Heuristics.Zip.OverlappingFiles";
const BROKEN: &str = "Heuristics.Broken.Executable";
const NESTED: &str = "Heuristics.Packer.Nested";

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn u16_at(d: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([d[at], d[at + 1]]))
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
}

/// The offsets of the central directory entries and of the end record.
fn directory(z: &[u8]) -> (Vec<usize>, usize) {
    let eocd = (0..z.len() - 3)
        .rev()
        .find(|&i| &z[i..i + 4] == b"PK\x05\x06")
        .unwrap();
    let mut at = u32_at(z, eocd + 16) as usize;
    let mut entries = Vec::new();
    while at < eocd {
        entries.push(at);
        at += 46 + u16_at(z, at + 28) + u16_at(z, at + 30) + u16_at(z, at + 32);
    }
    (entries, eocd)
}

/// Fifield's full overlap: one member's data, and `copies` central
/// directory entries under other names all pointing at it.
fn full_overlap(copies: usize, data: &[u8]) -> Vec<u8> {
    let z = zip_of(&[("k0", data)]);
    let (entries, eocd) = directory(&z);
    let entry = &z[entries[0]..eocd];
    let mut out = z[..eocd].to_vec();
    for i in 1..copies {
        let mut e = entry.to_vec();
        e[46..48].copy_from_slice(format!("k{}", i % 10).as_bytes());
        out.extend_from_slice(&e);
    }
    let mut end = z[eocd..].to_vec();
    let n = (copies as u16).to_le_bytes();
    end[8..10].copy_from_slice(&n);
    end[10..12].copy_from_slice(&n);
    end[12..16].copy_from_slice(&((entry.len() * copies) as u32).to_le_bytes());
    out.extend_from_slice(&end);
    out
}

/// Fifield's quoted overlap, as far as the directory shows it: the first
/// member's data stretched over the second member's local header.
fn quoted_overlap() -> Vec<u8> {
    let mut z = zip_of(&[("a.txt", b"first"), ("b.txt", b"second")]);
    let (entries, _) = directory(&z);
    let first = entries[0];
    let packed = u32_at(&z, first + 20);
    z[first + 20..first + 24].copy_from_slice(&(packed + 40).to_le_bytes());
    z
}

/// A PE32 of one `.text` section holding `body` (raw size rounded up to
/// 0x200, at 0x200), the file as long as its headers say.
fn pe_with(body: &[u8]) -> Vec<u8> {
    let raw = body.len().div_ceil(0x200) * 0x200;
    let mut f = vec![0u8; 0x200 + raw];
    f[..2].copy_from_slice(b"MZ");
    f[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    f[0x40..0x44].copy_from_slice(b"PE\0\0");
    f[0x44..0x46].copy_from_slice(&0x14Cu16.to_le_bytes());
    f[0x46..0x48].copy_from_slice(&1u16.to_le_bytes());
    f[0x54..0x56].copy_from_slice(&0xE0u16.to_le_bytes());
    f[0x58..0x5A].copy_from_slice(&0x10Bu16.to_le_bytes());
    // SizeOfHeaders, file and section alignment.
    f[0x58 + 60..0x58 + 64].copy_from_slice(&0x200u32.to_le_bytes());
    f[0x58 + 32..0x58 + 36].copy_from_slice(&0x1000u32.to_le_bytes());
    f[0x58 + 36..0x58 + 40].copy_from_slice(&0x200u32.to_le_bytes());
    let s = 0x58 + 0xE0;
    f[s..s + 5].copy_from_slice(b".text");
    f[s + 8..s + 12].copy_from_slice(&(body.len() as u32).to_le_bytes());
    f[s + 12..s + 16].copy_from_slice(&0x1000u32.to_le_bytes());
    f[s + 16..s + 20].copy_from_slice(&(raw as u32).to_le_bytes());
    f[s + 20..s + 24].copy_from_slice(&0x200u32.to_le_bytes());
    f[0x200..0x200 + body.len()].copy_from_slice(body);
    f
}

/// Packs `original` as UPX packs an ELF file: an ELF header, `l_info`
/// (checksum, `UPX!`, loader size, version, format), `p_info` (program
/// id, file size, block size), one deflate block per 4 KiB after its
/// `b_info` (sizes, method 15, no filter), and the empty end block.
fn upx_elf(original: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 0x40];
    f[..7].copy_from_slice(b"\x7FELF\x02\x01\x01");
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(b"UPX!");
    f.extend_from_slice(&[0x00, 0x10, 13, 22]);
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(&(original.len() as u32).to_le_bytes());
    f.extend_from_slice(&4096u32.to_le_bytes());
    for part in original.chunks(4096) {
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(part).unwrap();
        let mut packed = d.finish().unwrap();
        let method = if packed.len() >= part.len() {
            // Stored, as UPX keeps a block that does not shrink.
            packed = part.to_vec();
            0
        } else {
            15
        };
        f.extend_from_slice(&(part.len() as u32).to_le_bytes());
        f.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        f.extend_from_slice(&[method, 0, 0, 0]);
        f.extend_from_slice(&packed);
    }
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(b"UPX!");
    f.extend_from_slice(&[0; 4]);
    f
}

/// EICAR packed `levels` times (what is packed need not be an ELF file:
/// UPX's ELF layout holds any bytes).
fn nested_upx(levels: usize) -> Vec<u8> {
    (0..levels).fold(eicar(), |f, _| upx_elf(&f))
}

/// The heuristic detections of a JSON scan, as (name, chain).
fn heuristics_of(o: &std::process::Output) -> Vec<(String, Vec<String>)> {
    findings(o)
        .iter()
        .flat_map(|f| {
            let chain: Vec<String> = f["chain"]
                .as_array()
                .map(|c| c.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            f["detections"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["engine"] == "heuristic")
                .map(move |d| (d["name"].as_str().unwrap().to_string(), chain.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn names(hits: &[(String, Vec<String>)]) -> Vec<&str> {
    hits.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn overlapping_zips_are_flagged_only_with_heuristics() {
    let t = Tree::new();
    t.write("full.zip", full_overlap(50, &b"kernel ".repeat(500)));
    t.write("quoted.zip", quoted_overlap());
    // Inside another container too.
    t.write(
        "outer.zip",
        zip_of(&[("bomb.zip", &full_overlap(3, b"data"))]),
    );

    let o = t.json(&[&t.arg("full.zip"), &t.arg("quoted.zip")]);
    assert!(heuristics_of(&o).is_empty(), "{}", stdout(&o));
    let o = t.json(&[&t.arg(".")]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));

    let o = t.json(&["--heuristics", &t.arg(".")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let f = findings(&o);
    let flagged = |name: &str| {
        f.iter()
            .find(|x| x["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not reported: {}", stdout(&o)))
    };
    for name in ["full.zip", "quoted.zip"] {
        let x = flagged(name);
        assert_eq!(x["chain"], serde_json::json!([]));
        let d = &x["detections"][0];
        assert_eq!(d["name"], OVERLAP);
        assert_eq!(d["engine"], "heuristic");
        assert_eq!(d["score"], 60);
        assert_eq!(d["source"], "builtin:heuristics");
        assert!(
            d["metadata"]["message"]
                .as_str()
                .unwrap()
                .contains("overlap")
        );
        assert!(x["sha256"].is_string());
    }
    let x = flagged("outer.zip");
    assert_eq!(x["chain"], serde_json::json!(["bomb.zip"]));
    assert_eq!(x["detections"][0]["name"], OVERLAP);

    // Text: one line per detection on stdout.
    let o = t.run(&["scan", "--heuristics", &t.arg("full.zip")]);
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains(&format!("full.zip: {OVERLAP} FOUND (heuristic, score 60")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn zips_written_by_info_zip_do_not_overlap() {
    if Command::new("zip").arg("-v").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install zip");
        eprintln!("skipped: zip not installed");
        return;
    }
    let t = Tree::new();
    for i in 0..30 {
        t.write(
            &format!("src/d{}/f{i}.txt", i % 4),
            format!("file {i}\n").repeat(i * 50),
        );
    }
    t.write("src/empty", "");
    let zip = |args: &[&str]| {
        let o = Command::new("zip")
            .current_dir(t.root())
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    zip(&["-qr", "deflated.zip", "src"]);
    zip(&["-qr0", "stored.zip", "src"]);
    zip(&["-qr9", "-fd", "descriptors.zip", "src"]);
    // A streamed zip (data descriptors) and a self-extracting one.
    let o = Command::new("sh")
        .current_dir(t.root())
        .args(["-c", "cat src/d1/f5.txt | zip -q - - > streamed.zip"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let mut sfx = pe_with(&[0xC3; 600]);
    sfx.extend_from_slice(&std::fs::read(t.path("deflated.zip")).unwrap());
    t.write("sfx.exe", sfx);
    zip(&["-qA", "sfx.exe"]);
    let o = t.json(&[
        "--heuristics",
        &t.arg("deflated.zip"),
        &t.arg("stored.zip"),
        &t.arg("descriptors.zip"),
        &t.arg("streamed.zip"),
        &t.arg("sfx.exe"),
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(heuristics_of(&o).is_empty(), "{}", stdout(&o));
    assert_eq!(summary(&o)["files_scanned"], 5, "{}", stdout(&o));
}

#[test]
fn pes_past_their_end_are_broken_only_with_heuristics() {
    let t = Tree::new();
    let whole = pe_with(&[0x90; 1000]);
    t.write("whole.exe", &whole);
    // The section's last bytes cut off, as by a failed download.
    t.write("cut.exe", &whole[..whole.len() - 100]);
    // The section table itself cut off.
    t.write("table.exe", &whole[..0x58 + 0xE0 + 20]);
    t.write("in.zip", zip_of(&[("cut.exe", &whole[..0x300])]));

    let o = t.json(&[&t.arg(".")]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let o = t.json(&["--heuristics", &t.arg(".")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let mut hits: Vec<(String, String)> = findings(&o)
        .iter()
        .map(|f| {
            let p = Path::new(f["path"].as_str().unwrap());
            let mut name = p.file_name().unwrap().to_string_lossy().into_owned();
            for c in f["chain"].as_array().unwrap() {
                name = format!("{name}!{}", c.as_str().unwrap());
            }
            assert_eq!(f["detections"].as_array().unwrap().len(), 1);
            (
                name,
                f["detections"][0]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    hits.sort();
    let want = |n: &str| (n.to_string(), BROKEN.to_string());
    assert_eq!(
        hits,
        [want("cut.exe"), want("in.zip!cut.exe"), want("table.exe")]
    );
    let table = findings(&o)
        .into_iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("table.exe"))
        .unwrap();
    let message = table["detections"][0]["metadata"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("section table"), "{message}");
}

/// A member cut by a limit is not what its headers say: not broken.
#[test]
fn a_member_cut_by_a_limit_is_not_broken() {
    let t = Tree::new();
    let whole = pe_with(&[0x90; 5000]);
    t.write("a.zip", zip_of(&[("a.exe", &whole)]));
    let o = t.json(&["--heuristics", "--max-filesize", "4K", &t.arg("a.zip")]);
    assert!(heuristics_of(&o).is_empty(), "{}", stdout(&o));
    assert!(stdout(&o).contains("max-filesize"), "{}", stdout(&o));
}

#[test]
fn nested_packers_are_flagged_past_max_packers() {
    let t = Tree::new();
    t.write("two", nested_upx(2));
    t.write("three", nested_upx(3));
    t.write("five", nested_upx(5));
    // The payload is found through every level, heuristics or not.
    let o = t.json(&[&t.arg("five")]);
    assert_eq!(code(&o), 1);
    assert!(heuristics_of(&o).is_empty(), "{}", stdout(&o));
    let eicar_at = findings(&o)
        .into_iter()
        .find(|f| f["detections"][0]["engine"] != "heuristic")
        .unwrap();
    assert_eq!(
        eicar_at["chain"],
        serde_json::json!(["upx", "upx", "upx", "upx", "upx"])
    );

    let o = t.json(&["--heuristics", &t.arg("two")]);
    assert!(heuristics_of(&o).is_empty(), "{}", stdout(&o));
    // Default 2: the third packer in a row is reported, once.
    for file in ["three", "five"] {
        let o = t.json(&["--heuristics", &t.arg(file)]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let hits = heuristics_of(&o);
        assert_eq!(
            hits,
            [(
                NESTED.to_string(),
                vec!["upx".to_string(), "upx".to_string()]
            )],
            "{file}"
        );
    }
    let o = t.json(&["--heuristics", "--max-packers", "4", &t.arg(".")]);
    let hits = heuristics_of(&o);
    assert_eq!(names(&hits), [NESTED]);
    assert_eq!(hits[0].1.len(), 4);
    let o = t.json(&["--heuristics", "--max-packers", "0", &t.arg("two")]);
    assert_eq!(heuristics_of(&o), [(NESTED.to_string(), vec![])]);
    let top = findings(&o)
        .into_iter()
        .find(|f| f["chain"] == serde_json::json!([]))
        .unwrap();
    let message = top["detections"][0]["metadata"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("packer number 1 in a row"), "{message}");

    // --max-packers means nothing without --heuristics.
    let o = t.run(&["scan", "--max-packers", "1", &t.arg("two")]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--heuristics"), "{}", stderr(&o));
}

/// The PE files Python's packaging tools ship as Windows launchers
/// (setuptools' cli/gui, distlib's t/w), all MSVC-built, in the venv with
/// the reference tools.
fn venv_pes() -> Vec<PathBuf> {
    let Some(python) = reference_python() else {
        return Vec::new();
    };
    let lib = python.parent().unwrap().parent().unwrap().join("lib");
    let mut found = Vec::new();
    for version in std::fs::read_dir(&lib).into_iter().flatten().flatten() {
        let site = version.path().join("site-packages");
        for dir in ["setuptools", "pip/_vendor/distlib"] {
            for e in std::fs::read_dir(site.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                if e.path().extension().is_some_and(|x| x == "exe") {
                    found.push(e.path());
                }
            }
        }
    }
    found
}

#[test]
fn real_executables_and_clamav_test_files_do_not_fire() {
    let Some(clam) = clamav_testfile("clam.exe") else {
        return;
    };
    let t = Tree::new();
    let dir = clam.parent().unwrap();
    let mut args = vec![
        "--heuristics".to_string(),
        dir.to_str().unwrap().to_string(),
    ];
    let pes = venv_pes();
    if std::env::var_os("CI").is_some() {
        assert!(pes.len() >= 4, "the venv's launchers: {pes:?}");
    }
    args.extend(pes.iter().map(|p| p.to_str().unwrap().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = t.json(&args);
    assert!(heuristics_of(&o).is_empty(), "{}", stdout(&o));
    assert!(summary(&o)["files_scanned"].as_u64().unwrap() >= 40 + pes.len() as u64);
    // The packed samples: a packer each, within the default.
    let upx = clamav_testfile("clam-upx.exe").unwrap();
    let o = t.json(&["--heuristics", "--max-packers", "0", upx.to_str().unwrap()]);
    let hits = heuristics_of(&o);
    assert_eq!(hits, [(NESTED.to_string(), vec![])], "{}", stdout(&o));
}

fn instream(addr: std::net::SocketAddr, data: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = b"zINSTREAM\0".to_vec();
    req.extend_from_slice(&(data.len() as u32).to_be_bytes());
    req.extend_from_slice(data);
    req.extend_from_slice(&0u32.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn serve_reports_heuristics_when_configured() {
    let t = Tree::new();
    let bomb = full_overlap(10, &b"harmless ".repeat(1000));
    let server = Server::on_loopback(&t, &[]);
    assert_eq!(instream(server.clamd(), &bomb), "stream: OK\0");
    server.stop();

    let server = Server::on_loopback(&t, &["--heuristics"]);
    assert_eq!(
        instream(server.clamd(), &bomb),
        format!("stream: {OVERLAP} FOUND\0")
    );
    server.stop();

    let config = t.write(
        "serve.toml",
        "[listen]\nhttp = [\"127.0.0.1:0\"]\nclamd_tcp = [\"127.0.0.1:0\"]\n\
         [limits]\nheuristics = true\nmax_packers = 4\n",
    );
    let server = Server::with_config(&t, &config);
    // The payload is EICAR: found either way; the heuristic only past
    // four packers.
    let five = instream(server.clamd(), &nested_upx(5));
    assert!(five.contains(&format!("{NESTED} FOUND")), "{five}");
    let four = instream(server.clamd(), &nested_upx(4));
    assert!(
        four.ends_with(" FOUND\0") && !four.contains("Heuristics"),
        "{four}"
    );
    server.stop();
}
