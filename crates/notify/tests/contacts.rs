//! Abuse contacts end to end: RIPE split dumps gzip-compressed on disk,
//! a CERT's overrides file, and MaxMind databases written by an
//! independent writer (`mmdb-writer`) and read back against MaxMind's own
//! reader.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ipnet::IpNet;
use serde::Serialize;
use takedown_notify::contacts::mmdb::Mmdb;
use takedown_notify::contacts::{Contacts, Rule};

fn gz(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    let mut w = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    w.write_all(text.as_bytes()).unwrap();
    w.finish().unwrap();
    p
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The split dumps as RIPE publishes them (`ripe.db.<type>.gz`), read in
/// an order where every reference points forward.
#[test]
fn split_ripe_dumps_and_overrides_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let inetnum = gz(
        dir.path(),
        "ripe.db.inetnum.gz",
        "\
#
# The contents of this file are subject to
# RIPE Database Terms and Conditions
#

inetnum:        203.0.113.0 - 203.0.113.255
netname:        EXAMPLE-LIR
org:            ORG-LIR1-TEST
status:         ALLOCATED PA
mnt-by:         RIPE-NCC-HM-MNT
source:         RIPE

inetnum:        203.0.113.10 - 203.0.113.59
netname:        NOT-CIDR-ALIGNED
abuse-c:        CUST1-TEST
status:         ASSIGNED PA
source:         RIPE

inetnum:        203.0.113.60 - 203.0.113.70
netname:        NO-CONTACT-OF-ITS-OWN
status:         ASSIGNED PA
source:         RIPE

inetnum:        broken
source:         RIPE
",
    );
    let inet6num = gz(
        dir.path(),
        "ripe.db.inet6num.gz",
        "inet6num: 2001:db8:1000::/36\norg: ORG-LIR1-TEST\n",
    );
    let role = gz(
        dir.path(),
        "ripe.db.role.gz",
        "\
role:           Example LIR abuse
nic-hdl:        LIRA1-TEST
abuse-mailbox:  abuse@lir.example

role:           Customer
nic-hdl:        CUST1-TEST
abuse-mailbox:  security@customer.example
",
    );
    let org = gz(
        dir.path(),
        "ripe.db.organisation.gz",
        "organisation: ORG-LIR1-TEST\norg-name: Example LIR\nabuse-c: LIRA1-TEST\n",
    );
    let overrides = dir.path().join("contacts.csv");
    std::fs::write(
        &overrides,
        "network,address,comment\n203.0.113.64/30,desk@override.example,narrower than the RIPE range\nAS64511,noc@override.example\nbogus,x@y.example\n",
    )
    .unwrap();

    let mut b = Contacts::builder();
    for p in [&inetnum, &inet6num, &role, &org] {
        b.ripe_dump(p).unwrap();
    }
    b.overrides(&overrides).unwrap();
    let c = b.build();

    let messages = c.problems().messages();
    assert_eq!(
        messages,
        vec![
            format!("{}:24: invalid inetnum range", inetnum.display()),
            format!(
                "{}:4: key is not a network, ASN or country code",
                overrides.display()
            ),
        ]
    );
    let stats = c.ripe_stats();
    assert_eq!(
        (stats.inetnums, stats.inet6nums, stats.abuse_roles),
        (3, 1, 2)
    );
    assert_eq!(stats.bad_objects, 1);

    let at = |a: &str| c.lookup(ip(a), None, None).map(|c| (c.address, c.rule));
    // Not CIDR aligned: both ends inside, both neighbours outside.
    for a in ["203.0.113.10", "203.0.113.59"] {
        assert_eq!(
            at(a),
            Some((
                "security@customer.example".to_string(),
                Rule::Ripe {
                    range: "203.0.113.10 - 203.0.113.59".into(),
                    object: "abuse-c CUST1-TEST".into()
                }
            ))
        );
    }
    let allocation = Some((
        "abuse@lir.example".to_string(),
        Rule::Ripe {
            range: "203.0.113.0 - 203.0.113.255".into(),
            object: "org ORG-LIR1-TEST, abuse-c LIRA1-TEST".into(),
        },
    ));
    assert_eq!(at("203.0.113.9"), allocation);
    assert_eq!(at("203.0.113.60"), allocation);
    // The /30 override is smaller than the RIPE range around it.
    assert_eq!(
        at("203.0.113.65"),
        Some((
            "desk@override.example".to_string(),
            Rule::Override {
                network: "203.0.113.64/30".into()
            }
        ))
    );
    assert_eq!(at("2001:db8:1fff::1").unwrap().0, "abuse@lir.example");
    assert_eq!(at("2001:db8:2000::1"), None);
    // Nothing for the network: the AS, then the national CERT.
    let got = c.lookup(ip("192.0.2.1"), Some(64511), Some("SE")).unwrap();
    assert_eq!(got.address, "noc@override.example");
    let got = c.lookup(ip("192.0.2.1"), Some(64999), Some("se")).unwrap();
    assert_eq!(got.address, "cert@cert.se");
    assert_eq!(got.rule.to_string(), "national CERT of SE (CERT-SE)");
}

