//! Notices end to end: events grouped, rendered as mail, and read back
//! by the reference tools.
//!
//! * Python's `email` package (`policy=email.policy.default`) parses
//!   every message: the headers (one Subject, as rendered, hostile family
//!   names never making a header of their own), the text in the language
//!   chosen, the `events.csv` attachment (read with Python's `csv`: the
//!   same rows, formula cells with a leading `'`), and the X-ARF parts.
//! * Every X-ARF report is validated against the official X-ARF v4
//!   schema (`tests/data/xarf/`, xarf-spec v4.2.0) with `jsonschema`
//!   (draft 2020-12, format checking on), and parsed by the official
//!   `xarf` Python library (its default mode; see the script for why
//!   not strict).
//! * Every IntelMQ line is added key by key to an IntelMQ `Event` with
//!   IntelMQ 3.5's harmonisation and sanitising off: a wrong key or a
//!   value not already in harmonised form fails.
//!
//! Needs the reference Python (`.venv`, or `TAKEDOWN_PYTHON`) with
//! jsonschema, xarf and intelmq; skipped with a message without them,
//! except under `CI`, where that fails. The Rust-only checks run always.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use takedown_notify::Event;
use takedown_notify::contacts::{ContactRef, Country, RuleRef};
use takedown_notify::notice::{
    Grouper, Key, Notice, Period, RenderOptions, Renderer, intelmq_line,
};

const DAY: i64 = 86_400_000_000;
/// 2026-12-05 (a Saturday), in days.
const D: i64 = 20_792;
/// The `Date` of the rendered messages: 2026-12-09T09:00:00Z.
const DATE: i64 = 1_796_806_800;

/// Family names a hostile report could carry.
const HOSTILE: [&str; 8] = [
    "evil\r\nBcc: victim@example.org",
    "=cmd|' /C calc'!A0",
    "日本語ファミリー",
    "a,b\"c",
    "+danger",
    "Subject: fake\r\n\r\nbody",
    "nul\0byte",
    "rtl\u{202E}gnp.exe",
];

fn ev(ip: &str, family: &str, time: i64) -> Event {
    Event {
        ip: Some(ip.parse().unwrap()),
        time: Some(time),
        family: Some(family.to_string()),
        report_type: "sinkhole-events".into(),
        file: "report.csv".into(),
        line: 2,
        ..Event::default()
    }
}

struct Fixture {
    notices: Vec<Notice>,
    renderer: Renderer,
}

fn options() -> RenderOptions {
    RenderOptions {
        lang: "auto".into(),
        templates: None,
        from: "CERT Example <cert@cert.example>".into(),
        reply_to: Some("Incident desk <desk@cert.example>".into()),
        org: "CERT Example".into(),
        contact: "cert@cert.example".into(),
        scan_url: Some("https://scan.cert.example/".into()),
        check_url: Some("https://check.cert.example/".into()),
    }
}

