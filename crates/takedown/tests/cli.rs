//! Integration tests: the real binary over temporary trees.

mod util;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use util::*;

#[test]
fn builtin_pack_detects_eicar_and_exit_codes_follow_clamscan() {
    let t = Tree::new();
    t.write("clean/readme.txt", "hello");
    let clean = t.run(&["scan", &t.arg("clean")]);
    assert_eq!(code(&clean), 0, "{}", stderr(&clean));
    assert!(stdout(&clean).contains("Infected files: 0"));

    t.write("dirty/a/b/eicar.com", eicar());
    let dirty = t.run(&["scan", &t.arg("dirty")]);
    assert_eq!(code(&dirty), 1);
    let line = format!(
        "{}: EICAR_Test_File FOUND (yara, score 100, builtin:test-files.yar)",
        t.path("dirty/a/b/eicar.com").display()
    );
    assert!(
        stdout(&dirty).lines().any(|l| l == line),
        "{}",
        stdout(&dirty)
    );

    let missing = t.run(&["scan", &t.arg("does-not-exist")]);
    assert_eq!(code(&missing), 2);
    assert!(
        stderr(&missing).contains("does-not-exist") && stderr(&missing).contains("No such file"),
        "{}",
        stderr(&missing)
    );

    // Found beats error: 1.
    let both = t.run(&["scan", &t.arg("dirty"), &t.arg("does-not-exist")]);
    assert_eq!(code(&both), 1);
}