#[derive(Serialize)]
struct AsnRecord {
    autonomous_system_number: u32,
    autonomous_system_organization: String,
}

#[derive(Serialize)]
struct Iso {
    iso_code: String,
}

#[derive(Serialize)]
struct CountryRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<Iso>,
    registered_country: Iso,
}

/// xorshift64: seeded, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random IPv4 and IPv6 networks, nested and overlapping (a later insert
/// overrides what it covers, as MaxMind's writers do).
fn networks(rng: &mut Rng, n: usize) -> Vec<IpNet> {
    let mut out = Vec::new();
    for _ in 0..n {
        let net: IpNet = if rng.next().is_multiple_of(4) {
            let a = u128::from(rng.next()) << 64 | u128::from(rng.next());
            // Inside 2001:db8::/32 most of the time, to nest.
            let a = if rng.next().is_multiple_of(2) {
                (0x2001_0db8u128 << 96) | (a >> 32)
            } else {
                a
            };
            let len = 24 + (rng.next() % 100) as u8;
            format!("{}/{len}", std::net::Ipv6Addr::from(a))
                .parse()
                .unwrap()
        } else {
            // Inside 10.0.0.0/8 most of the time, to nest.
            let a = rng.next() as u32;
            let a = if rng.next().is_multiple_of(2) {
                0x0a00_0000 | (a >> 8)
            } else {
                a
            };
            let len = 8 + (rng.next() % 25) as u8;
            format!("{}/{len}", std::net::Ipv4Addr::from(a))
                .parse()
                .unwrap()
        };
        // Skip the IPv4 alias subtrees the writer refuses.
        let v6 = match net {
            IpNet::V6(n) => n,
            IpNet::V4(_) => {
                out.push(net.trunc());
                continue;
            }
        };
        let s = v6.network().segments();
        if s[0] == 0 || s[0] == 0x2002 || (s[0] == 0x2001 && s[1] == 0) {
            continue;
        }
        out.push(net.trunc());
    }
    out
}

/// Addresses at the edges and inside of each network, and around them.
fn probes(nets: &[IpNet], rng: &mut Rng) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for n in nets {
        match n {
            IpNet::V4(n) => {
                let (s, e) = (u32::from(n.network()), u32::from(n.broadcast()));
                for x in [
                    s,
                    e,
                    s.wrapping_sub(1),
                    e.wrapping_add(1),
                    s + (rng.next() as u32) % (e - s).max(1),
                ] {
                    out.push(IpAddr::V4(x.into()));
                }
            }
            IpNet::V6(n) => {
                let (s, e) = (u128::from(n.network()), u128::from(n.broadcast()));
                let r = u128::from(rng.next()) << 64 | u128::from(rng.next());
                for x in [
                    s,
                    e,
                    s.wrapping_sub(1),
                    e.wrapping_add(1),
                    s + r % (e - s).max(1),
                ] {
                    out.push(IpAddr::V6(x.into()));
                }
            }
        }
    }
    for _ in 0..2000 {
        out.push(IpAddr::V4((rng.next() as u32).into()));
    }
    out
}