/// Three contacts: a Japanese network (60 rows: more than the body
/// lists), a German one (by a RIPE range), and one elsewhere whose
/// reports carry hostile family names and destinations.
fn fixture() -> Fixture {
    let mut g = Grouper::new(Period::Week);
    let jp = ContactRef {
        address: "abuse@isp.example.jp",
        rule: RuleRef::OverrideAsn(64_501),
    };
    for i in 0..60 {
        let mut e = ev(&format!("192.0.2.{i}"), "mirai", D * DAY + i * 1_000_000);
        e.country = Some("JP".into());
        e.asn = Some(64_501);
        e.port = Some(40_000 + i as u16);
        e.destination = Some("198.51.100.7:23".into());
        assert!(g.add(&e, &jp));
        // The same machine seen again an hour later: merged.
        e.time = Some(D * DAY + i * 1_000_000 + 3_600_000_000);
        assert!(!g.add(&e, &jp));
    }
    let de = ContactRef {
        address: "abuse@provider.example.de",
        rule: RuleRef::Ripe {
            first: "2001:db8::".parse().unwrap(),
            last: "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
            abuse_c: "AR1-RIPE",
            org: Some("ORG-EX1-RIPE"),
        },
    };
    for (i, fam) in ["qsnatch", "andromeda"].iter().enumerate() {
        let mut e = ev("2001:db8::1", fam, (D + 1) * DAY + 5);
        e.country = Some("DE".into());
        e.report_type = "sinkhole-http".into();
        e.destination = Some(format!("[2001:db8:1::{}]:443", i + 1));
        g.add(&e, &de);
    }
    let team = String::from("CERT-XX");
    let xx = ContactRef {
        address: "cert@national.example",
        rule: RuleRef::NationalCert {
            country: Country::parse("US").unwrap(),
            team: &team,
        },
    };
    let destinations = [
        "c2.example",
        "c2.example:8080",
        "bad host\r\nX-Injected: 1",
        "198.51.100.9",
        "=HYPERLINK(\"http://x\")",
        "",
        "sinkhole.example",
        "[2001:db8::9]:80",
    ];
    for (i, fam) in HOSTILE.iter().enumerate() {
        let mut e = ev(&format!("203.0.113.{i}"), fam, D * DAY + 7);
        e.country = Some("US".into());
        e.destination = Some(destinations[i].to_string());
        e.report_type = if i % 2 == 0 {
            "sinkhole-dns".into()
        } else {
            "botnet-drone".into()
        };
        g.add(&e, &xx);
    }
    // No family at all.
    let mut e = ev("203.0.113.99", "", D * DAY);
    e.family = None;
    g.add(&e, &xx);
    Fixture {
        notices: g.finish(),
        renderer: Renderer::new(options()).unwrap(),
    }
}

fn header_block(m: &[u8]) -> &str {
    let end = m.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    std::str::from_utf8(&m[..end]).unwrap()
}

#[test]
fn notices_are_grouped_and_rendered_deterministically() {
    let f = fixture();
    let who: Vec<(&str, &str, usize)> = f
        .notices
        .iter()
        .map(|n| (n.to.as_str(), n.period.as_str(), n.rows.len()))
        .collect();
    assert_eq!(
        who,
        [
            ("abuse@isp.example.jp", "2026-W49", 60),
            ("abuse@provider.example.de", "2026-W49", 2),
            ("cert@national.example", "2026-W49", 9),
        ]
    );
    assert_eq!(f.notices[0].events(), 120);
    let langs: Vec<&str> = f.notices.iter().map(|n| f.renderer.language(n)).collect();
    assert_eq!(langs, ["ja", "de", "en"]);
    let again = Renderer::new(options()).unwrap();
    for n in &f.notices {
        let a = f.renderer.message(n, DATE).unwrap();
        assert_eq!(a, f.renderer.message(n, DATE).unwrap());
        assert_eq!(a, again.message(n, DATE).unwrap(), "another renderer");
        // CRLF everywhere, 7-bit clean, lines within RFC 5322's limit.
        for (i, &b) in a.iter().enumerate() {
            if b == b'\n' {
                assert_eq!(a.get(i.wrapping_sub(1)), Some(&b'\r'), "bare LF");
            }
            assert!(b.is_ascii(), "8-bit byte");
        }
        assert!(a.split(|&b| b == b'\n').all(|l| l.len() <= 998));
        let h = header_block(&a);
        assert!(h.contains(&format!("Message-ID: <{}@cert.example>", n.id)));
        assert!(h.contains(&format!("X-Takedown-Notice: {}", n.id)));
        assert!(h.contains("Auto-Submitted: auto-generated"));
        assert!(h.contains(&format!("boundary=\"=_takedown_{}\"", n.id)));
        // Only the date changes with the date.
        let b = f.renderer.message(n, DATE + 86_400).unwrap();
        let differ: Vec<&str> = std::str::from_utf8(&a)
            .unwrap()
            .lines()
            .zip(std::str::from_utf8(&b).unwrap().lines())
            .filter(|(x, y)| x != y)
            .map(|(x, _)| x)
            .collect();
        assert_eq!(differ.len(), 1, "{differ:?}");
        assert!(differ[0].starts_with("Date: "), "{differ:?}");
    }
}

