//! Integration tests of installer unpacking: NSIS installers built at test
//! time with the real `makensis` (Debian `nsis`) around EICAR, with each
//! compressor, solid and not, scanned by the real binary.
//!
//! Without `makensis` the tests skip, saying so, except under CI, where
//! that is a failure (`.ci/run` installs it).

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use util::*;

/// `makensis`, or `None` (skip) when it is missing, except under CI.
fn makensis() -> Option<PathBuf> {
    let ok = Command::new("makensis")
        .arg("-VERSION")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "makensis is required under CI (.ci/run installs nsis)"
    );
    if !ok {
        eprintln!("skipped: makensis (Debian nsis) is not installed");
    }
    ok.then(|| PathBuf::from("makensis"))
}

/// Builds `dir/NAME.exe` from a script installing `readme.txt` and
/// `eicar.com` (both in `dir`) with `compressor` (`zlib`, `bzip2`,
/// `lzma`, each optionally preceded by `/SOLID`).
fn build(makensis: &Path, dir: &Path, name: &str, compressor: &str) -> PathBuf {
    let script = format!(
        "Unicode true\nSetCompressor {compressor}\nOutFile \"{name}.exe\"\n\
         InstallDir \"$TEMP\\takedown-test\"\nSection\nSetOutPath \"$INSTDIR\"\n\
         File readme.txt\nFile eicar.com\nSectionEnd\n"
    );
    std::fs::write(dir.join(format!("{name}.nsi")), script).unwrap();
    let o = Command::new(makensis)
        .current_dir(dir)
        .args(["-V1", &format!("{name}.nsi")])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "makensis: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    dir.join(format!("{name}.exe"))
}

#[test]
fn eicar_is_found_in_nsis_installers_of_every_compressor_solid_and_not() {
    let Some(makensis) = makensis() else {
        return;
    };
    let t = Tree::new();
    let src = t.path("src");
    std::fs::create_dir_all(&src).unwrap();
    // Text that compresses, larger than one 900,000-byte bzip2 block, so
    // that the NSIS bzip2 decoder crosses a block boundary.
    let readme: Vec<u8> = (0..120_000u32)
        .flat_map(|i| format!("line {i} of the readme\n").into_bytes())
        .collect();
    std::fs::write(src.join("readme.txt"), &readme).unwrap();
    std::fs::write(src.join("eicar.com"), eicar()).unwrap();
    let out = t.path("out");
    std::fs::create_dir_all(&out).unwrap();
    for compressor in [
        "zlib",
        "bzip2",
        "lzma",
        "/SOLID zlib",
        "/SOLID bzip2",
        "/SOLID lzma",
    ] {
        let name = compressor.replace("/SOLID ", "solid-");
        let exe = build(&makensis, &src, &name, compressor);
        let dest = out.join(format!("{name}.exe"));
        std::fs::rename(&exe, &dest).unwrap();
        let o = t.json(&[dest.to_str().unwrap()]);
        assert_eq!(code(&o), 1, "{compressor}: {}", stderr(&o));
        let f = findings(&o);
        assert_eq!(f.len(), 1, "{compressor}: {f:#?}");
        assert_eq!(
            f[0]["chain"],
            serde_json::json!(["eicar.com"]),
            "{compressor}"
        );
        assert_eq!(f[0]["sha256"], EICAR_SHA256, "{compressor}");
        // The script header and both files, each complete.
        let s = summary(&o);
        assert_eq!(s["members_scanned"], 3, "{compressor}: {s}");
        assert!(
            f[0]["problems"].as_array().unwrap().is_empty(),
            "{compressor}: {f:#?}"
        );
    }
}

#[test]
fn truncated_nsis_installer_is_reported_and_the_scan_goes_on() {
    let Some(makensis) = makensis() else {
        return;
    };
    let t = Tree::new();
    let src = t.path("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("readme.txt"), b"hello ".repeat(1000)).unwrap();
    std::fs::write(src.join("eicar.com"), eicar()).unwrap();
    let exe = std::fs::read(build(&makensis, &src, "cut", "/SOLID lzma")).unwrap();
    let at = exe.windows(12).position(|w| w == b"NullsoftInst").unwrap();
    // Cut in the middle of the compressed stream.
    let cut = &exe[..at + 200];
    t.write("scan/cut.exe", cut);
    t.write("scan/eicar.com", eicar());
    let o = t.json(&[&t.arg("scan")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let f = findings(&o);
    assert!(
        f.iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("cut.exe")
                && f["problems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["message"].as_str().unwrap_or("").contains("nsis:"))),
        "{f:#?}"
    );
    assert!(
        f.iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("eicar.com")
                && !f["detections"].as_array().unwrap().is_empty())
    );
}