/// An ASN database and a country database written by `mmdb-writer`, read
/// back: every probe address gets the same AS number and country from
/// takedown's flattened table as from MaxMind's reader walking the file's
/// own search tree, and the networks written explicitly read back as
/// written.
#[test]
fn mmdb_written_by_a_writer_reads_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let nets = networks(&mut rng, 1500);

    let mut asn_db = mmdb_writer::Writer::new("GeoLite2-ASN");
    let mut cc_db = mmdb_writer::Writer::new("GeoLite2-Country");
    let codes = ["DE", "US", "GB", "FR", "IT", "ES", "NL", "PL", "JP", "SE"];
    for (i, n) in nets.iter().enumerate() {
        asn_db
            .insert(
                *n,
                &AsnRecord {
                    autonomous_system_number: 64_512 + i as u32,
                    autonomous_system_organization: format!("Example {i}"),
                },
            )
            .unwrap();
        let code = codes[i % codes.len()].to_string();
        // Every fifth network knows only its registered country.
        let rec = CountryRecord {
            country: (i % 5 != 0).then(|| Iso {
                iso_code: code.clone(),
            }),
            registered_country: Iso {
                iso_code: if i % 5 == 0 { code } else { "EU".into() },
            },
        };
        cc_db.insert(*n, &rec).unwrap();
    }
    // Written last, so they are not covered by anything later.
    let fixed: [(&str, u32, &str); 3] = [
        ("192.0.2.0/24", 64500, "DE"),
        ("198.51.100.128/25", 64501, "JP"),
        ("2a00:1450::/32", 15169, "IE"),
    ];
    for (n, asn, cc) in fixed {
        let n: IpNet = n.parse().unwrap();
        asn_db
            .insert(
                n,
                &AsnRecord {
                    autonomous_system_number: asn,
                    autonomous_system_organization: "Fixed".into(),
                },
            )
            .unwrap();
        cc_db
            .insert(
                n,
                &CountryRecord {
                    country: Some(Iso {
                        iso_code: cc.into(),
                    }),
                    registered_country: Iso {
                        iso_code: "ZZ".into(),
                    },
                },
            )
            .unwrap();
    }
    let asn_path = dir.path().join("asn.mmdb");
    let cc_path = dir.path().join("country.mmdb");
    std::fs::write(&asn_path, asn_db.to_bytes().unwrap()).unwrap();
    std::fs::write(&cc_path, cc_db.to_bytes().unwrap()).unwrap();

    let (asn, p1) = Mmdb::read_path(&asn_path).unwrap();
    let (cc, p2) = Mmdb::read_path(&cc_path).unwrap();
    assert!(
        p1.is_empty() && p2.is_empty(),
        "{:?} {:?}",
        p1.messages(),
        p2.messages()
    );
    assert_eq!(asn.database_type(), "GeoLite2-ASN");
    assert!(asn.networks() > 0);

    for (n, want_asn, want_cc) in fixed {
        let n: IpNet = n.parse().unwrap();
        for a in [n.network(), n.broadcast()] {
            assert_eq!(asn.asn(a), Some(want_asn), "{a}");
            assert_eq!(
                cc.country(a).map(|c| c.to_string()).as_deref(),
                Some(want_cc),
                "{a}"
            );
        }
    }
    // An IPv4-mapped address reads as the IPv4 address.
    assert_eq!(asn.asn(ip("::ffff:192.0.2.7")), Some(64500));

    let asn_ref = maxminddb::Reader::open_readfile(&asn_path).unwrap();
    let cc_ref = maxminddb::Reader::open_readfile(&cc_path).unwrap();
    let mut checked = 0;
    for a in probes(&nets, &mut rng) {
        let want_asn: Option<u32> = asn_ref
            .lookup(a)
            .unwrap()
            .decode_path(&maxminddb::path!["autonomous_system_number"])
            .unwrap();
        assert_eq!(asn.asn(a), want_asn, "ASN of {a}");
        let r = cc_ref.lookup(a).unwrap();
        let country: Option<String> = r
            .decode_path(&maxminddb::path!["country", "iso_code"])
            .unwrap();
        let registered: Option<String> = r
            .decode_path(&maxminddb::path!["registered_country", "iso_code"])
            .unwrap();
        let want_cc = country.or(registered).filter(|c| c != "ZZ");
        let got = cc.country(a).map(|c| c.to_string());
        // ZZ ("unknown") is a valid two-letter code to the reader.
        let got = got.filter(|c| c != "ZZ");
        assert_eq!(got, want_cc, "country of {a}");
        checked += 1;
    }
    assert!(checked > 7000);
}