#[test]
fn hostile_family_names_make_no_headers() {
    let f = fixture();
    let n = &f.notices[2];
    let m = f.renderer.message(n, DATE).unwrap();
    let h = header_block(&m);
    let names: Vec<&str> = h
        .split("\r\n")
        .filter(|l| !l.starts_with([' ', '\t']))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "X-Takedown-Notice",
            "Reply-To",
            "MIME-Version",
            "Content-Type",
        ]
    );
    let subject = f.renderer.subject(n);
    assert!(!subject.contains(['\r', '\n', '\0']), "{subject:?}");
    assert!(subject.ends_with(", ..."), "{subject:?}");
    // A renderer whose template puts the families first in the subject.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("en.txt"),
        "Subject: {{ families | join(' | ') }}\n\n{{ rows | length }}\n",
    )
    .unwrap();
    let r = Renderer::new(RenderOptions {
        templates: Some(dir.path().to_path_buf()),
        lang: "en".into(),
        ..options()
    })
    .unwrap();
    let s = r.subject(n);
    assert!(!s.contains(['\r', '\n']), "{s:?}");
    assert!(
        s.contains("evil<U+000D><U+000A>bcc: victim@example.org"),
        "{s:?}"
    );
    let m = r.message(n, DATE).unwrap();
    assert!(
        !header_block(&m).contains("\r\nBcc"),
        "{}",
        header_block(&m)
    );
}

#[test]
fn options_are_checked() {
    let bad = |o: RenderOptions| Renderer::new(o).err().map(|e| e.to_string());
    let e = bad(RenderOptions {
        from: "not an address".into(),
        ..options()
    });
    assert!(e.unwrap().starts_with("from: "));
    let e = bad(RenderOptions {
        lang: "xx".into(),
        ..options()
    });
    assert!(e.unwrap().contains("auto, en, ja, de"));
    let e = bad(RenderOptions {
        scan_url: Some("https://x\r\nBcc: y".into()),
        ..options()
    });
    assert!(e.unwrap().starts_with("scan-url: "));
    let e = bad(RenderOptions {
        contact: "cert@[192.0.2.1]".into(),
        ..options()
    });
    assert!(e.is_some());
    // A broken template in the directory: named with its line.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("de.txt");
    std::fs::write(&path, "Subject: x\n\n{% if rows %}\nno end\n").unwrap();
    let e = bad(RenderOptions {
        templates: Some(dir.path().to_path_buf()),
        ..options()
    })
    .unwrap();
    assert!(
        e.starts_with(&format!("{}:", path.display())),
        "{e}: does not name the file"
    );
    assert!(e.contains("syntax error"), "{e}");
    // A notice whose id or recipient was tampered with.
    let f = fixture();
    let mut n = f.notices[1].clone();
    n.id = "../../etc".into();
    assert!(f.renderer.message(&n, DATE).is_err());
    let mut n = f.notices[1].clone();
    n.to = "a@b.example\r\nBcc: c@d.example".into();
    assert!(f.renderer.message(&n, DATE).is_err());
}

#[test]
fn keys_match_rows() {
    let f = fixture();
    for n in &f.notices {
        for (row, digest) in n.rows.iter().zip(n.keys()) {
            let mut e = ev(&row.ip.to_string(), &row.family, row.first);
            if row.family == "unknown" {
                e.family = None;
            }
            let k = Key::of(&e).unwrap();
            assert_eq!(k, row.key());
            assert_eq!(k.digest(), digest);
        }
    }
}

