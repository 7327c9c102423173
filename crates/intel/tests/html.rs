//! The HTML report, read back two ways: structurally (what tags and
//! attributes it holds, how hostile names come out) and in a real headless
//! Chromium (the DOM it builds, a PDF, a screenshot).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use takedown_intel::Tlp;
use takedown_intel::html::{HtmlOptions, write_report};
use takedown_intel::records::{
    ActionRecord, DetectionRecord, FindingRecord, ProblemRecord, Run, SourceRecord, SummaryRecord,
};

/// A name that would be an element if it were not escaped.
const IMG: &str = "<img src=x onerror=alert(1)>.exe";
/// A name that would read `invoice_exe.pdf` if the bidi override worked.
const RLO: &str = "invoice_\u{202E}fdp.exe";
/// A script element in a rule name.
const SCRIPT: &str = "Evil_<script>alert('x')</script>_Rule";
/// Quotes, ampersand, controls, zero-width, a replacement character.
const MIXED: &str = "a\"b'c&d\u{1b}[2J\u{200B}e\u{FFFD}f\nx.dll";

/// How long one Chromium run may take before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

fn det(
    engine: &str,
    name: &str,
    score: u32,
    family: Option<&str>,
    tags: &[&str],
) -> DetectionRecord {
    let mut metadata = serde_json::Map::new();
    if let Some(f) = family {
        metadata.insert("malware_family".into(), f.into());
    }
    DetectionRecord {
        engine: engine.into(),
        name: name.into(),
        score,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        metadata,
        source: "/opt/sigs/emotet.yar".into(),
    }
}

fn problem(kind: &str, limit: Option<&str>, message: &str) -> ProblemRecord {
    ProblemRecord {
        kind: kind.into(),
        limit: limit.map(String::from),
        message: message.into(),
    }
}

fn summary(host: &str, files: u64, detected: u64, detections: u64) -> SummaryRecord {
    SummaryRecord {
        files_scanned: files,
        bytes_scanned: 123_456_789,
        members_scanned: 4_321,
        files_detected: detected,
        detections,
        errors: 2,
        skipped: 1,
        elapsed_seconds: 75.5,
        interrupted: false,
        quarantined: 2,
        deleted: 0,
        refused: 1,
        failed: 0,
        host: Some(host.into()),
        started: Some("2026-12-06T10:00:00Z".into()),
        signatures: vec![
            SourceRecord {
                path: "/opt/sigs/emotet.yar".into(),
                kind: "yara".into(),
                entries: 42,
            },
            SourceRecord {
                path: "builtin:eicar".into(),
                kind: "builtin".into(),
                entries: 3,
            },
        ],
    }
}