/// Timing by hand, in release: a million RIPE-style ranges (allocations
/// with non-aligned assignments inside, contacts through organisations)
/// parsed and built, then millions of lookups. Run with
/// `cargo test -p takedown-notify --release --test contacts -- --ignored --nocapture`.
#[test]
#[ignore]
fn a_million_ranges_timing() {
    let mut rng = Rng(42);
    let mut dump = String::with_capacity(150 << 20);
    let allocations = 50_000u32;
    let per = 19u32;
    for i in 0..allocations {
        // /20 allocations spread over the IPv4 space.
        let base = 0x0100_0000u32 + i * 0x1000 * 4;
        dump.push_str(&format!(
            "inetnum: {} - {}\norg: ORG-L{i}-TEST\nmnt-by: RIPE-NCC-HM-MNT\n\n",
            std::net::Ipv4Addr::from(base),
            std::net::Ipv4Addr::from(base + 0xfff)
        ));
        dump.push_str(&format!(
            "organisation: ORG-L{i}-TEST\nabuse-c: A{i}-TEST\n\nrole: r\nnic-hdl: A{i}-TEST\nabuse-mailbox: abuse{i}@lir.example\n\n"
        ));
        for j in 0..per {
            let s = base + j * 200 + (rng.next() % 50) as u32;
            let e = s + 20 + (rng.next() % 120) as u32;
            let contact = if j % 3 == 0 {
                format!("abuse-c: C{i}-{j}-TEST\n")
            } else {
                String::new()
            };
            dump.push_str(&format!(
                "inetnum: {} - {}\n{contact}status: ASSIGNED PA\n\n",
                std::net::Ipv4Addr::from(s),
                std::net::Ipv4Addr::from(e)
            ));
            if j % 3 == 0 {
                dump.push_str(&format!(
                    "role: c\nnic-hdl: C{i}-{j}-TEST\nabuse-mailbox: c{i}.{j}@cust.example\n\n"
                ));
            }
        }
    }
    let ranges = allocations * (per + 1);
    let t = Instant::now();
    let mut b = Contacts::builder();
    b.ripe_dump_from(dump.as_bytes(), "synthetic").unwrap();
    let c = b.build();
    let build = t.elapsed();
    assert!(c.problems().is_empty());
    assert_eq!(c.ripe_stats().inetnums, u64::from(ranges));
    let addrs: Vec<IpAddr> = (0..5_000_000)
        .map(|_| {
            let i = (rng.next() % u64::from(allocations)) as u32;
            IpAddr::V4((0x0100_0000u32 + i * 0x4000 + (rng.next() % 0x1000) as u32).into())
        })
        .collect();
    let t = Instant::now();
    let mut found = 0usize;
    for a in &addrs {
        if c.lookup_ref(*a, None, None).is_some() {
            found += 1;
        }
    }
    let look = t.elapsed();
    assert_eq!(found, addrs.len());
    let t = Instant::now();
    let mut owned = 0usize;
    for a in &addrs[..1_000_000] {
        owned += c.lookup(*a, None, None).map_or(0, |c| c.address.len());
    }
    let look_owned = t.elapsed();
    assert!(owned > 0);
    println!(
        "{ranges} ranges ({} MB of dump) parsed and built in {:.2} s; {} lookups in {:.3} s ({:.1} M/s); 1 M owned lookups in {:.3} s",
        dump.len() >> 20,
        build.as_secs_f64(),
        addrs.len(),
        look.as_secs_f64(),
        addrs.len() as f64 / look.as_secs_f64() / 1e6,
        look_owned.as_secs_f64()
    );
}