/// The reference Python with jsonschema, xarf and intelmq, or `None`
/// (skipped); under CI a missing one fails.
fn python() -> Option<PathBuf> {
    util::python_with(
        "jsonschema, referencing, rfc3339_validator, xarf, intelmq.lib.message",
        "pip install jsonschema rfc3339-validator xarf==1.0.0 intelmq==3.5.0",
        &[],
    )
}

/// Reads back every message and IntelMQ line; prints `ok <counts>` or
/// fails with the reason.
const CHECK: &str = r#"
import base64, csv, email, hashlib, email.policy, email.utils, io, json, os, sys, uuid
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
import xarf
from intelmq.lib.message import Event
import intelmq

spec = json.load(open(sys.argv[1], encoding="utf-8"))
schemas = spec["schemas"]
resources = []
for root, _, files in os.walk(schemas):
    for f in files:
        if f.endswith(".json"):
            doc = json.load(open(os.path.join(root, f), encoding="utf-8"))
            resources.append((doc["$id"], Resource.from_contents(doc)))
registry = Registry().with_resources(resources)
def validator(name):
    doc = json.load(open(os.path.join(schemas, name), encoding="utf-8"))
    return Draft202012Validator(doc, registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)
master = validator("xarf-v4-master.json")
botnet = validator("types/infrastructure-botnet.json")

