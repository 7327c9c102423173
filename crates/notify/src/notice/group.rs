//! Grouping: millions of events into one row per (address, family, day)
//! and one notice per (contact, period).
//!
//! The hot path is an event whose key was already seen (a machine calls
//! the sinkhole many times a day): it costs one hash lookup on a packed
//! 24-byte key and a few field updates, with no allocation. Families,
//! contacts, countries, report types and rules are interned once, so a
//! row holds small integers; strings are built only in [`Grouper::finish`].

use super::{MAX_DAY, MIN_DAY, Notice, Period, Row, day_of, family_key, key_digest};
use crate::Event;
use crate::contacts::{ContactRef, Country, Rule, RuleRef};
use foldhash::fast::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

/// Longest destination kept on a row (a sinkhole address and port, or a
/// host name, is far shorter): a hostile report cannot make every row
/// carry a megabyte.
const MAX_DESTINATION: usize = 1024;

/// Strings seen many times, stored once.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32, RandomState>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn get(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |s| s)
    }

    /// Each id's rank in the sorted order of the names.
    fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.name(a).cmp(self.name(b)));
        let mut rank = vec![0u32; self.names.len()];
        for (r, &id) in order.iter().enumerate() {
            if let Some(slot) = rank.get_mut(id as usize) {
                *slot = r as u32;
            }
        }
        rank
    }
}

/// [`RuleRef`], owned: compared to a borrowed one without building the
/// [`Rule`] text, so that a rule seen before costs no allocation.
#[derive(PartialEq, Eq)]
enum RuleKey {
    Override(IpAddr, u8),
    Ripe(IpAddr, IpAddr, Box<str>, Option<Box<str>>),
    OverrideAsn(u32),
    RipeAsn(u32, Box<str>, Option<Box<str>>),
    OverrideCountry(Country),
    NationalCert(Country, Box<str>),
}

impl RuleKey {
    fn of(r: &RuleRef<'_>) -> RuleKey {
        match *r {
            RuleRef::Override { network, len } => RuleKey::Override(network, len),
            RuleRef::Ripe {
                first,
                last,
                abuse_c,
                org,
            } => RuleKey::Ripe(first, last, abuse_c.into(), org.map(Into::into)),
            RuleRef::OverrideAsn(a) => RuleKey::OverrideAsn(a),
            RuleRef::RipeAsn { asn, abuse_c, org } => {
                RuleKey::RipeAsn(asn, abuse_c.into(), org.map(Into::into))
            }
            RuleRef::OverrideCountry(c) => RuleKey::OverrideCountry(c),
            RuleRef::NationalCert { country, team } => RuleKey::NationalCert(country, team.into()),
        }
    }

    fn matches(&self, r: &RuleRef<'_>) -> bool {
        match (self, *r) {
            (RuleKey::Override(n, l), RuleRef::Override { network, len }) => {
                *n == network && *l == len
            }
            (
                RuleKey::Ripe(f, l, a, o),
                RuleRef::Ripe {
                    first,
                    last,
                    abuse_c,
                    org,
                },
            ) => *f == first && *l == last && **a == *abuse_c && o.as_deref() == org,
            (RuleKey::OverrideAsn(a), RuleRef::OverrideAsn(b)) => *a == b,
            (RuleKey::RipeAsn(n, a, o), RuleRef::RipeAsn { asn, abuse_c, org }) => {
                *n == asn && **a == *abuse_c && o.as_deref() == org
            }
            (RuleKey::OverrideCountry(a), RuleRef::OverrideCountry(b)) => *a == b,
            (RuleKey::NationalCert(c, t), RuleRef::NationalCert { country, team }) => {
                *c == country && **t == *team
            }
            _ => false,
        }
    }
}