/// Hostile databases: a valid file with random bytes overwritten, cut
/// short, or padded, is read or refused, never a panic or an endless walk.
#[test]
fn damaged_mmdb_files_never_panic() {
    let mut w = mmdb_writer::Writer::new("GeoLite2-ASN");
    let mut rng = Rng(7);
    for (i, n) in networks(&mut rng, 300).into_iter().enumerate() {
        w.insert(
            n,
            &AsnRecord {
                autonomous_system_number: i as u32,
                autonomous_system_organization: "x".into(),
            },
        )
        .unwrap();
    }
    let good = w.to_bytes().unwrap();
    let (db, _) = Mmdb::from_bytes(good.clone(), "good.mmdb").unwrap();
    assert!(db.networks() > 0);
    let (mut read, mut refused) = (0, 0);
    for round in 0..400 {
        let mut b = good.clone();
        match round % 4 {
            0 => b.truncate((rng.next() as usize) % b.len()),
            1 => {
                for _ in 0..1 + rng.next() % 8 {
                    let i = (rng.next() as usize) % b.len();
                    b[i] = rng.next() as u8;
                }
            }
            2 => {
                // Damage the search tree, where cycles come from.
                let i = (rng.next() as usize) % (b.len() / 2);
                b[i] ^= 1 << (rng.next() % 8);
            }
            _ => {
                let i = (rng.next() as usize) % b.len();
                b.splice(
                    i..i,
                    std::iter::repeat_n(0xffu8, (rng.next() % 64) as usize),
                );
            }
        }
        match Mmdb::from_bytes(b, "damaged.mmdb") {
            Ok(_) => read += 1,
            Err(_) => refused += 1,
        }
    }
    assert_eq!(read + refused, 400);
}

/// Random bytes and shuffled lines of a valid dump: counted as bad
/// objects, never a panic.
#[test]
fn garbage_dumps_and_tables_never_panic() {
    let mut rng = Rng(99);
    let valid = "inetnum: 192.0.2.0 - 192.0.2.255\nabuse-c: A1-X\n\nrole: r\nnic-hdl: A1-X\nabuse-mailbox: a@b.example\n\norganisation: ORG-1\nabuse-c: A1-X\n\ninet6num: 2001:db8::/32\norg: ORG-1\n\naut-num: AS1\norg: ORG-1\n";
    let lines: Vec<&str> = valid.lines().collect();
    for round in 0..300 {
        let text: Vec<u8> = if round % 2 == 0 {
            (0..(rng.next() % 2000))
                .map(|_| {
                    let b = rng.next() as u8;
                    // Mostly RPSL-looking bytes.
                    match b % 8 {
                        0 => b'\n',
                        1 => b':',
                        2 => b' ',
                        3 => b'+',
                        4 => b'#',
                        _ => b,
                    }
                })
                .collect()
        } else {
            let mut t = Vec::new();
            for _ in 0..40 {
                t.extend_from_slice(lines[(rng.next() as usize) % lines.len()].as_bytes());
                t.push(b'\n');
            }
            t
        };
        let mut b = Contacts::builder();
        b.ripe_dump_from(&text[..], "garbage").unwrap();
        b.overrides_from(&text[..], "garbage.csv").unwrap();
        let c = b.build();
        let _ = c.lookup(ip("192.0.2.1"), Some(1), Some("DE"));
        let mut r = takedown_notify::contacts::rirstats::RirStatsBuilder::new();
        r.read_from(&text[..], "garbage-stats").unwrap();
        let (s, _) = r.build();
        let _ = s.country(ip("192.0.2.1"));
    }
}