reports = 0
for m in spec["messages"]:
    raw = open(m["file"], "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    def want(cond, what):
        if not cond:
            sys.exit(f"{m['file']}: {what}")
    for h in ["From", "To", "Subject", "Date", "Message-ID", "Reply-To",
              "Auto-Submitted", "X-Takedown-Notice", "MIME-Version"]:
        want(len(msg.get_all(h) or []) == 1, f"{h} not exactly once")
    want(not msg.get_all("Bcc") and not msg.get_all("X-Injected"), "injected header")
    want(msg.defects == [], f"defects {msg.defects}")
    want(str(msg["Subject"]) == m["subject"], f"subject {str(msg['Subject'])!r} != {m['subject']!r}")
    want(msg["To"].addresses[0].addr_spec == m["to"], "To")
    want(msg["From"].addresses[0].addr_spec == "cert@cert.example", "From")
    want(msg["Reply-To"].addresses[0].addr_spec == "desk@cert.example", "Reply-To")
    want(msg["Message-ID"] == f"<{m['id']}@cert.example>", "Message-ID")
    want(msg["X-Takedown-Notice"] == m["id"], "X-Takedown-Notice")
    want(msg["Auto-Submitted"] == "auto-generated", "Auto-Submitted")
    want(int(email.utils.parsedate_to_datetime(str(msg["Date"])).timestamp()) == spec["date"], "Date")
    want(msg.get_content_type() == "multipart/mixed", "multipart/mixed")
    parts = list(msg.iter_parts())
    text = parts[0]
    want(text.get_content_type() == "text/plain"
         and text.get_content_charset() == "utf-8", "text part")
    want(text["Content-Language"] == m["lang"], "Content-Language")
    body = text.get_content()
    for p in m["phrases"]:
        want(p in body, f"body lacks {p!r}")
    for bad in m["absent"]:
        want(bad not in body, f"body has {bad!r}")
    want("\r" not in body.replace("\r\n", "\n"), "bare CR in body")
    attached = parts[1:]
    want(attached[0].get_filename() == "events.csv"
         and attached[0].get_content_type() == "text/csv", "events.csv")
    data = attached[0].get_payload(decode=True).decode("utf-8")
    rows = list(csv.reader(io.StringIO(data, newline="")))
    want(rows == m["csv"], f"csv rows differ:\n{rows}\n{m['csv']}")
    xarfs = attached[1:]
    want(len(xarfs) == len(m["csv"]) - 1, "one X-ARF part per row")
    ids = set()
    for i, part in enumerate(xarfs, 1):
        want(part.get_filename() == f"xarf-{i}.json"
             and part.get_content_type() == "application/json", f"xarf-{i}.json")
        report = json.loads(part.get_payload(decode=True))
        errors = [f"{list(e.path)}: {e.message}" for e in master.iter_errors(report)]
        errors += [f"botnet {list(e.path)}: {e.message}" for e in botnet.iter_errors(report)]
        want(not errors, f"xarf-{i}.json invalid: {errors}")
        # The library's default (non-strict) mode: strict mode makes
        # every "recommended" field required (bot_capabilities,
        # confidence, ...), which a sinkhole cannot know. Its only
        # warnings may be first_seen and last_seen, which the botnet type
        # schema does not list but its official sample carries.
        r = xarf.parse(report)
        want(not r.errors and r.report is not None, f"xarf-{i}.json: xarf library: {r.errors}")
        extra = {w.field for w in r.warnings} - {"first_seen", "last_seen"}
        want(not extra, f"xarf-{i}.json: xarf library warns: {r.warnings}")
        ev = report["evidence"][0]
        record = base64.b64decode(ev["payload"], validate=True)
        want(ev["hash"] == "sha256:" + hashlib.sha256(record).hexdigest(), "evidence hash")
        got = list(csv.reader(io.StringIO(record.decode("utf-8"), newline="")))
        want(got == [m["csv"][0], m["csv"][i]], f"evidence record {got}")
        u = uuid.UUID(report["report_id"])
        want(u.version == 4 and u.variant == uuid.RFC_4122
             and str(u) == report["report_id"], "report_id not a v4 UUID")
        ids.add(report["report_id"])
        want(report["source_identifier"] == m["csv"][i][0], "source_identifier")
        reports += 1
    want(len(ids) == len(xarfs), "report ids repeat")

harm = json.load(open(os.path.join(os.path.dirname(intelmq.__file__), "etc", "harmonization.conf")))
lines = 0
for line in open(spec["intelmq"], encoding="utf-8"):
    obj = json.loads(line)
    e = Event(harmonization=harm)
    for k, v in obj.items():
        # sanitize=False: the value must already be in harmonised form.
        e.add(k, v, sanitize=False)
    for k in ["time.source", "source.ip", "classification.taxonomy",
              "classification.type", "feed.name", "extra.notice_id"]:
        if k not in e:
            sys.exit(f"intelmq line lacks {k}: {line}")
    lines += 1
print(f"ok {len(spec['messages'])} messages {reports} reports {lines} intelmq lines")
"#;

/// A CSV cell as a spreadsheet-safe writer must write it.
fn safe(s: &str) -> String {
    let s = s.replace('\0', "\u{FFFD}");
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

#[test]
fn messages_read_back_by_the_reference_tools() {
    let f = fixture();
    // Rust-side checks of what the Python side will compare against.
    let jp = &f.notices[0];
    let csv = String::from_utf8(f.renderer.csv(jp)).unwrap();
    assert!(csv.starts_with(
        "ip,family,day,first_seen,last_seen,count,port,asn,country,destination,report_type,rule\r\n"
    ));
    let x = f.renderer.xarf(jp, &jp.rows[0]);
    assert_eq!(x["category"], "infrastructure");
    assert_eq!(x["type"], "botnet");
    assert_eq!(x["first_seen"], "2026-12-05T00:00:00Z");
    assert_eq!(x["last_seen"], "2026-12-05T01:00:00Z");
    let Some(python) = python() else { return };

    let dir = tempfile::tempdir().unwrap();
    let mut messages = Vec::new();
    let mut intelmq = String::new();
    for (i, n) in f.notices.iter().enumerate() {
        let file = dir.path().join(format!("{i}.eml"));
        std::fs::write(&file, f.renderer.message(n, DATE).unwrap()).unwrap();
        let mut csv = vec![
            [
                "ip",
                "family",
                "day",
                "first_seen",
                "last_seen",
                "count",
                "port",
                "asn",
                "country",
                "destination",
                "report_type",
                "rule",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for r in &n.rows {
            let x = f.renderer.xarf(n, r);
            let opt = |v: Option<String>| v.unwrap_or_default();
            csv.push(
                [
                    r.ip.to_string(),
                    r.family.clone(),
                    x["first_seen"].as_str().unwrap()[..10].to_string(),
                    x["first_seen"].as_str().unwrap().to_string(),
                    x["last_seen"].as_str().unwrap().to_string(),
                    r.count.to_string(),
                    opt(r.port.map(|p| p.to_string())),
                    opt(r.asn.map(|a| a.to_string())),
                    opt(r.country.clone()),
                    opt(r.destination.clone()),
                    r.report_type.clone(),
                    n.rule_of(r),
                ]
                .iter()
                .map(|c| safe(c))
                .collect(),
            );
            intelmq.push_str(&intelmq_line(n, r, "takedown-sinkhole"));
            intelmq.push('\n');
        }
        let lang = f.renderer.language(n);
        let mut phrases: Vec<String> = vec![
            n.id.clone(),
            n.period.clone(),
            n.rule_text(),
            "takedown scan".into(),
            "https://scan.cert.example/".into(),
            "https://check.cert.example/".into(),
            "events.csv".into(),
            "CERT Example".into(),
        ];
        phrases.extend(
            match lang {
                "ja" => vec![
                    "シンクホール",
                    "パスワード",
                    "再インストール",
                    "ほか 10 件",
                    "192.0.2.49",
                ],
                "de" => vec![
                    "Sinkhole",
                    "Passwörter",
                    "neu installieren",
                    "Mit freundlichen Grüßen",
                ],
                _ => vec![
                    "sinkhole",
                    "Change the passwords",
                    "reinstall",
                    "evil<U+000D><U+000A>bcc: victim@example.org",
                    "rtl<U+202E>gnp.exe",
                    "日本語ファミリー",
                ],
            }
            .into_iter()
            .map(String::from),
        );
        // The body lists 50 rows; the rest are only in the CSV.
        let absent: Vec<String> = if lang == "ja" {
            vec!["192.0.2.50 ".into()]
        } else {
            vec!["\u{202E}".into()]
        };
        messages.push(serde_json::json!({
            "file": file,
            "id": n.id,
            "to": n.to,
            "subject": f.renderer.subject(n),
            "lang": lang,
            "csv": csv,
            "phrases": phrases,
            "absent": absent,
        }));
    }
    let lines = dir.path().join("intelmq.ndjson");
    std::fs::write(&lines, &intelmq).unwrap();
    let spec = dir.path().join("spec.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&serde_json::json!({
            "schemas": Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xarf"),
            "messages": messages,
            "date": DATE,
            "intelmq": lines,
        }))
        .unwrap(),
    )
    .unwrap();
    let out = Command::new(&python)
        .args(["-c", CHECK])
        .arg(&spec)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "ok 3 messages 71 reports 71 intelmq lines");
}