fn hash_rule(h: &mut impl Hasher, contact: u32, r: &RuleRef<'_>) {
    contact.hash(h);
    match *r {
        RuleRef::Override { network, len } => (0u8, network, len).hash(h),
        RuleRef::Ripe {
            first,
            last,
            abuse_c,
            org,
        } => (1u8, first, last, abuse_c, org).hash(h),
        RuleRef::OverrideAsn(a) => (2u8, a).hash(h),
        RuleRef::RipeAsn { asn, abuse_c, org } => (3u8, asn, abuse_c, org).hash(h),
        RuleRef::OverrideCountry(c) => (4u8, c).hash(h),
        RuleRef::NationalCert { country, team } => (5u8, country, team).hash(h),
    }
}

/// The packed key: the address's 128 bits (IPv4 in the low 32), then
/// family id (31 bits) with an IPv6 flag, and the day. 24 bytes, 8-byte
/// aligned: half the size of `(IpAddr, u32, i32)` in the table.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PackedKey([u64; 3]);

impl PackedKey {
    fn new(ip: IpAddr, family: u32, day: i32) -> PackedKey {
        let (bits, v6) = match ip {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 0u64),
            IpAddr::V6(a) => (u128::from(a), 1u64 << 63),
        };
        let tail = v6 | (u64::from(family & 0x7fff_ffff) << 32) | u64::from(day as u32);
        PackedKey([(bits >> 64) as u64, bits as u64, tail])
    }
}

/// A row's place among the notices: contact, period, address, family
/// and day, as ranks where strings sort.
type SortKey = (u32, u32, IpAddr, u32, i32);

/// A row while grouping: interned ids instead of strings.
struct RowState {
    ip: IpAddr,
    family: u32,
    day: i32,
    contact: u32,
    rule: u32,
    first: i64,
    last: i64,
    count: u64,
    port: Option<u16>,
    asn: Option<u32>,
    country: Option<u32>,
    destination: Option<Box<str>>,
    report_type: u32,
}

/// Groups a run's events into notices: one per contact address and
/// period, each event merged into the row of its (address, family, UTC
/// day). Memory is bounded by the distinct keys, not the events.
pub struct Grouper {
    period: Period,
    keys: HashMap<PackedKey, u32, RandomState>,
    rows: Vec<RowState>,
    families: Interner,
    contacts: Interner,
    countries: Interner,
    report_types: Interner,
    rules: Vec<(RuleKey, Rule)>,
    rule_ids: HashMap<u64, Vec<u32>, RandomState>,
    rule_hasher: RandomState,
}

impl Grouper {
    /// An empty grouper for notices of one period each.
    pub fn new(period: Period) -> Grouper {
        Grouper {
            period,
            keys: HashMap::default(),
            rows: Vec::new(),
            families: Interner::default(),
            contacts: Interner::default(),
            countries: Interner::default(),
            report_types: Interner::default(),
            rules: Vec::new(),
            rule_ids: HashMap::default(),
            rule_hasher: RandomState::default(),
        }
    }

    /// Adds an event for a contact. `true` when its key (address, family,
    /// UTC day) is new in this run; `false` when it was already seen and
    /// the event was merged into its row (count, first and last
    /// sighting, and the port, ASN, country and destination the row did
    /// not have yet), or when the event has no key ([`super::Key::of`]
    /// is `None`: nothing is added). A key keeps the contact of its first
    /// event.
    pub fn add(&mut self, event: &Event, contact: &ContactRef<'_>) -> bool {
        let (Some(ip), Some(time)) = (event.ip, event.time) else {
            return false;
        };
        let day = day_of(time);
        if !(MIN_DAY..=MAX_DAY).contains(&day) {
            return false;
        }
        let family = self.families.get(&family_key(event.family.as_deref()));
        let key = PackedKey::new(ip, family, day);
        if let Some(&i) = self.keys.get(&key) {
            if let Some(row) = self.rows.get_mut(i as usize) {
                merge(row, event, time, &mut self.countries);
            }
            return false;
        }
        let contact_id = self.contacts.get(contact.address);
        let rule = self.rule(contact_id, &contact.rule);
        let report_type = self.report_types.get(&event.report_type);
        let Ok(index) = u32::try_from(self.rows.len()) else {
            // Four billion distinct keys: far past any memory; refused
            // rather than wrapped.
            return false;
        };
        let mut row = RowState {
            ip,
            family,
            day,
            contact: contact_id,
            rule,
            first: time,
            last: time,
            count: 0,
            port: None,
            asn: None,
            country: None,
            destination: None,
            report_type,
        };
        merge(&mut row, event, time, &mut self.countries);
        self.rows.push(row);
        self.keys.insert(key, index);
        true
    }