#[test]
fn no_builtin_leaves_the_pack_out() {
    let t = Tree::new();
    t.write("x/eicar.com", eicar());
    t.write(
        "sigs/other.yar",
        "rule other { strings: $a = \"zzzz-not-here\" condition: $a }",
    );
    let o = t.json(&["--no-builtin", "-s", &t.arg("sigs"), &t.arg("x")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(findings(&o).is_empty());
    let none = t.run(&["scan", "--no-builtin", &t.arg("x")]);
    assert_eq!(code(&none), 2);
    assert!(
        stderr(&none).contains("no signatures loaded"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn clamav_test_file_is_detected_by_the_builtin_pack() {
    // Debian's clamav-testfiles ships the real 544-byte clam.exe; CI
    // installs it. Elsewhere the test says so and checks nothing.
    let Some(sample) = clamav_testfile("clam.exe") else {
        return;
    };
    let t = Tree::new();
    std::fs::copy(sample, t.path("clam.exe")).unwrap();
    let o = t.json(&[t.root().to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let f = &findings(&o)[0];
    assert_eq!(f["detections"][0]["name"], "Clamav.Test.File-6");
    assert_eq!(f["detections"][0]["engine"], "hash");
    assert_eq!(
        f["sha256"],
        "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495"
    );
    assert_eq!(f["size"], 544);
}

#[test]
fn every_signature_format_detects() {
    let t = Tree::new();
    let target = t.write(
        "scan/dropper.bin",
        b"harmless test content AVALANCHE-TEST-MARKER\n",
    );
    let content = std::fs::read(&target).unwrap();
    let d = |algs| {
        use std::process::Command;
        let out = Command::new(algs).arg(&target).output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let (md5, sha1, sha256) = (d("md5sum"), d("sha1sum"), d("sha256sum"));
    let size = content.len();
    t.write("sigs/rules/marker.yara", "rule Marker_Yara : tag1 tag2 { meta: score = 85 author = \"test\" strings: $m = \"AVALANCHE-TEST-MARKER\" condition: $m }");
    t.write("sigs/clam.hdb", format!("{md5}:{size}:Test.Md5.Hdb\n"));
    t.write(
        "sigs/clam.hsb",
        format!("{sha1}:*:Test.Sha1.Hsb\n{sha256}:{size}:Test.Sha256.Hsb\n"),
    );
    t.write(
        "sigs/iocs/hash-iocs.txt",
        format!("# Loki\n{md5};70;Test Md5 Loki\n"),
    );
    t.write(
        "sigs/iocs/filename-iocs.txt",
        "# Dropper name\n/scan/dropper\\.bin;65\n",
    );
    let o = t.json(&["--no-builtin", "-s", &t.arg("sigs"), &t.arg("scan")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        detection_names(&o),
        [
            "Dropper name",
            "Marker_Yara",
            "Test Md5 Loki",
            "Test.Md5.Hdb",
            "Test.Sha1.Hsb",
            "Test.Sha256.Hsb"
        ]
        .map(String::from)
    );
    let f = &findings(&o)[0];
    assert_eq!(f["sha256"], sha256);
    let yara = f["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["engine"] == "yara")
        .unwrap();
    assert_eq!(yara["score"], 85);
    assert_eq!(yara["tags"], serde_json::json!(["tag1", "tag2"]));
    assert_eq!(yara["metadata"]["author"], "test");
    assert!(
        yara["source"]
            .as_str()
            .unwrap()
            .ends_with("sigs/rules/marker.yara")
    );
    let name = f["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["engine"] == "name")
        .unwrap();
    assert_eq!(name["score"], 65);
    let loki = f["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Test Md5 Loki")
        .unwrap();
    assert_eq!(loki["score"], 70);
    assert_eq!(loki["metadata"]["md5"], md5);

    // Each allow-list format silences the file entirely.
    for (file, line) in [
        ("allow.fp", format!("{md5}:{size}:Ok")),
        ("allow.sfp", format!("{sha256}:{size}:Ok")),
        (
            "iocs/falsepositive-hashes.txt",
            format!("{sha1};known good"),
        ),
    ] {
        let a = Tree::new();
        a.write(&format!("allow/{file}"), line);
        let o = a.json(&[
            "--no-builtin",
            "-s",
            &t.arg("sigs"),
            "-s",
            &a.arg("allow"),
            &t.arg("scan"),
        ]);
        assert_eq!(code(&o), 0, "{file}: {}", stdout(&o));
        assert!(findings(&o).is_empty(), "{file}");
    }
}

#[test]
fn yara_externals_are_defined_per_file() {
    let t = Tree::new();
    t.write("sigs/ext.yar", "rule Ext { condition: filename == \"payload.EXE\" and extension == \".exe\" and filetype == \"EXE\" and filepath endswith \"/dir/payload.EXE\" and owner != \"\" }");
    t.write("scan/dir/payload.EXE", b"MZ\x90\x00rest");
    t.write("scan/dir/other.exe", b"MZ\x90\x00rest");
    let o = t.json(&["--no-builtin", "-s", &t.arg("sigs/ext.yar"), &t.arg("scan")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let f = findings(&o);
    assert_eq!(f.len(), 1);
    assert!(f[0]["path"].as_str().unwrap().ends_with("/dir/payload.EXE"));
}

#[test]
fn broken_rule_file_is_reported_and_the_rest_loads() {
    let t = Tree::new();
    t.write(
        "sigs/a_good.yar",
        "rule Good { strings: $a = \"GOOD-MARKER\" condition: $a }",
    );
    t.write("sigs/b_bad.yar", "rule Fine { condition: false }\n\nrule Broken {\n  strings: $a = \"x\"\n  condition: $a and\n}\n");
    t.write(
        "sigs/c_good.yara",
        "rule AlsoGood { strings: $a = \"OTHER-MARKER\" condition: $a }",
    );
    t.write("sigs/d_bad.hsb", "not a hash line\n");
    t.write("scan/f", "GOOD-MARKER OTHER-MARKER");
    let o = t.run(&["scan", "--no-builtin", "-s", &t.arg("sigs"), &t.arg("scan")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}:6: ", t.path("sigs/b_bad.yar").display())),
        "names file and line: {err}"
    );
    assert!(
        err.contains(&format!(
            "{}:1: expected hash:size:name",
            t.path("sigs/d_bad.hsb").display()
        )),
        "{err}"
    );
    assert!(
        stdout(&o).contains("Good FOUND") && stdout(&o).contains("AlsoGood FOUND"),
        "{}",
        stdout(&o)
    );

    let strict = t.run(&[
        "scan",
        "--strict",
        "--no-builtin",
        "-s",
        &t.arg("sigs"),
        &t.arg("scan"),
    ]);
    assert_eq!(code(&strict), 2);
    assert!(stderr(&strict).contains("--strict"), "{}", stderr(&strict));
    assert!(stdout(&strict).is_empty());
}

#[test]
fn unreadable_signature_file_in_directory_is_an_error_not_a_crash() {
    let t = Tree::new();
    t.write(
        "sigs/ok.yar",
        "rule Ok { strings: $a = \"OK-MARKER\" condition: $a }",
    );
    t.write("sigs/binary.yar", b"rule \xff\xfe { condition: true }");
    t.write("scan/f", "OK-MARKER");
    let o = t.run(&["scan", "--no-builtin", "-s", &t.arg("sigs"), &t.arg("scan")]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("binary.yar:1:"), "{}", stderr(&o));
}

#[test]
fn fifo_socket_and_symlink_loop_do_not_stop_the_scan() {
    let t = Tree::new();
    t.write("tree/eicar.com", eicar());
    let fifo = t.path("tree/fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(t.path("tree/sock")).unwrap();
    std::os::unix::fs::symlink("..", t.path("tree/loop")).unwrap();
    for follow in [false, true] {
        let tree = t.path("tree");
        let mut args = vec!["scan", "--format", "json", tree.to_str().unwrap()];
        if follow {
            args.push("--follow-symlinks");
        }
        let o = t.run(&args);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let s = summary(&o);
        assert_eq!(s["files_scanned"], 1);
        assert_eq!(s["skipped"], 2, "FIFO and socket are skipped, never opened");
        let loops: Vec<_> = findings(&o)
            .into_iter()
            .filter(|f| f["problems"].to_string().contains("loop"))
            .collect();
        assert_eq!(
            loops.len(),
            usize::from(follow),
            "a loop is only seen when following links"
        );
    }
    // Met while walking, they are only counted: no finding names them.
    let o = t.json(&[t.path("tree").to_str().unwrap()]);
    assert!(
        findings(&o)
            .iter()
            .all(|f| f["problems"].as_array().unwrap().is_empty()),
        "{}",
        stdout(&o)
    );
    // Named explicitly, each is skipped (never opened: the scan finishes) and
    // said to be, with what it is; that is no error (exit 0).
    let sock = t.path("tree/sock");
    let o = t.json(&[fifo.to_str().unwrap(), sock.to_str().unwrap(), "/dev/null"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(summary(&o)["skipped"], 3);
    assert_eq!(summary(&o)["errors"], 0);
    let said: Vec<(String, String)> = findings(&o)
        .iter()
        .map(|f| {
            let p = &f["problems"][0];
            assert_eq!(p["kind"], "skipped", "{f}");
            (
                f["path"].as_str().unwrap().to_string(),
                p["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(said.len(), 3, "{}", stdout(&o));
    for (path, what) in [
        (fifo.to_str().unwrap(), "a FIFO:"),
        (sock.to_str().unwrap(), "a socket:"),
        ("/dev/null", "a character device:"),
    ] {
        assert!(
            said.iter().any(|(p, m)| p == path && m.starts_with(what)),
            "{path}: {said:?}"
        );
    }
    let o = t.run(&["scan", fifo.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("skipped") && stderr(&o).contains("a FIFO: never opened"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn symlinks_are_not_followed_unless_asked() {
    let t = Tree::new();
    t.write("outside/eicar.com", eicar());
    std::fs::create_dir_all(t.path("tree")).unwrap();
    std::os::unix::fs::symlink(t.path("outside"), t.path("tree/dirlink")).unwrap();
    std::os::unix::fs::symlink(t.path("outside/eicar.com"), t.path("tree/filelink")).unwrap();
    let o = t.run(&["scan", &t.arg("tree")]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let o = t.json(&["-L", &t.arg("tree")]);
    assert_eq!(code(&o), 1);
    assert_eq!(findings(&o).len(), 2);
    // A link named on the command line is followed: the user asked for it.
    let o = t.json(&[&t.arg("tree/filelink")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(findings(&o)[0]["detections"][0]["name"], "EICAR_Test_File");
    // With -L, a link to nothing is skipped and said to be, not an error.
    std::os::unix::fs::symlink(t.path("nowhere"), t.path("tree/dangling")).unwrap();
    let o = t.json(&["-L", &t.arg("tree")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(summary(&o)["errors"], 0, "{}", stdout(&o));
    let dangling: Vec<_> = findings(&o)
        .into_iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with("dangling"))
        .collect();
    assert_eq!(dangling.len(), 1, "{}", stdout(&o));
    assert_eq!(dangling[0]["problems"][0]["kind"], "skipped");
}

#[test]
fn relative_exclude_is_taken_from_the_current_directory() {
    let t = Tree::new();
    t.write("tree/keep/eicar.com", eicar());
    t.write("tree/skip/eicar.com", eicar());
    let mut c = t.cmd();
    c.current_dir(t.root()).args([
        "scan",
        "--format",
        "json",
        "--exclude",
        "tree/skip/",
        "tree",
    ]);
    let o = c.output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let paths: Vec<String> = findings(&o)
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert!(paths[0].ends_with("keep/eicar.com"), "{paths:?}");
}

#[test]
fn signature_files_that_are_fifos_or_have_a_bom_or_nest_too_deep() {
    let t = Tree::new();
    t.write("tree/hello.txt", b"hello");
    t.write(
        "rules/bom.yar",
        b"\xEF\xBB\xBFrule Hello { strings: $a = \"hello\" condition: $a }\n",
    );
    t.write(
        "rules/iocs/filename-iocs.txt",
        b"\xEF\xBB\xBFhello\\.txt;70\n",
    );
    let deep = format!("rule Deep {{ condition: {}true }}\n", "not ".repeat(50_000));
    t.write("rules/deep.yar", deep);
    let fifo = t.path("rules/fifo.yar");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let (rules, tree) = (t.arg("rules"), t.arg("tree"));
    // Met in the directory or named directly, the FIFO never hangs the
    // load; the deep file never reaches the compiler (it would abort the
    // run); the byte order marks cost nothing.
    for named in [false, true] {
        let mut args = vec!["--no-builtin", "-s", &rules, &tree];
        if named {
            args.extend(["-s", fifo.to_str().unwrap()]);
        }
        let o = t.json(&args);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(
            err.contains("fifo.yar: cannot read: not a regular file"),
            named,
            "only a FIFO named with -s is worth a word: {err}"
        );
        assert!(
            err.contains("deep.yar:1: nested more than 1000 levels deep"),
            "{err}"
        );
        assert!(
            !err.contains("bom.yar") && !err.contains("filename-iocs"),
            "{err}"
        );
        let found = findings(&o);
        let mut engines: Vec<&str> = found[0]["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["engine"].as_str().unwrap())
            .collect();
        engines.sort_unstable();
        assert_eq!(engines, ["name", "yara"], "{}", stdout(&o));
    }
}

#[test]
fn nothing_loaded_says_why() {
    let t = Tree::new();
    t.write("tree/x", b"x");
    t.write("rules/broken.yar", b"rule { condition: }");
    t.write("rules/iocs/filename-iocs.txt", b";\n");
    let o = t.run(&[
        "scan",
        "--no-builtin",
        "-s",
        &t.arg("rules"),
        &t.arg("tree"),
    ]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("broken.yar:1:"), "{err}");
    assert!(err.contains("filename-iocs.txt:1:"), "{err}");
    assert!(err.contains("no signatures loaded"), "{err}");
}

#[test]
fn unreadable_file_is_reported_and_skipped() {
    let t = Tree::new();
    t.write("tree/eicar.com", eicar());
    let secret = t.write("tree/secret", "x");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::create_dir_all(t.path("tree/locked")).unwrap();
    t.write("tree/locked/inner", "x");
    std::fs::set_permissions(
        t.path("tree/locked"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    // Root reads anything: run as nobody so permissions apply.
    std::fs::set_permissions(t.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = if is_root() {
        let mut c = std::process::Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_takedown"),
        ]);
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_takedown"))
    };
    c.args(["scan", "--no-cache", "--format", "json", &t.arg("tree")]);
    let o = run_with_timeout(c, 60);
    let f = findings(&o);
    let problem = |name: &str| {
        f.iter()
            .find(|x| x["path"].as_str().unwrap().ends_with(name))
            .map(|x| x["problems"][0]["message"].as_str().unwrap().to_string())
    };
    assert!(
        problem("/secret").unwrap().contains("Permission denied"),
        "{f:?}"
    );
    assert!(
        problem("/locked").unwrap().contains("Permission denied"),
        "{f:?}"
    );
    let s = summary(&o);
    assert_eq!(s["errors"], 2);
    assert_eq!(s["files_detected"], 1, "the rest is still scanned");
    assert_eq!(code(&o), 1);
    std::fs::set_permissions(
        t.path("tree/locked"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

#[test]
fn hostile_file_names_are_sanitised() {
    let t = Tree::new();
    std::fs::create_dir_all(t.path("tree")).unwrap();
    let name =
        std::ffi::OsStr::from_bytes(b"evil\x1b]0;pwned\x07\x1b[2J\xff\xfe\xe2\x80\xaecom.exe");
    std::fs::write(t.path("tree").join(name), eicar()).unwrap();
    let o = t.run(&["scan", "--color", "never", &t.arg("tree")]);
    assert_eq!(code(&o), 1);
    let out = &o.stdout;
    assert!(
        !out.contains(&0x1b) && !out.contains(&0x07),
        "no raw escape bytes reach the terminal"
    );
    let text = stdout(&o);
    assert!(
        text.contains(
            r"evil\u{1b}]0;pwned\u{7}\u{1b}[2J\xff\xfe\u{202e}com.exe: EICAR_Test_File FOUND"
        ),
        "{text}"
    );

    let j = t.json(&[&t.arg("tree")]);
    let f = &findings(&j)[0];
    use std::io::Write;
    let raw = t.path("tree").join(name);
    let mut expect = Vec::new();
    expect.write_all(raw.as_os_str().as_bytes()).unwrap();
    let b64 = f["path_base64"]
        .as_str()
        .expect("non-UTF-8 path carries its exact bytes");
    let decoded = std::process::Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b64.as_bytes())?;
            c.wait_with_output()
        });
    assert_eq!(decoded.unwrap().stdout, expect);
}

#[test]
fn file_truncated_while_scanned_does_not_crash() {
    let t = Tree::new();
    let big = t.path("tree/big.bin");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    let block = vec![0x41u8; 1 << 20];
    let write_big = |p: &std::path::Path| {
        let mut f = std::fs::File::create(p).unwrap();
        for _ in 0..48 {
            std::io::Write::write_all(&mut f, &block).unwrap();
        }
    };
    write_big(&big);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let b2 = big.clone();
    let mutator = std::thread::spawn(move || {
        let mut i = 0u64;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            // Truncate in place, regrow, and replace by rename.
            let f = std::fs::OpenOptions::new().write(true).open(&b2).unwrap();
            f.set_len(if i.is_multiple_of(2) { 0 } else { 4096 })
                .unwrap();
            f.set_len(48 << 20).unwrap();
            drop(f);
            if i.is_multiple_of(3) {
                let tmp = b2.with_extension("tmp");
                std::fs::write(&tmp, b"short").unwrap();
                std::fs::rename(&tmp, &b2).unwrap();
            }
            i += 1;
        }
    });
    for _ in 0..15 {
        let o = t.json(&[big.to_str().unwrap()]);
        let c = code(&o);
        assert!(c == 0 || c == 2, "exit {c}: {}", stderr(&o));
        summary(&o);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    mutator.join().unwrap();
}

#[test]
fn stdin_and_file_list() {
    let t = Tree::new();
    let mut c = t.cmd();
    c.args(["scan", "--format", "json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &eicar()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1);
    assert_eq!(findings(&o)[0]["path"], "-");
    assert_eq!(findings(&o)[0]["sha256"], EICAR_SHA256);

    let a = t.write("a/eicar1.com", eicar());
    t.write("b/eicar2.com", eicar());
    let list = t.write(
        "list.txt",
        format!("{}\n\n{}\n", a.display(), t.path("b").display()),
    );
    let o = t.json(&["--file-list", list.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert_eq!(findings(&o).len(), 2);
    let bad = t.run(&["scan", "--file-list", &t.arg("nope.txt")]);
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("nope.txt"));
}

#[test]
fn max_filesize_and_excludes() {
    let t = Tree::new();
    t.write("tree/small.com", eicar());
    t.write("tree/big.bin", vec![b'A'; 4096]);
    t.write("tree/skipme/eicar.com", eicar());
    t.write("tree/logs/x.log", eicar());
    let o = t.json(&[
        "--max-filesize",
        "1K",
        "--exclude",
        "skipme",
        "--exclude",
        "*.log",
        &t.arg("tree"),
    ]);
    assert_eq!(code(&o), 1);
    let s = summary(&o);
    assert_eq!(s["files_scanned"], 1);
    assert_eq!(s["skipped"], 1);
    let f = findings(&o);
    let big = f
        .iter()
        .find(|x| x["path"].as_str().unwrap().ends_with("big.bin"))
        .unwrap();
    assert_eq!(big["problems"][0]["kind"], "limit");
    assert_eq!(big["problems"][0]["limit"], "max-filesize");
    assert!(!stdout(&o).contains("skipme") && !stdout(&o).contains("x.log"));
    let bad = t.run(&["scan", "--exclude", "a[", &t.arg("tree")]);
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("a["));
}

#[test]
fn compiled_rules_are_cached() {
    let t = Tree::new();
    t.write(
        "sigs/r.yar",
        "rule R { strings: $a = \"CACHE-MARKER\" condition: $a }",
    );
    t.write("scan/f", "CACHE-MARKER");
    let (sigs, scan) = (t.path("sigs"), t.path("scan"));
    let args = ["scan", "-s", sigs.to_str().unwrap(), scan.to_str().unwrap()];
    let first = t.run(&args);
    assert!(!stdout(&first).contains("from cache"), "{}", stdout(&first));
    let second = t.run(&args);
    assert!(
        stdout(&second).contains("(YARA from cache)"),
        "{}",
        stdout(&second)
    );
    assert_eq!(code(&second), 1);
    // Editing a rule invalidates.
    t.write(
        "sigs/r.yar",
        "rule R2 { strings: $a = \"CACHE-MARKER\" condition: $a }",
    );
    let third = t.run(&args);
    assert!(!stdout(&third).contains("from cache"));
    assert!(stdout(&third).contains("R2 FOUND"));
}

#[test]
fn broken_pipe_exits_quietly() {
    let t = Tree::new();
    for i in 0..2000 {
        t.write(&format!("tree/{i:04}.com"), eicar());
    }
    let mut c = t.cmd();
    c.args(["scan", "--format", "json", "-j", "2", &t.arg("tree")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    drop(out);
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        code(&o),
        1,
        "quiet exit on a closed pipe, saying what it saw"
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn closed_stderr_is_no_panic() {
    // `2>&1 | head -1`: stderr goes away while problems are still printed.
    let t = Tree::new();
    let missing: Vec<String> = (0..3000).map(|i| t.arg(&format!("gone{i}"))).collect();
    let mut c = t.cmd();
    c.arg("scan")
        .args(&missing)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut err = child.stderr.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut err, &mut first).unwrap();
    drop(err);
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(2),
        "errors and nothing found, no panic (101)"
    );
}

#[test]
fn failed_output_write_is_an_error() {
    // A full disk under stdout loses results: never a silent exit 0.
    if !Path::new("/dev/full").exists() {
        return;
    }
    let t = Tree::new();
    for i in 0..3000 {
        t.write(&format!("dirty/{i:04}.com"), eicar());
        t.write(&format!("clean/{i:04}.txt"), b"harmless");
    }
    for (tree, want) in [("dirty", 1), ("clean", 2)] {
        let mut c = t.cmd();
        c.args(["scan", "--format", "json", &t.arg(tree)])
            .stdout(std::fs::File::create("/dev/full").unwrap());
        let o = c.output().unwrap();
        assert_eq!(code(&o), want, "{tree}: {}", stderr(&o));
        assert!(stderr(&o).contains("cannot write output"), "{}", stderr(&o));
    }
}

#[test]
fn ctrl_c_stops_with_a_partial_summary() {
    let t = Tree::new();
    // Enough work that the scan is still running when the signal comes.
    let blob: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    // Each file different: copies of one content would be scanned once.
    for i in 0..600u32 {
        let mut b = blob.clone();
        b[..4].copy_from_slice(&i.to_le_bytes());
        t.write(&format!("tree/{i:04}.bin"), &b);
    }
    t.write(
        "sigs/slow.yar",
        "rule Slow { strings: $a = /[a-f]{3}[0-9]{2}.{0,40}[A-F]{2}/ condition: $a }",
    );
    let mut c = t.cmd();
    c.args([
        "scan",
        "--no-cache",
        "--format",
        "json",
        "-j",
        "1",
        "-s",
        &t.arg("sigs"),
        &t.arg("tree"),
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 130, "{}", stderr(&o));
    let s = summary(&o);
    assert_eq!(s["interrupted"], true);
    assert!(
        s["files_scanned"].as_u64().unwrap() < 600,
        "stopped early: {s}"
    );
}

#[test]
fn json_output_matches_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/finding.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let t = Tree::new();
    t.write("tree/eicar.com", eicar());
    t.write("tree/big", vec![0u8; 2048]);
    std::fs::write(
        t.path("tree")
            .join(std::ffi::OsStr::from_bytes(b"bad\xffname")),
        eicar(),
    )
    .unwrap();
    t.write("sigs/iocs/filename-iocs.txt", "eicar\\.com;50\n");
    let o = t.json(&[
        "--max-filesize",
        "1K",
        "-s",
        &t.arg("sigs"),
        &t.arg("tree"),
        &t.arg("missing"),
        "/dev/null",
    ]);
    let lines = ndjson(&o);
    assert!(lines.len() >= 6, "{lines:?}");
    assert!(
        lines.iter().any(|v| v["problems"][0]["kind"] == "skipped"),
        "{lines:?}"
    );
    for v in &lines {
        if let Err(e) = validator.validate(v) {
            panic!("schema violation: {e}\n{v}");
        }
    }
    // And the schema is not vacuous: a malformed record fails.
    assert!(validator.validate(&serde_json::json!({"type":"finding","version":1,"path":"x","chain":[],"detections":[{"engine":"magic"}],"problems":[]})).is_err());
}

#[test]
fn yara_timeout_is_a_problem_and_the_scan_goes_on() {
    let t = Tree::new();
    // A condition that touches every byte of a large file many times.
    t.write("sigs/slow.yar", "rule Slow { condition: for all i in (0..filesize - 1) : ( for all j in (0..3) : ( uint8(i) != 0xAB ) ) and for all k in (0..filesize - 1) : ( uint16(k) != 0xABAB ) }");
    // About 3.5 s in a release build: well over the shortest timeout, 1 s
    // (yara-x counts timeouts in whole seconds).
    t.write("tree/big.bin", vec![0u8; 64 << 20]);
    t.write("tree/eicar.com", eicar());
    let o = t.json(&["--timeout", "1", "-s", &t.arg("sigs"), &t.arg("tree")]);
    let f = findings(&o);
    let big = f
        .iter()
        .find(|x| x["path"].as_str().unwrap().ends_with("big.bin"))
        .expect("timeout is reported");
    assert_eq!(big["problems"][0]["kind"], "timeout");
    assert!(
        f.iter()
            .any(|x| x["path"].as_str().unwrap().ends_with("eicar.com")),
        "the rest is scanned"
    );
    assert_eq!(summary(&o)["errors"], 1);
    assert_eq!(code(&o), 1);
}

#[test]
fn one_file_system_stays_on_the_target_file_system() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let t = Tree::new();
    t.write("tree/here.com", eicar());
    let mnt = t.path("tree/mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "takedown-test",
            mnt.to_str().unwrap(),
        ])
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to mount a tmpfs"
        );
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    std::fs::write(mnt.join("there.com"), eicar()).unwrap();
    let all = t.json(&[&t.arg("tree")]);
    assert_eq!(findings(&all).len(), 2);
    let one = t.json(&["--one-file-system", &t.arg("tree")]);
    let f = findings(&one);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0]["path"].as_str().unwrap().ends_with("here.com"));
}