/// `n` events over `n / 10` addresses, 3 families, 2 days and 1,000
/// contacts, in one reused `Event` as the report readers hand them out;
/// grouped, then checked: every event counted, one row per key.
fn group_many(n: u64) -> std::time::Duration {
    let addresses = (n / 10).max(1);
    let contacts: Vec<String> = (0..1000)
        .map(|i| format!("abuse{i}@net{i}.example"))
        .collect();
    let families = ["mirai", "andromeda", "qsnatch"];
    let mut e = ev("192.0.2.1", "mirai", D * DAY);
    e.country = Some("NL".into());
    e.destination = Some("198.51.100.1:80".into());
    let mut g = Grouper::new(Period::Month);
    let start = std::time::Instant::now();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..n {
        // xorshift: addresses in random order, as reports list them.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let a = state % addresses;
        e.ip = Some(std::net::IpAddr::V4((0x0a00_0000 + a as u32).into()));
        if let Some(f) = e.family.as_mut() {
            f.clear();
            f.push_str(families[(a % 3) as usize]);
        }
        e.time = Some((D + (i % 2) as i64) * DAY + (i % 86_400) as i64 * 1_000_000);
        e.port = Some((i % 65_535) as u16);
        let c = &contacts[(a % 1000) as usize];
        g.add(
            &e,
            &ContactRef {
                address: c,
                rule: RuleRef::OverrideAsn((a % 1000) as u32),
            },
        );
    }
    let rows = g.len();
    let added = start.elapsed();
    let notices = g.finish();
    eprintln!(
        "{n} events, {rows} keys: added in {added:?}, finished in {:?}",
        start.elapsed() - added
    );
    let took = start.elapsed();
    assert_eq!(notices.len(), 1000.min(addresses as usize));
    assert_eq!(notices.iter().map(Notice::events).sum::<u64>(), n);
    assert_eq!(notices.iter().map(|x| x.rows.len()).sum::<usize>(), rows);
    took
}