    /// The id of a contact's rule, interned.
    fn rule(&mut self, contact: u32, r: &RuleRef<'_>) -> u32 {
        let mut h = self.rule_hasher.build_hasher();
        hash_rule(&mut h, contact, r);
        let hash = h.finish();
        let ids = self.rule_ids.entry(hash).or_default();
        for &id in ids.iter() {
            if self
                .rules
                .get(id as usize)
                .is_some_and(|(k, _)| k.matches(r))
            {
                return id;
            }
        }
        let id = u32::try_from(self.rules.len()).unwrap_or(u32::MAX);
        self.rules.push((RuleKey::of(r), r.to_rule()));
        ids.push(id);
        id
    }

    /// The distinct keys so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no key was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The notices, sorted by (contact, period), their rows by (address,
    /// family, day).
    pub fn finish(self) -> Vec<Notice> {
        let Grouper {
            period,
            keys,
            rows,
            families,
            contacts,
            countries,
            report_types,
            rules,
            ..
        } = self;
        drop(keys);
        // Period label of every distinct day, and their ranks.
        let mut labels = Interner::default();
        let mut day_label: HashMap<i32, u32, RandomState> = HashMap::default();
        let mut row_period = Vec::with_capacity(rows.len());
        for r in &rows {
            let id = *day_label.entry(r.day).or_insert_with(|| {
                labels.get(&period.label(r.day).unwrap_or_else(|| r.day.to_string()))
            });
            row_period.push(id);
        }
        let contact_rank = contacts.ranks();
        let family_rank = families.ranks();
        let period_rank = labels.ranks();
        let rank = |v: &[u32], id: u32| v.get(id as usize).copied().unwrap_or(u32::MAX);
        // The sort keys built once, in one pass over the rows, rather
        // than looked up from the rows at every comparison (random
        // access into a table of millions).
        let mut keyed: Vec<(SortKey, u32)> = rows
            .iter()
            .zip(&row_period)
            .enumerate()
            .map(|(i, (r, &p))| {
                (
                    (
                        rank(&contact_rank, r.contact),
                        rank(&period_rank, p),
                        r.ip,
                        rank(&family_rank, r.family),
                        r.day,
                    ),
                    i as u32,
                )
            })
            .collect();
        keyed.sort_unstable();
        let order: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();

        let mut notices = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let head = &rows[order[start] as usize];
            let head_period = row_period[order[start] as usize];
            let mut end = start + 1;
            while end < order.len() {
                let r = &rows[order[end] as usize];
                if r.contact != head.contact || row_period[order[end] as usize] != head_period {
                    break;
                }
                end += 1;
            }
            let to = contacts.name(head.contact).to_string();
            let period = labels.name(head_period).to_string();
            // The notice's rules, each once, in the order of the rows.
            let mut used: Vec<u32> = Vec::new();
            let out: Vec<Row> = order[start..end]
                .iter()
                .map(|&i| {
                    let r = &rows[i as usize];
                    let rule = used.iter().position(|&u| u == r.rule).unwrap_or_else(|| {
                        used.push(r.rule);
                        used.len() - 1
                    });
                    Row {
                        rule,
                        ip: r.ip,
                        family: families.name(r.family).to_string(),
                        day: r.day,
                        first: r.first,
                        last: r.last,
                        count: r.count,
                        port: r.port,
                        asn: r.asn,
                        country: r.country.map(|c| countries.name(c).to_string()),
                        destination: r.destination.as_deref().map(str::to_string),
                        report_type: report_types.name(r.report_type).to_string(),
                    }
                })
                .collect();
            let mut digests: Vec<[u8; 16]> = out
                .iter()
                .map(|r| key_digest(r.ip, &r.family, r.day))
                .collect();
            let id = Notice::id_of(&to, &period, &mut digests);
            let notice_rules = used
                .iter()
                .map(|&u| {
                    rules
                        .get(u as usize)
                        .map(|(_, r)| r.clone())
                        .unwrap_or(Rule::Override {
                            network: String::new(),
                        })
                })
                .collect();
            notices.push(Notice {
                id,
                to,
                rules: notice_rules,
                period,
                rows: out,
            });
            start = end;
        }
        notices
    }
}