/// Two hosts, detections inside containers, families, every action status,
/// every problem kind, and hostile names everywhere a string goes.
fn runs() -> Vec<Run> {
    let pc1 = Run {
        origin: "pc1.ndjson".into(),
        findings: vec![
            FindingRecord {
                path: "/home/alice/Downloads/outer.zip".into(),
                chain: vec!["inner.exe".into()],
                size: Some(68),
                sha256: Some(
                    "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f".into(),
                ),
                detections: vec![
                    det(
                        "yara",
                        "Emotet_Loader_2026",
                        100,
                        Some("Emotet"),
                        &["banker", "loader"],
                    ),
                    det("hash", "EICAR_Test_File", 80, None, &[]),
                ],
                problems: vec![],
                action: Some(ActionRecord {
                    action: "quarantine".into(),
                    status: "done".into(),
                    target: "/home/alice/Downloads/outer.zip".into(),
                    vault_id: Some("vault-0001".into()),
                    reason: None,
                }),
                ..Default::default()
            },
            FindingRecord {
                path: format!("/home/alice/{IMG}"),
                size: Some(1024),
                sha256: Some("aa".repeat(32)),
                detections: vec![det("yara", SCRIPT, 65, Some(IMG), &[IMG])],
                action: Some(ActionRecord {
                    action: "quarantine".into(),
                    status: "refused".into(),
                    target: format!("/home/alice/{IMG}"),
                    vault_id: None,
                    reason: Some(format!("owned by {IMG}")),
                }),
                ..Default::default()
            },
            FindingRecord {
                path: "/home/alice/mail.eml".into(),
                chain: vec!["attachment.zip".into(), RLO.into()],
                detections: vec![det(
                    "name",
                    "Suspicious_Double_Extension",
                    45,
                    Some("Nymaim"),
                    &[],
                )],
                problems: vec![problem(
                    "encrypted",
                    None,
                    "member is encrypted, no password worked",
                )],
                ..Default::default()
            },
            FindingRecord {
                path: "/tmp/big.iso".into(),
                problems: vec![problem(
                    "limit",
                    Some("max-scansize"),
                    "expanded more than 400 MiB",
                )],
                ..Default::default()
            },
            FindingRecord {
                path: format!("/tmp/{MIXED}"),
                problems: vec![problem("error", None, &format!("permission denied: {IMG}"))],
                ..Default::default()
            },
        ],
        summary: Some(summary("pc1-alice", 12_345, 3, 4)),
        ..Default::default()
    };
    let srv = Run {
        origin: "srv.ndjson".into(),
        findings: vec![
            FindingRecord {
                path: "/var/www/upload/shell.php".into(),
                size: Some(2048),
                sha256: Some("bb".repeat(32)),
                detections: vec![det(
                    "yara",
                    "Webshell_Generic",
                    90,
                    Some("Emotet"),
                    &["webshell"],
                )],
                action: Some(ActionRecord {
                    action: "delete".into(),
                    status: "failed".into(),
                    target: "/var/www/upload/shell.php".into(),
                    vault_id: None,
                    reason: Some("read-only file system".into()),
                }),
                ..Default::default()
            },
            FindingRecord {
                path: "/var/log/huge.log".into(),
                problems: vec![problem("timeout", None, "YARA scan timed out after 60 s")],
                ..Default::default()
            },
            FindingRecord {
                path: "/proc/kcore".into(),
                problems: vec![problem("skipped", None, "not a regular file")],
                ..Default::default()
            },
        ],
        summary: Some(SummaryRecord {
            interrupted: true,
            quarantined: 0,
            refused: 0,
            failed: 1,
            ..summary("srv-web-01", 67_890, 1, 1)
        }),
        ..Default::default()
    };
    vec![pc1, srv]
}

fn options() -> HtmlOptions {
    HtmlOptions {
        title: Some(format!("Case 2026-17 {IMG}")),
        tlp: Some(Tlp::Amber),
        now: time::macros::datetime!(2026-12-07 08:30:00 UTC),
    }
}

fn report() -> String {
    let mut out = Vec::new();
    write_report(&runs(), &options(), &mut out).expect("write report");
    String::from_utf8(out).expect("the report is UTF-8")
}

/// Every tag of an HTML text (a raw `<` only ever opens a tag in our
/// output: text has it escaped), as its name and attribute names.
fn tags(html: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("every tag closes");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            found.push(("!".to_string(), vec![tag.to_string()]));
            continue;
        }
        let tag = tag.trim_start_matches('/');
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        // Attribute names: what precedes each `=` outside quotes.
        let mut attrs = Vec::new();
        let mut in_quote = None;
        let mut word = String::new();
        for c in tag[name.len()..].chars() {
            match (in_quote, c) {
                (Some(q), c) if c == q => in_quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => in_quote = Some(c),
                (None, '=') => attrs.push(std::mem::take(&mut word)),
                (None, c) if c.is_whitespace() => word.clear(),
                (None, c) => word.push(c),
            }
        }
        found.push((name.to_ascii_lowercase(), attrs));
    }
    found
}