#[test]
fn many_events_group() {
    group_many(200_000);
}

/// The issue's scale: 10 million events on one core. Run it optimised:
/// `cargo test -p takedown-notify --release --test notice -- --ignored`.
#[test]
#[ignore = "10 million events: run with --release"]
fn ten_million_events_group_in_seconds() {
    let took = group_many(10_000_000);
    eprintln!("10,000,000 events grouped in {took:?}");
    assert!(took.as_secs() < 30, "{took:?}");
}

/// Seeded garbage in every string a report gives (family, country,
/// destination, report type: control characters, quotes, separators,
/// bidi controls, long runs, non-ASCII): every notice renders, its header
/// block is the fixed set of headers, and the CSV, X-ARF and IntelMQ
/// outputs are produced. Also a notice without rows.
#[test]
fn garbage_never_panics() {
    const PIECES: [&str; 16] = [
        "\r",
        "\n",
        "\0",
        "\"",
        ",",
        "=",
        "@",
        "+",
        "-",
        "\u{202E}",
        "日本",
        "ä",
        " ",
        ":",
        "Bcc: x@y.example",
        "\u{2028}",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut garbage = |max: u64| {
        let len = next() % max;
        (0..len)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect::<String>()
    };
    let mut g = Grouper::new(Period::Day);
    let contact = ContactRef {
        address: "abuse@net.example",
        rule: RuleRef::OverrideAsn(1),
    };
    for i in 0..300u32 {
        let mut e = ev(&format!("10.0.{}.{}", i / 256, i % 256), "x", D * DAY);
        e.family = Some(garbage(40));
        e.country = Some(garbage(4));
        e.destination = Some(garbage(60));
        e.report_type = garbage(10);
        e.port = Some(i as u16);
        g.add(&e, &contact);
    }
    let mut notices = g.finish();
    let mut empty = notices[0].clone();
    empty.rows.clear();
    notices.push(empty);
    let r = Renderer::new(options()).unwrap();
    for n in &notices {
        let m = r.message(n, DATE).unwrap();
        let names: Vec<&str> = header_block(&m)
            .split("\r\n")
            .filter(|l| !l.starts_with([' ', '\t']))
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(names.len(), 10, "{names:?}");
        assert!(!r.subject(n).contains(['\r', '\n']));
        let _ = r.csv(n);
        for row in &n.rows {
            let x = r.xarf(n, row);
            assert!(
                x["malware_family"]
                    .as_str()
                    .is_none_or(|f| f.chars().count() <= 200)
            );
            let line = intelmq_line(n, row, "feed");
            assert!(!line.contains('\n'));
            serde_json::from_str::<serde_json::Value>(&line).unwrap();
        }
    }
}