/// Merges an event into its row.
fn merge(row: &mut RowState, event: &Event, time: i64, countries: &mut Interner) {
    row.count = row.count.saturating_add(1);
    row.first = row.first.min(time);
    row.last = row.last.max(time);
    if row.port.is_none() {
        row.port = event.port;
    }
    if row.asn.is_none() {
        row.asn = event.asn;
    }
    if row.country.is_none()
        && let Some(c) = event.country.as_deref().filter(|c| !c.is_empty())
    {
        row.country = Some(countries.get(c));
    }
    if row.destination.is_none()
        && let Some(d) = event.destination.as_deref().filter(|d| !d.is_empty())
    {
        row.destination = Some(cut(d, MAX_DESTINATION).into());
    }
}

/// At most `max` bytes of `s`, cut on a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::RuleRef;

    const DAY: i64 = 86_400_000_000;

    fn ev(ip: &str, family: &str, time: i64) -> Event {
        Event {
            ip: Some(ip.parse().unwrap()),
            time: Some(time),
            family: Some(family.to_string()),
            report_type: "sinkhole-events".into(),
            ..Event::default()
        }
    }

    fn contact(address: &str) -> ContactRef<'_> {
        ContactRef {
            address,
            rule: RuleRef::OverrideAsn(64_500),
        }
    }

    #[test]
    fn same_key_in_two_reports_is_one_row() {
        let mut g = Grouper::new(Period::Day);
        let mut a = ev("192.0.2.1", "mirai", 10 * DAY + 5);
        a.file = "one.csv".into();
        let mut b = ev("192.0.2.1", "Mirai", 10 * DAY + 1);
        b.file = "two.csv".into();
        b.port = Some(4444);
        b.asn = Some(64_500);
        b.country = Some("DE".into());
        b.destination = Some("198.51.100.1:80".into());
        a.port = None;
        assert!(g.add(&a, &contact("abuse@example.net")));
        assert!(!g.add(&b, &contact("abuse@example.net")));
        let n = g.finish();
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].rows.len(), 1);
        let r = &n[0].rows[0];
        assert_eq!(r.count, 2);
        assert_eq!((r.first, r.last), (10 * DAY + 1, 10 * DAY + 5));
        assert_eq!(r.port, Some(4444));
        assert_eq!(r.asn, Some(64_500));
        assert_eq!(r.country.as_deref(), Some("DE"));
        assert_eq!(r.destination.as_deref(), Some("198.51.100.1:80"));
        assert_eq!(n[0].events(), 2);
    }

    #[test]
    fn first_non_empty_values_are_kept() {
        let mut g = Grouper::new(Period::Day);
        let mut a = ev("192.0.2.1", "mirai", DAY);
        a.port = Some(1);
        a.destination = Some(String::new());
        let mut b = ev("192.0.2.1", "mirai", DAY);
        b.port = Some(2);
        b.destination = Some("sinkhole.example".into());
        g.add(&a, &contact("x@example.net"));
        g.add(&b, &contact("x@example.net"));
        let r = &g.finish()[0].rows[0];
        assert_eq!(r.port, Some(1));
        assert_eq!(r.destination.as_deref(), Some("sinkhole.example"));
    }

    #[test]
    fn different_days_families_and_addresses_are_rows() {
        let mut g = Grouper::new(Period::Month);
        let c = contact("abuse@example.net");
        assert!(g.add(&ev("192.0.2.1", "mirai", DAY), &c));
        assert!(g.add(&ev("192.0.2.1", "mirai", 2 * DAY), &c));
        assert!(g.add(&ev("192.0.2.1", "conficker", DAY), &c));
        assert!(g.add(&ev("::ffff:192.0.2.1", "mirai", DAY), &c));
        assert!(!g.add(&ev("192.0.2.1", "mirai", DAY + 1), &c));
        assert_eq!(g.len(), 4);
        let n = g.finish();
        assert_eq!(n.len(), 1);
        let rows: Vec<(String, &str, i32)> = n[0]
            .rows
            .iter()
            .map(|r| (r.ip.to_string(), r.family.as_str(), r.day))
            .collect();
        assert_eq!(
            rows,
            [
                ("192.0.2.1".to_string(), "conficker", 1),
                ("192.0.2.1".to_string(), "mirai", 1),
                ("192.0.2.1".to_string(), "mirai", 2),
                ("::ffff:192.0.2.1".to_string(), "mirai", 1),
            ]
        );
        assert_eq!(n[0].period, "1970-01");
    }

    #[test]
    fn one_notice_per_contact_and_period() {
        // 2026-12-05 (Saturday, W49) .. 2026-12-07 (Monday, W50).
        let d5 = 20_792i64;
        assert_eq!(Period::Day.label(d5 as i32).unwrap(), "2026-12-05");
        for (period, expect) in [
            (
                Period::Day,
                vec![
                    ("a@example.net", "2026-12-05"),
                    ("a@example.net", "2026-12-06"),
                    ("a@example.net", "2026-12-07"),
                    ("b@example.net", "2026-12-05"),
                ],
            ),
            (
                Period::Week,
                vec![
                    ("a@example.net", "2026-W49"),
                    ("a@example.net", "2026-W50"),
                    ("b@example.net", "2026-W49"),
                ],
            ),
            (
                Period::Month,
                vec![("a@example.net", "2026-12"), ("b@example.net", "2026-12")],
            ),
        ] {
            let mut g = Grouper::new(period);
            // Added out of order: the result is sorted.
            g.add(
                &ev("192.0.2.9", "x", (d5 + 2) * DAY),
                &contact("a@example.net"),
            );
            g.add(
                &ev("198.51.100.1", "x", d5 * DAY),
                &contact("b@example.net"),
            );
            g.add(&ev("192.0.2.1", "x", d5 * DAY), &contact("a@example.net"));
            g.add(
                &ev("192.0.2.1", "x", (d5 + 1) * DAY),
                &contact("a@example.net"),
            );
            let got: Vec<(String, String)> =
                g.finish().into_iter().map(|n| (n.to, n.period)).collect();
            let expect: Vec<(String, String)> = expect
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            assert_eq!(got, expect, "{period}");
        }
    }

    #[test]
    fn ids_do_not_depend_on_event_order() {
        let events = [
            ev("192.0.2.1", "mirai", DAY),
            ev("192.0.2.2", "mirai", DAY),
            ev("2001:db8::1", "qsnatch", DAY + 7),
            ev("192.0.2.1", "mirai", DAY + 9),
        ];
        let run = |order: &[usize]| {
            let mut g = Grouper::new(Period::Week);
            for &i in order {
                g.add(&events[i], &contact("abuse@example.net"));
            }
            g.finish()
        };
        let a = run(&[0, 1, 2, 3]);
        let b = run(&[3, 2, 1, 0]);
        assert_eq!(a, b);
        assert_eq!(a[0].id.len(), 32);
        assert!(
            a[0].id
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let mut keys = a[0].keys();
        assert_eq!(keys.len(), 3);
        assert_eq!(Notice::id_of(&a[0].to, &a[0].period, &mut keys), a[0].id);
        // Another contact, same rows: another id.
        let mut g = Grouper::new(Period::Week);
        for e in &events {
            g.add(e, &contact("other@example.net"));
        }
        assert_ne!(g.finish()[0].id, a[0].id);
    }

    #[test]
    fn rules_are_kept_per_row() {
        let mut g = Grouper::new(Period::Day);
        let team = String::from("CERT-XX");
        let r1 = ContactRef {
            address: "a@example.net",
            rule: RuleRef::NationalCert {
                country: Country::parse("xx").unwrap(),
                team: &team,
            },
        };
        let r2 = ContactRef {
            address: "a@example.net",
            rule: RuleRef::OverrideAsn(1),
        };
        g.add(&ev("192.0.2.5", "x", DAY), &r1);
        g.add(&ev("192.0.2.1", "x", DAY), &r2);
        g.add(&ev("192.0.2.6", "x", DAY), &r1);
        assert_eq!(g.rules.len(), 2);
        let n = g.finish();
        // Both rules, in the order of the rows (192.0.2.1 first), and
        // each row's own.
        assert_eq!(
            n[0].rules,
            [
                Rule::OverrideAsn { asn: 1 },
                Rule::NationalCert {
                    country: "XX".into(),
                    team: "CERT-XX".into()
                }
            ]
        );
        assert_eq!(
            n[0].rows.iter().map(|r| r.rule).collect::<Vec<_>>(),
            [0, 1, 1]
        );
        assert_eq!(
            n[0].rule_text(),
            "contacts table: AS1; national CERT of XX (CERT-XX)"
        );
        // A part names only the rules of its rows.
        let parts = n[0].clone().split(1);
        assert_eq!(parts[1].rules.len(), 1);
        assert_eq!(parts[1].rows[0].rule, 0);
        assert_eq!(
            parts[1].rule_of(&parts[1].rows[0]),
            "national CERT of XX (CERT-XX)"
        );
    }

    #[test]
    fn events_without_a_key_are_not_added() {
        let mut g = Grouper::new(Period::Day);
        let mut e = ev("192.0.2.1", "x", DAY);
        e.time = None;
        assert!(!g.add(&e, &contact("a@example.net")));
        e.time = Some(i64::MIN);
        assert!(!g.add(&e, &contact("a@example.net")));
        assert!(g.is_empty());
        assert!(g.finish().is_empty());
    }

    #[test]
    fn long_destinations_are_cut_on_a_boundary() {
        let mut g = Grouper::new(Period::Day);
        let mut e = ev("192.0.2.1", "x", DAY);
        e.destination = Some("é".repeat(MAX_DESTINATION));
        g.add(&e, &contact("a@example.net"));
        let d = g.finish()[0].rows[0].destination.clone().unwrap();
        assert_eq!(d.len(), MAX_DESTINATION);
    }

    #[test]
    fn a_split_notice_keeps_its_part_ids_when_its_first_parts_are_left_out() {
        let mut g = Grouper::new(Period::Day);
        for i in 0..10 {
            g.add(
                &ev(&format!("192.0.2.{i}"), "mirai", DAY),
                &contact("a@example.net"),
            );
        }
        let whole = g.finish().remove(0);
        let parts = whole.clone().split(4);
        assert_eq!(
            parts.iter().map(|p| p.rows.len()).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        let mut ids: Vec<&str> = parts.iter().map(|p| p.id.as_str()).collect();
        ids.push(&whole.id);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 4, "every part its own id");
        assert!(
            parts
                .iter()
                .all(|p| p.period == whole.period && p.to == whole.to)
        );
        // A rerun after the first part was journaled: the rest, cut again.
        let mut g = Grouper::new(Period::Day);
        for i in 4..10 {
            g.add(
                &ev(&format!("192.0.2.{i}"), "mirai", DAY),
                &contact("a@example.net"),
            );
        }
        let rest = g.finish().remove(0).split(4);
        assert_eq!(rest, parts[1..].to_vec());
        assert_eq!(whole.clone().split(10), vec![whole.clone()]);
        assert_eq!(
            whole.clone().split(0).len(),
            10,
            "at least one row per part"
        );
    }
}