/// Text of an HTML document: tags dropped, the character references we
/// and Chromium write turned back into characters.
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    // Skip the style sheet, which is not text a person reads.
    if let (Some(a), Some(b)) = (rest.find("<style>"), rest.find("</style>")) {
        text.push_str(&strip(&rest[..a]));
        rest = &rest[b..];
    }
    text.push_str(&strip(rest));
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

fn strip(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn report_holds_no_active_content_and_only_escaped_names() {
    let html = report();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
    ));
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script",
        "<img",
        "<iframe",
        "<object",
        "<link",
        "url(",
        "@import",
        "@font-face",
        "javascript:",
    ] {
        assert!(!lower.contains(bad), "{bad} in the report");
    }
    // Only these elements and attributes, whatever the findings said.
    let elements = [
        "!", "html", "head", "meta", "title", "style", "body", "header", "div", "span", "h1", "h2",
        "h3", "dl", "dt", "dd", "section", "p", "table", "colgroup", "col", "thead", "tbody", "tr",
        "th", "td", "strong", "small", "br", "em", "footer",
    ];
    let attributes = [
        "lang",
        "charset",
        "http-equiv",
        "content",
        "name",
        "class",
        "colspan",
        "scope",
        "style",
    ];
    for (name, attrs) in tags(&html) {
        assert!(
            elements.contains(&name.as_str()),
            "element <{name}> in the report"
        );
        if name != "!" {
            for a in &attrs {
                assert!(
                    attributes.contains(&a.as_str()),
                    "attribute {a} on <{name}>"
                );
            }
        }
    }
    // The hostile strings only ever escaped, never raw.
    for raw in [
        IMG, SCRIPT, "<script>", "\u{202E}", "\u{200B}", "\u{1b}", "\u{FFFD}",
    ] {
        assert!(!html.contains(raw), "{raw:?} raw in the report");
    }
    assert!(
        html.contains("/home/alice/<span class=\"v\">&lt;img src=x onerror=alert(1)&gt;.exe")
            || html.contains(
                "<span class=\"v\">/home/alice/&lt;img src=x onerror=alert(1)&gt;.exe</span>"
            )
    );
    assert!(html.contains("Evil_&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;_Rule"));
    assert!(html.contains("invoice_<span class=\"c\">\\u{202e}</span>fdp.exe"));
    assert!(html.contains(
        "a&quot;b&#39;c&amp;d<span class=\"c\">\\u{1b}</span>[2J<span class=\"c\">\\u{200b}</span>e<span class=\"c\">\\u{fffd}</span>f<span class=\"c\">\\n</span>x.dll"
    ));
    // In the title, where no markup goes, the codes are text.
    assert!(html.contains("<title>Case 2026-17 &lt;img src=x onerror=alert(1)&gt;.exe</title>"));
    // TLP 2.0 colours, and printed as they are.
    assert!(html.contains("TLP:AMBER"));
    assert!(html.contains("#FFC000"));
    assert!(html.contains("print-color-adjust: exact"));
    assert!(html.contains("thead { display: table-header-group; }"));
    assert!(html.contains("overflow-wrap: anywhere"));
    assert!(html.contains("@page"));
}

#[test]
fn report_lists_what_the_runs_hold_in_order() {
    let html = report();
    let text = text_of(&html);
    for want in [
        "pc1-alice",
        "srv-web-01",
        "12,345",
        "67,890",
        "80,235", // total files scanned
        "123,456,789 B",
        "4,321",
        "Quarantined202",
        "Refused101",
        "Failed011",
        "interrupted",
        "1 min 15 s",
        "/home/alice/Downloads/outer.zip \u{25B8} inner.exe",
        "/home/alice/mail.eml \u{25B8} attachment.zip \u{25B8} invoice_\\u{202e}fdp.exe",
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
        "Emotet_Loader_2026",
        "quarantine: done",
        "vault-0001",
        "quarantine: refused",
        "delete: failed",
        "read-only file system",
        "max-scansize",
        "expanded more than 400 MiB",
        "YARA scan timed out after 60 s",
        "not a regular file",
        "member is encrypted, no password worked",
        "/opt/sigs/emotet.yar",
        "builtin:eicar",
        "2026-12-07 08:30:00 UTC",
        "TLP:AMBER",
    ] {
        assert!(text.contains(want), "{want:?} not in the report text");
    }
    // Problems grouped by kind, in the documented order.
    let order: Vec<usize> = [
        "Errors (1)",
        "Timeouts (1)",
        "Limits reached (1)",
        "Encrypted (1)",
        "Skipped (1)",
    ]
    .iter()
    .map(|h| {
        text.find(h)
            .unwrap_or_else(|| panic!("{h} not in the report"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    // Most severe first within a host: 100 before 65 before 45.
    let a = text.find("Emotet_Loader_2026").unwrap();
    let b = text.find("Evil_<script>").unwrap();
    let c = text.find("Suspicious_Double_Extension").unwrap();
    assert!(a < b && b < c);
    // Families with counts: Emotet on two files on two hosts.
    let fam = &text[text.find("Families seen").unwrap()..];
    assert!(fam.contains("Emotet22"), "{}", &fam[..200.min(fam.len())]);
}

#[test]
fn tlp_colours_follow_tlp_2() {
    for (tlp, colour, label) in [
        (Tlp::Clear, "#FFFFFF", "TLP:CLEAR"),
        (Tlp::Green, "#33FF00", "TLP:GREEN"),
        (Tlp::Amber, "#FFC000", "TLP:AMBER"),
        (Tlp::AmberStrict, "#FFC000", "TLP:AMBER+STRICT"),
        (Tlp::Red, "#FF2B2B", "TLP:RED"),
    ] {
        let mut out = Vec::new();
        let opts = HtmlOptions {
            tlp: Some(tlp),
            ..options()
        };
        write_report(&[], &opts, &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(
            html.contains(&format!(
                "content: \"{label}\"; color: {colour}; background: #000"
            )),
            "{label}"
        );
        assert!(
            html.contains(&format!("<span class=\"tlp-label\">{label}</span>")),
            "{label}"
        );
    }
    let mut out = Vec::new();
    let opts = HtmlOptions {
        tlp: None,
        ..options()
    };
    write_report(&[], &opts, &mut out).unwrap();
    let html = String::from_utf8(out).unwrap();
    assert!(!html.contains("TLP:"), "no TLP banner when none is set");
    assert!(html.contains("No detections."));
}

#[test]
fn a_run_cut_short_is_listed_with_its_findings() {
    let mut runs = runs();
    runs[1].summary = None;
    let mut out = Vec::new();
    write_report(&runs, &options(), &mut out).unwrap();
    let text = text_of(&String::from_utf8(out).unwrap());
    assert!(text.contains("no summary"));
    assert!(text.contains("srv.ndjson"));
    assert!(text.contains("Webshell_Generic"));
}

#[test]
fn a_hundred_thousand_findings_render_quickly() {
    let findings: Vec<FindingRecord> = (0..100_000u32)
        .map(|i| FindingRecord {
            path: format!("/data/share/user{}/file-{i}.exe", i % 100),
            chain: if i % 3 == 0 {
                vec![format!("inner-{i}.dll")]
            } else {
                vec![]
            },
            size: Some(u64::from(i) * 7),
            sha256: Some(format!("{i:064x}")),
            detections: vec![det(
                "yara",
                &format!("Rule_{}", i % 50),
                40 + i % 61,
                Some("Fam"),
                &["t"],
            )],
            problems: if i % 10 == 0 {
                vec![problem("limit", Some("max-depth"), "too deep")]
            } else {
                vec![]
            },
            ..Default::default()
        })
        .collect();
    let runs = vec![Run {
        origin: "big.ndjson".into(),
        findings,
        summary: Some(summary("big", 1_000_000, 100_000, 100_000)),
        ..Default::default()
    }];
    let start = Instant::now();
    let mut sink = CountingSink::default();
    write_report(&runs, &options(), &mut sink).unwrap();
    let took = start.elapsed();
    assert!(sink.bytes > 100_000 * 300, "{} bytes", sink.bytes);
    // Written as it goes: many writes, none of them the whole page.
    assert!(
        sink.largest < 1 << 20,
        "one write of {} bytes",
        sink.largest
    );
    // Generous for an unoptimised build on a busy machine; a release build
    // takes a fraction of a second.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    eprintln!("100,000 findings: {} bytes in {took:?}", sink.bytes);
}

#[derive(Default)]
struct CountingSink {
    bytes: usize,
    largest: usize,
}

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len();
        self.largest = self.largest.max(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `chromium`, or `None` (skip) when it is not on PATH, except under CI.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("chromium not on PATH: .ci/run installs Debian's chromium");
        }
        eprintln!("skipped: chromium not on PATH (apt-get install chromium)");
    }
    found
}

/// Runs headless Chromium on `page` with `args`, stdout to `stdout`;
/// killed after [`CHROMIUM_TIMEOUT`].
fn run_chromium(chromium: &Path, profile: &Path, args: &[String], page: &Path, stdout: &Path) {
    let out = std::fs::File::create(stdout).unwrap();
    let err_path = stdout.with_extension("err");
    let err = std::fs::File::create(&err_path).unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {args:?} did not finish in {CHROMIUM_TIMEOUT:?}: {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "chromium {args:?} failed ({status}): {}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
}

#[test]
fn chromium_renders_prints_and_shows_no_hostile_element() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, report()).unwrap();

    // The DOM Chromium built.
    let dom_path = dir.path().join("dom.html");
    run_chromium(
        &chromium,
        &dir.path().join("profile-dom"),
        &["--dump-dom".into()],
        &page,
        &dom_path,
    );
    let dom = std::fs::read_to_string(&dom_path).unwrap();
    assert!(dom.contains("<table"), "no DOM dumped: {dom}");
    let lower = dom.to_ascii_lowercase();
    for bad in ["<img", "<script", "<iframe", "onerror=\"", "<a "] {
        assert!(!lower.contains(bad), "{bad} in Chromium's DOM");
    }
    assert!(
        !dom.contains('\u{202E}'),
        "a raw bidi override reached the DOM"
    );
    let text = text_of(&dom);
    for want in [
        "pc1-alice",
        "srv-web-01",
        "12,345",
        "67,890",
        "80,235",
        "Quarantined202",
        "/home/alice/Downloads/outer.zip \u{25B8} inner.exe",
        "/home/alice/<img src=x onerror=alert(1)>.exe",
        "invoice_\\u{202e}fdp.exe",
        "Emotet_Loader_2026",
        "Evil_<script>alert('x')</script>_Rule",
        "Webshell_Generic",
        "quarantine: done",
        "delete: failed",
        "TLP:AMBER",
    ] {
        assert!(text.contains(want), "{want:?} not in Chromium's DOM text");
    }

    // Printed.
    let pdf = dir.path().join("r.pdf");
    run_chromium(
        &chromium,
        &dir.path().join("profile-pdf"),
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
        &page,
        &dir.path().join("pdf.out"),
    );
    let bytes = std::fs::read(&pdf).expect("a PDF was written");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    assert!(bytes.len() > 10_000, "PDF of {} bytes", bytes.len());

    // On screen.
    let png = dir.path().join("r.png");
    run_chromium(
        &chromium,
        &dir.path().join("profile-png"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,1600".into(),
        ],
        &page,
        &dir.path().join("png.out"),
    );
    let bytes = std::fs::read(&png).expect("a screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 10_000, "PNG of {} bytes", bytes.len());

    // To look at by hand: TAKEDOWN_KEEP_REPORT=DIR keeps the three files.
    if let Some(keep) = std::env::var_os("TAKEDOWN_KEEP_REPORT") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        for f in ["report.html", "r.pdf", "r.png"] {
            std::fs::copy(dir.path().join(f), keep.join(f)).unwrap();
        }
    }
}
