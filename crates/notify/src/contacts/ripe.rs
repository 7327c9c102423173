//! RIPE-format database dumps: the `inetnum`, `inet6num`, `aut-num`,
//! `role` and `organisation` objects, read as a stream.
//!
//! The format is RPSL as the RIPE Database writes it (RIPE Database
//! documentation, "RPSL Object Types"; the dumps at
//! `ftp.ripe.net/ripe/dbase/split/ripe.db.<type>.gz`, or one
//! `ripe.db.gz` with all types): objects separated by blank lines, one
//! `name: value` attribute per line, a value continued on lines that
//! start with a space, a tab or `+`, comment lines starting with `%` or
//! `#`, and `#` starting an end-of-line comment in a value:
//!
//! ```text
//! inetnum:        192.0.2.0 - 192.0.2.255
//! netname:        EXAMPLE-NET
//! org:            ORG-EX1-RIPE
//! abuse-c:        AR1-RIPE
//! mnt-by:         EXAMPLE-MNT
//!
//! role:           Example abuse desk
//! nic-hdl:        AR1-RIPE
//! abuse-mailbox:  abuse@example.net
//!
//! organisation:   ORG-EX1-RIPE
//! abuse-c:        AR1-RIPE
//! ```
//!
//! The published dumps keep `role` objects that have an `abuse-mailbox`
//! (others become placeholders) and the `abuse-c` of organisations
//! (RIPE's whois, `DummifierNrtm`), so the abuse contacts survive the
//! removal of personal data. The dumps are ISO-8859-1: lines are read as
//! bytes and only ASCII values are used.
//!
//! Only what the contacts need is kept, in fixed slots reused from object
//! to object (a few hundred bytes whatever the object's size); the
//! thousands of `import:` lines of a large `aut-num` are skipped as they
//! are read. References are resolved once everything is read (the split
//! files come in any order), by the rule of RIPE's own abuse-contact
//! finder (RIPE NCC whois, `AbuseCFinder`; ripe-705, "Abuse Contact
//! Management in the RIPE Database"): a resource's own `abuse-c` naming a
//! role with an `abuse-mailbox`; else its `org`'s `abuse-c`; else, for
//! address ranges, the same asked of the closest less specific range,
//! except that a range maintained by the RIPE NCC itself (`mnt-by` or
//! `mnt-lower` one of RIPE's registration-services maintainers) does not
//! inherit from above it. `aut-num` objects do not inherit.

use std::collections::HashMap;
use std::io::BufRead;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::input::{Line, Lines, LoadError, Problems};
use super::table::{self, NONE, RangeTable};
use super::{Interner, normalise_address};

/// Most resources (`inetnum`, `inet6num` and `aut-num` together)
/// accepted: the RIPE database holds about 6 million today; four times
/// that is not a dump of the Internet's registries but a mistake or an
/// attack on the memory of the machine.
pub const MAX_RANGES: usize = 25_000_000;

/// Most distinct handles (roles, organisations) accepted, for the same
/// reason.
pub const MAX_HANDLES: usize = 10_000_000;

/// Most lines of one object. Large `aut-num` objects have tens of
/// thousands of `import:`/`export:` lines; ten times the largest is a
/// file without blank lines.
pub const MAX_OBJECT_LINES: usize = 1_000_000;

/// Longest kept value (a range, a handle, a mailbox), continuation lines
/// included.
const MAX_VALUE: usize = 1024;

/// Longest handle (`nic-hdl`, organisation id, maintainer).
const MAX_HANDLE: usize = 100;

/// The maintainers of RIPE NCC registration services (RIPE whois:
/// `whois.maintainers.alloc`, `.enduser`, `.legacy`): ranges they
/// maintain do not inherit an abuse contact from above.
const RS_MAINTAINERS: &[&[u8]] = &[
    b"RIPE-NCC-HM-MNT",
    b"RIPE-NCC-HM2-MNT",
    b"RIPE-NCC-END-MNT",
    b"RIPE-NCC-LEGACY-MNT",
];

/// The object types read; every other type is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Inetnum,
    Inet6num,
    AutNum,
    Role,
    Organisation,
    Other,
}

impl Kind {
    fn of(name: &[u8]) -> Kind {
        if name.eq_ignore_ascii_case(b"inetnum") {
            Kind::Inetnum
        } else if name.eq_ignore_ascii_case(b"inet6num") {
            Kind::Inet6num
        } else if name.eq_ignore_ascii_case(b"aut-num") {
            Kind::AutNum
        } else if name.eq_ignore_ascii_case(b"role") {
            Kind::Role
        } else if name.eq_ignore_ascii_case(b"organisation") {
            Kind::Organisation
        } else {
            Kind::Other
        }
    }
}

/// Slots for the attributes kept.
const KEY: usize = 0;
const NIC_HDL: usize = 1;
const ABUSE_MAILBOX: usize = 2;
const ABUSE_C: usize = 3;
const ORG: usize = 4;
const SLOTS: usize = 5;

/// The object being read.
struct Object {
    kind: Kind,
    line: u64,
    lines: usize,
    values: [Vec<u8>; SLOTS],
    seen: [bool; SLOTS],
    /// The slot a continuation line extends, if any.
    last: Option<usize>,
    rs: bool,
    bad: Option<&'static str>,
}

impl Object {
    fn new() -> Object {
        Object {
            kind: Kind::Other,
            line: 0,
            lines: 0,
            values: Default::default(),
            seen: [false; SLOTS],
            last: None,
            rs: false,
            bad: None,
        }
    }

    fn reset(&mut self, kind: Kind, line: u64) {
        self.kind = kind;
        self.line = line;
        self.lines = 0;
        for v in &mut self.values {
            v.clear();
        }
        self.seen = [false; SLOTS];
        self.last = None;
        self.rs = false;
        self.bad = None;
    }

    /// The value of a slot: end-of-line comment removed, trimmed.
    fn value(&self, slot: usize) -> Option<&[u8]> {
        if !self.seen[slot] {
            return None;
        }
        let v = &self.values[slot];
        let v = match memchr::memchr(b'#', v) {
            Some(i) => &v[..i],
            None => v,
        };
        Some(v.trim_ascii())
    }

    fn slot_of(&self, name: &[u8]) -> Option<usize> {
        let eq = |s: &[u8]| name.eq_ignore_ascii_case(s);
        match self.kind {
            Kind::Role if eq(b"nic-hdl") => Some(NIC_HDL),
            Kind::Role if eq(b"abuse-mailbox") => Some(ABUSE_MAILBOX),
            Kind::Inetnum | Kind::Inet6num | Kind::AutNum | Kind::Organisation
                if eq(b"abuse-c") =>
            {
                Some(ABUSE_C)
            }
            Kind::Inetnum | Kind::Inet6num | Kind::AutNum if eq(b"org") => Some(ORG),
            _ => None,
        }
    }
}

/// A range of the dump, its references not yet resolved.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Net<K> {
    pub(crate) start: K,
    pub(crate) end: K,
    /// Interned handles ([`NONE`] when absent).
    pub(crate) abuse_c: u32,
    pub(crate) org: u32,
    /// Maintained by RIPE NCC registration services.
    pub(crate) rs: bool,
    /// The resolved contact (an address id), [`NONE`] until resolved.
    pub(crate) addr: u32,
    /// The organisation the contact came through ([`NONE`]: the range's
    /// own `abuse-c`).
    pub(crate) via_org: u32,
}

/// An `aut-num`, resolved like a range (without inheritance).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AutNum {
    pub(crate) asn: u32,
    pub(crate) abuse_c: u32,
    pub(crate) org: u32,
    pub(crate) addr: u32,
    pub(crate) via_org: u32,
}

/// Counts of what the dumps held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RipeStats {
    /// `inetnum` objects read.
    pub inetnums: u64,
    /// `inet6num` objects read.
    pub inet6nums: u64,
    /// `aut-num` objects read.
    pub aut_nums: u64,
    /// `role` objects with a usable `abuse-mailbox`.
    pub abuse_roles: u64,
    /// `organisation` objects read.
    pub organisations: u64,
    /// Objects that could not be used.
    pub bad_objects: u64,
}

/// Everything read from the dumps so far.
#[derive(Default)]
pub(crate) struct RipeData {
    pub(crate) handles: Interner,
    /// Role handle -> address id.
    roles: HashMap<u32, u32>,
    /// Organisation handle -> its `abuse-c` handle.
    orgs: HashMap<u32, u32>,
    pub(crate) nets4: Vec<Net<u32>>,
    pub(crate) nets6: Vec<Net<u128>>,
    pub(crate) aut_nums: Vec<AutNum>,
    pub(crate) stats: RipeStats,
    /// A lower bound than [`MAX_RANGES`], for tests.
    limit: Option<usize>,
}

/// The dumps resolved into lookup tables.
#[derive(Default)]
pub(crate) struct RipeTables {
    pub(crate) handles: Vec<Box<str>>,
    pub(crate) v4: RangeTable<u32>,
    pub(crate) nets4: Vec<Net<u32>>,
    pub(crate) v6: RangeTable<u128>,
    pub(crate) nets6: Vec<Net<u128>>,
    /// Sorted by AS number, one per AS, only those with a contact.
    pub(crate) aut_nums: Vec<AutNum>,
    pub(crate) stats: RipeStats,
}

impl RipeTables {
    /// The range whose contact applies to `x`, if any.
    pub(crate) fn get4(&self, x: u32) -> Option<&Net<u32>> {
        let n = self.nets4.get(self.v4.get(x)? as usize)?;
        (n.addr != NONE).then_some(n)
    }

    /// The same for IPv6.
    pub(crate) fn get6(&self, x: u128) -> Option<&Net<u128>> {
        let n = self.nets6.get(self.v6.get(x)? as usize)?;
        (n.addr != NONE).then_some(n)
    }

    /// The `aut-num` of `asn`, when it has a contact.
    pub(crate) fn aut_num(&self, asn: u32) -> Option<&AutNum> {
        let i = self.aut_nums.binary_search_by_key(&asn, |a| a.asn).ok()?;
        self.aut_nums.get(i)
    }

    /// A handle by its id.
    pub(crate) fn handle(&self, id: u32) -> Option<&str> {
        self.handles.get(id as usize).map(|h| &**h)
    }
}

impl RipeData {
    /// Reads one dump (or part of one) from `r`; `name` names it in
    /// problems. Fails only when `r` cannot be read or the dumps exceed
    /// [`MAX_RANGES`] or [`MAX_HANDLES`].
    pub(crate) fn read(
        &mut self,
        r: impl BufRead,
        name: &str,
        addresses: &mut Interner,
        problems: &mut Problems,
    ) -> Result<(), LoadError> {
        let mut lines = Lines::new(r);
        let mut obj = Object::new();
        let mut in_object = false;
        loop {
            let line = lines.next_line().map_err(|e| LoadError::io(name, &e))?;
            let number = line.as_ref().map_or(0, |l| l.0);
            let line = line.map(|l| l.1);
            let bytes = match line {
                None => {
                    if in_object {
                        self.finish(&obj, name, addresses, problems)?;
                    }
                    return Ok(());
                }
                Some(Line::TooLong) => {
                    if !in_object {
                        obj.reset(Kind::Other, number);
                        in_object = true;
                        obj.bad = Some("line too long");
                    } else if obj.kind != Kind::Other {
                        // Only the objects read are spoiled by it.
                        obj.bad.get_or_insert("line too long");
                    }
                    continue;
                }
                Some(Line::Bytes(b)) => b,
            };
            if bytes.trim_ascii().is_empty() {
                if in_object {
                    self.finish(&obj, name, addresses, problems)?;
                    in_object = false;
                }
                continue;
            }
            let first = bytes[0];
            if first == b'%' || first == b'#' {
                continue;
            }
            if !in_object {
                obj.reset(Kind::Other, number);
                in_object = true;
                if first == b' ' || first == b'\t' || first == b'+' {
                    obj.bad = Some("continuation line outside an attribute");
                    continue;
                }
                match split_attribute(bytes) {
                    Some((n, v)) => {
                        obj.kind = Kind::of(n);
                        if obj.kind != Kind::Other {
                            set(&mut obj, KEY, v);
                        }
                    }
                    None => obj.bad = Some("line is not an attribute"),
                }
                continue;
            }
            obj.lines += 1;
            if obj.lines > MAX_OBJECT_LINES {
                obj.bad.get_or_insert("object too long");
                continue;
            }
            if obj.kind == Kind::Other || obj.bad.is_some() {
                // Skipped as read: nothing of it is kept.
                continue;
            }
            if first == b' ' || first == b'\t' || first == b'+' {
                if let Some(slot) = obj.last {
                    let more = if first == b'+' { &bytes[1..] } else { bytes };
                    let buf = &mut obj.values[slot];
                    if buf.len() + 1 + more.len() > MAX_VALUE {
                        obj.bad = Some("attribute value too long");
                    } else {
                        buf.push(b' ');
                        buf.extend_from_slice(more.trim_ascii());
                    }
                }
                continue;
            }
            let Some((n, v)) = split_attribute(bytes) else {
                obj.bad = Some("line is not an attribute");
                continue;
            };
            obj.last = None;
            if n.eq_ignore_ascii_case(b"mnt-by") || n.eq_ignore_ascii_case(b"mnt-lower") {
                let v = strip_comment(v);
                if RS_MAINTAINERS.iter().any(|m| v.eq_ignore_ascii_case(m)) {
                    obj.rs = true;
                }
                continue;
            }
            if let Some(slot) = obj.slot_of(n)
                && !obj.seen[slot]
            {
                set(&mut obj, slot, v);
            }
        }
    }

    /// Takes in a complete object.
    fn finish(
        &mut self,
        obj: &Object,
        name: &str,
        addresses: &mut Interner,
        problems: &mut Problems,
    ) -> Result<(), LoadError> {
        if obj.kind == Kind::Other && obj.bad.is_none() {
            return Ok(());
        }
        let mut bad = |reason: &'static str, stats: &mut RipeStats| {
            stats.bad_objects += 1;
            problems.push(name, obj.line, reason);
        };
        if let Some(reason) = obj.bad {
            bad(reason, &mut self.stats);
            return Ok(());
        }
        let key = obj.value(KEY).unwrap_or_default();
        match obj.kind {
            Kind::Inetnum | Kind::Inet6num | Kind::AutNum => {
                let (abuse_c, org) = match (self.handle_of(obj, ABUSE_C), self.handle_of(obj, ORG))
                {
                    (Ok(a), Ok(o)) => (a, o),
                    _ => {
                        bad("invalid handle", &mut self.stats);
                        return Ok(());
                    }
                };
                let (abuse_c, org) = (self.intern(abuse_c, name)?, self.intern(org, name)?);
                match obj.kind {
                    Kind::Inetnum => match parse_inetnum(key) {
                        Some((start, end)) => {
                            self.stats.inetnums += 1;
                            self.check_ranges(name)?;
                            self.nets4.push(Net {
                                start,
                                end,
                                abuse_c,
                                org,
                                rs: obj.rs,
                                addr: NONE,
                                via_org: NONE,
                            });
                        }
                        None => bad("invalid inetnum range", &mut self.stats),
                    },
                    Kind::Inet6num => match parse_inet6num(key) {
                        Some((start, end)) => {
                            self.stats.inet6nums += 1;
                            self.check_ranges(name)?;
                            self.nets6.push(Net {
                                start,
                                end,
                                abuse_c,
                                org,
                                rs: obj.rs,
                                addr: NONE,
                                via_org: NONE,
                            });
                        }
                        None => bad("invalid inet6num prefix", &mut self.stats),
                    },
                    _ => match parse_asn(key) {
                        Some(asn) => {
                            self.stats.aut_nums += 1;
                            self.check_ranges(name)?;
                            self.aut_nums.push(AutNum {
                                asn,
                                abuse_c,
                                org,
                                addr: NONE,
                                via_org: NONE,
                            });
                        }
                        None => bad("invalid aut-num", &mut self.stats),
                    },
                }
            }
            Kind::Role => {
                let Some(hdl) = obj.value(NIC_HDL).filter(|h| !h.is_empty()) else {
                    bad("role without nic-hdl", &mut self.stats);
                    return Ok(());
                };
                if !valid_handle(hdl) {
                    bad("invalid handle", &mut self.stats);
                    return Ok(());
                }
                let Some(mailbox) = obj.value(ABUSE_MAILBOX) else {
                    // Not an abuse role: nothing to keep.
                    return Ok(());
                };
                let Some(addr) = std::str::from_utf8(mailbox)
                    .ok()
                    .and_then(normalise_address)
                else {
                    bad("invalid abuse-mailbox", &mut self.stats);
                    return Ok(());
                };
                let h = self.intern(Some(hdl), name)?;
                let a = addresses.intern(&addr);
                self.roles.insert(h, a);
                self.stats.abuse_roles += 1;
            }
            Kind::Organisation => {
                if key.is_empty() || !valid_handle(key) {
                    bad("invalid organisation id", &mut self.stats);
                    return Ok(());
                }
                let Ok(abuse_c) = self.handle_of(obj, ABUSE_C) else {
                    bad("invalid handle", &mut self.stats);
                    return Ok(());
                };
                self.stats.organisations += 1;
                if abuse_c.is_some() {
                    let o = self.intern(Some(key), name)?;
                    let a = self.intern(abuse_c, name)?;
                    self.orgs.insert(o, a);
                }
            }
            Kind::Other => {}
        }
        Ok(())
    }

    /// A handle attribute: `Ok(None)` when absent or empty, `Err` when
    /// not a handle.
    fn handle_of<'a>(&self, obj: &'a Object, slot: usize) -> Result<Option<&'a [u8]>, ()> {
        match obj.value(slot) {
            None | Some([]) => Ok(None),
            Some(v) if valid_handle(v) => Ok(Some(v)),
            Some(_) => Err(()),
        }
    }

    fn intern(&mut self, h: Option<&[u8]>, name: &str) -> Result<u32, LoadError> {
        let Some(h) = h else { return Ok(NONE) };
        if self.handles.len() >= MAX_HANDLES {
            return Err(LoadError::new(
                name,
                format!("more than {MAX_HANDLES} handles: not a registry dump"),
            ));
        }
        // Handles are ASCII (checked) and case-insensitive.
        let mut s = String::with_capacity(h.len());
        s.extend(h.iter().map(|b| b.to_ascii_uppercase() as char));
        Ok(self.handles.intern(&s))
    }

    /// Fails once [`MAX_RANGES`] resources (ranges and AS numbers) are
    /// held.
    fn check_ranges(&self, name: &str) -> Result<(), LoadError> {
        let max = self.limit.unwrap_or(MAX_RANGES);
        if self.nets4.len() + self.nets6.len() + self.aut_nums.len() >= max {
            return Err(LoadError::new(
                name,
                format!("more than {max} resources: not a registry dump"),
            ));
        }
        Ok(())
    }

    /// The contact of a resource's own `abuse-c`, else of its `org`'s:
    /// `(address id, role handle, organisation id or NONE)`.
    fn contact(&self, abuse_c: u32, org: u32) -> Option<(u32, u32, u32)> {
        if let Some(&a) = self.roles.get(&abuse_c) {
            return Some((a, abuse_c, NONE));
        }
        let &ac = self.orgs.get(&org)?;
        self.roles.get(&ac).map(|&a| (a, ac, org))
    }

    /// Gives each range its own contact, and keeps those that have one or
    /// that stop inheritance.
    fn resolve_nets<K>(&self, nets: &mut Vec<Net<K>>) {
        for n in nets.iter_mut() {
            if let Some((addr, role, via)) = self.contact(n.abuse_c, n.org) {
                n.addr = addr;
                n.abuse_c = role;
                n.via_org = via;
            }
        }
        // A range without a contact is transparent (its addresses get the
        // closest less specific contact), unless RIPE NCC maintains it:
        // then it stops the inheritance, as RIPE's finder does.
        nets.retain(|n| n.addr != NONE || n.rs);
        nets.shrink_to_fit();
    }

    /// Resolves every reference and builds the lookup tables.
    pub(crate) fn resolve(mut self) -> RipeTables {
        let mut nets4 = std::mem::take(&mut self.nets4);
        let mut nets6 = std::mem::take(&mut self.nets6);
        self.resolve_nets(&mut nets4);
        self.resolve_nets(&mut nets6);
        let v4 = RangeTable::build(
            &nets4
                .iter()
                .enumerate()
                .map(|(i, n)| (n.start, n.end, i as u32))
                .collect::<Vec<_>>(),
        );
        let v6 = RangeTable::build(
            &nets6
                .iter()
                .enumerate()
                .map(|(i, n)| (n.start, n.end, i as u32))
                .collect::<Vec<_>>(),
        );
        let mut aut_nums = std::mem::take(&mut self.aut_nums);
        for a in aut_nums.iter_mut() {
            if let Some((addr, role, via)) = self.contact(a.abuse_c, a.org) {
                a.addr = addr;
                a.abuse_c = role;
                a.via_org = via;
            }
        }
        aut_nums.retain(|a| a.addr != NONE);
        // One per AS, the one read last (stable sort).
        aut_nums.sort_by_key(|a| a.asn);
        let mut dedup: Vec<AutNum> = Vec::with_capacity(aut_nums.len());
        for a in aut_nums {
            match dedup.last_mut() {
                Some(last) if last.asn == a.asn => *last = a,
                _ => dedup.push(a),
            }
        }
        RipeTables {
            handles: self.handles.into_strings(),
            v4,
            nets4,
            v6,
            nets6,
            aut_nums: dedup,
            stats: self.stats,
        }
    }
}

/// Sets a slot from an attribute value.
fn set(obj: &mut Object, slot: usize, v: &[u8]) {
    obj.seen[slot] = true;
    obj.last = Some(slot);
    let buf = &mut obj.values[slot];
    buf.clear();
    if v.len() > MAX_VALUE {
        obj.bad = Some("attribute value too long");
    } else {
        buf.extend_from_slice(v);
    }
}

/// `name: value` -> (name, trimmed value), when the name is an RPSL
/// attribute name (letters, digits, `-`, `_`).
fn split_attribute(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', line)?;
    let name = &line[..colon];
    if name.is_empty()
        || !name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    {
        return None;
    }
    Some((name, line[colon + 1..].trim_ascii()))
}

/// A value without its end-of-line comment, trimmed.
fn strip_comment(v: &[u8]) -> &[u8] {
    match memchr::memchr(b'#', v) {
        Some(i) => v[..i].trim_ascii(),
        None => v.trim_ascii(),
    }
}

/// A handle: printable ASCII without spaces, at most [`MAX_HANDLE`]
/// bytes.
fn valid_handle(h: &[u8]) -> bool {
    !h.is_empty() && h.len() <= MAX_HANDLE && h.iter().all(|b| b.is_ascii_graphic())
}

fn ascii(v: &[u8]) -> Option<&str> {
    std::str::from_utf8(v).ok().filter(|s| s.is_ascii())
}

/// `192.0.2.0 - 192.0.2.255` (spaces optional), or a prefix
/// `192.0.2.0/24`, or one address.
pub(crate) fn parse_inetnum(v: &[u8]) -> Option<(u32, u32)> {
    let s = ascii(v)?;
    if let Some((a, b)) = s.split_once('-') {
        let a: Ipv4Addr = a.trim().parse().ok()?;
        let b: Ipv4Addr = b.trim().parse().ok()?;
        let (a, b) = (u32::from(a), u32::from(b));
        return (a <= b).then_some((a, b));
    }
    if let Some((a, len)) = s.split_once('/') {
        let a: Ipv4Addr = a.trim().parse().ok()?;
        let len: u32 = len.trim().parse().ok().filter(|l| *l <= 32)?;
        let host = table::host_mask4(len);
        let start = u32::from(a) & !host;
        return Some((start, start | host));
    }
    let a: Ipv4Addr = s.trim().parse().ok()?;
    Some((u32::from(a), u32::from(a)))
}

/// `2001:db8::/32` (host bits cleared).
pub(crate) fn parse_inet6num(v: &[u8]) -> Option<(u128, u128)> {
    let s = ascii(v)?;
    let (a, len) = s.split_once('/')?;
    let a: Ipv6Addr = a.trim().parse().ok()?;
    let len: u32 = len.trim().parse().ok().filter(|l| *l <= 128)?;
    let host = table::host_mask6(len);
    let start = u128::from(a) & !host;
    Some((start, start | host))
}

/// `AS64500` (any case).
pub(crate) fn parse_asn(v: &[u8]) -> Option<u32> {
    let s = ascii(v)?;
    let digits = s
        .get(..2)
        .filter(|p| p.eq_ignore_ascii_case("AS"))
        .map(|_| &s[2..])?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dump: &str) -> (RipeTables, Interner, Problems) {
        let mut data = RipeData::default();
        let mut addrs = Interner::default();
        let mut problems = Problems::default();
        data.read(dump.as_bytes(), "dump", &mut addrs, &mut problems)
            .unwrap();
        (data.resolve(), addrs, problems)
    }

    fn addr4(t: &RipeTables, a: &Interner, ip: &str) -> Option<String> {
        let x = u32::from(ip.parse::<Ipv4Addr>().unwrap());
        t.get4(x).map(|n| a.get(n.addr).unwrap().to_string())
    }

    #[test]
    fn parses_ranges_and_numbers() {
        assert_eq!(
            parse_inetnum(b"192.0.2.0 - 192.0.2.99"),
            Some((0xc000_0200, 0xc000_0263))
        );
        assert_eq!(
            parse_inetnum(b"192.0.2.0-192.0.2.0"),
            Some((0xc000_0200, 0xc000_0200))
        );
        assert_eq!(
            parse_inetnum(b"192.0.2.7/24"),
            Some((0xc000_0200, 0xc000_02ff))
        );
        assert_eq!(parse_inetnum(b"0.0.0.0/0"), Some((0, u32::MAX)));
        assert_eq!(
            parse_inetnum(b"192.0.2.7/32"),
            Some((0xc000_0207, 0xc000_0207))
        );
        assert_eq!(
            parse_inet6num(b"2001:db8::1/128"),
            Some(((0x2001_0db8 << 96) | 1, (0x2001_0db8 << 96) | 1))
        );
        assert_eq!(parse_inetnum(b"192.0.2.9 - 192.0.2.1"), None);
        assert_eq!(parse_inetnum(b"192.0.2.0 - "), None);
        assert_eq!(parse_inetnum(b"192.0.2.0/33"), None);
        assert_eq!(
            parse_inet6num(b"2001:db8::1/32"),
            Some((0x2001_0db8 << 96, (0x2001_0db8 << 96) | (u128::MAX >> 32)))
        );
        assert_eq!(parse_inet6num(b"2001:db8::"), None);
        assert_eq!(parse_asn(b"AS64500"), Some(64500));
        assert_eq!(parse_asn(b"as4294967295"), Some(u32::MAX));
        assert_eq!(parse_asn(b"AS4294967296"), None);
        assert_eq!(parse_asn(b"AS"), None);
        assert_eq!(parse_asn(b"AS-SET"), None);
    }

    /// The three ways a range gets its contact, RIPE's inheritance
    /// (RIPE Labs, "Creating and Finding Abuse Contacts in the RIPE
    /// Database"): own `abuse-c`, its `org`'s `abuse-c`, or the closest
    /// less specific range's.
    #[test]
    fn own_org_and_inherited_contacts() {
        let dump = "\
# comment at the top, as the dumps have
inetnum:        198.51.100.0 - 198.51.100.255
netname:        LIR-ALLOCATION
org:            ORG-LIR1-RIPE
mnt-by:         RIPE-NCC-HM-MNT
mnt-by:         LIR-MNT

inetnum:        198.51.100.0 - 198.51.100.99
netname:        CUSTOMER-WITH-OWN
abuse-c:        CUST1-RIPE
mnt-by:         LIR-MNT

inetnum:        198.51.100.100 - 198.51.100.149
netname:        CUSTOMER-INHERITS
mnt-by:         LIR-MNT

role:           LIR abuse desk
nic-hdl:        LIRA1-RIPE
abuse-mailbox:  Abuse@LIR.example

role:           Customer abuse
nic-hdl:        cust1-ripe
abuse-mailbox:  noc@customer.example # the desk

organisation:   ORG-LIR1-RIPE
org-name:       Example LIR
abuse-c:        LIRA1-RIPE
";
        let (t, a, p) = read(dump);
        assert!(p.is_empty(), "{:?}", p.messages());
        assert_eq!(
            addr4(&t, &a, "198.51.100.5").as_deref(),
            Some("noc@customer.example")
        );
        assert_eq!(
            addr4(&t, &a, "198.51.100.120").as_deref(),
            Some("abuse@lir.example")
        );
        assert_eq!(
            addr4(&t, &a, "198.51.100.200").as_deref(),
            Some("abuse@lir.example")
        );
        assert_eq!(addr4(&t, &a, "198.51.101.1"), None);
        // The inherited one names the allocation and its organisation.
        let n = t
            .get4(u32::from("198.51.100.120".parse::<Ipv4Addr>().unwrap()))
            .unwrap();
        assert_eq!(n.end - n.start, 255);
        assert_eq!(t.handle(n.via_org), Some("ORG-LIR1-RIPE"));
        let own = t
            .get4(u32::from("198.51.100.5".parse::<Ipv4Addr>().unwrap()))
            .unwrap();
        assert_eq!(own.via_org, NONE);
        assert_eq!(t.handle(own.abuse_c), Some("CUST1-RIPE"));
        assert_eq!(t.stats.inetnums, 3);
        assert_eq!(t.stats.abuse_roles, 2);
    }

    /// A range RIPE NCC maintains, without a contact, does not inherit
    /// from above it (RIPE whois `AbuseCFinder`: no walk past a range
    /// maintained by registration services).
    #[test]
    fn rs_maintained_range_stops_inheritance() {
        let dump = "\
inetnum: 192.0.0.0 - 192.255.255.255
abuse-c: TOP1-RIPE

inetnum: 192.0.2.0 - 192.0.2.255
mnt-by:  RIPE-NCC-HM-MNT

inetnum: 192.0.2.0 - 192.0.2.15
mnt-by:  SOME-MNT

role: top
nic-hdl: TOP1-RIPE
abuse-mailbox: abuse@top.example
";
        let (t, a, _) = read(dump);
        assert_eq!(addr4(&t, &a, "192.0.2.1"), None);
        assert_eq!(addr4(&t, &a, "192.0.2.200"), None);
        assert_eq!(
            addr4(&t, &a, "192.0.3.1").as_deref(),
            Some("abuse@top.example")
        );
    }

    #[test]
    fn continuation_lines_and_comments() {
        let dump = "\
% RIPE-style comment
inet6num:       2001:db8::/32
remarks:        first line
                second line
+               third line
org:
+ ORG-SIX1-RIPE
abuse-c:        # nothing here but a comment
source:         RIPE

organisation: ORG-SIX1-RIPE
abuse-c: SIX1-RIPE

role: six
nic-hdl: SIX1-RIPE
abuse-mailbox:
\tabuse@six.example
";
        let (t, a, p) = read(dump);
        assert!(p.is_empty(), "{:?}", p.messages());
        let x = u128::from("2001:db8:1::1".parse::<Ipv6Addr>().unwrap());
        let n = t.get6(x).unwrap();
        assert_eq!(a.get(n.addr), Some("abuse@six.example"));
        assert_eq!(t.handle(n.via_org), Some("ORG-SIX1-RIPE"));
    }

    #[test]
    fn broken_objects_are_reported_and_the_rest_read() {
        let dump = "\
inetnum: 203.0.113.9 - 203.0.113.1
abuse-c: X1-RIPE

this is not rpsl
abuse-c: X1-RIPE

inetnum: 203.0.113.0 - 203.0.113.255
abuse-c: X1-RIPE

role: bad mailbox
nic-hdl: BAD1-RIPE
abuse-mailbox: two words@example.net

role: x
nic-hdl: X1-RIPE
abuse-mailbox: x@example.net

aut-num: ASX
abuse-c: X1-RIPE

aut-num: AS64500
abuse-c: X1-RIPE
";
        let (t, a, p) = read(dump);
        let lines: Vec<(u64, &str)> = p.first.iter().map(|p| (p.line, p.reason)).collect();
        assert_eq!(
            lines,
            vec![
                (1, "invalid inetnum range"),
                (4, "line is not an attribute"),
                (10, "invalid abuse-mailbox"),
                (18, "invalid aut-num"),
            ]
        );
        assert_eq!(t.stats.bad_objects, 4);
        assert_eq!(
            addr4(&t, &a, "203.0.113.5").as_deref(),
            Some("x@example.net")
        );
        let asn = t.aut_num(64500).unwrap();
        assert_eq!(a.get(asn.addr), Some("x@example.net"));
        assert!(t.aut_num(64501).is_none());
    }

    #[test]
    fn too_many_resources_is_an_error_not_a_memory_blowup() {
        let mut data = RipeData {
            limit: Some(3),
            ..RipeData::default()
        };
        let mut dump = String::new();
        for i in 0..5 {
            dump.push_str(&format!("aut-num: AS{i}\n\ninetnum: 10.0.0.{i}\n\n"));
        }
        let err = data
            .read(
                dump.as_bytes(),
                "big",
                &mut Interner::default(),
                &mut Problems::default(),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "big: more than 3 resources: not a registry dump"
        );
    }

    #[test]
    fn long_objects_and_lines_stay_bounded() {
        let mut dump = String::from("aut-num: AS64501\nabuse-c: R1-RIPE\n");
        for i in 0..5000 {
            dump.push_str(&format!("import: from AS{i} accept ANY\n"));
        }
        dump.push_str("\nrole: r\nnic-hdl: R1-RIPE\nabuse-mailbox: r@example.net\n\n");
        dump.push_str("inetnum: 10.0.0.0 - 10.0.0.255\nremarks: ");
        dump.push_str(&"x".repeat(super::super::input::MAX_LINE + 10));
        dump.push_str("\nabuse-c: R1-RIPE\n");
        let (t, a, p) = read(&dump);
        assert_eq!(a.get(t.aut_num(64501).unwrap().addr), Some("r@example.net"));
        assert_eq!(p.first.len(), 1);
        assert_eq!(p.first[0].reason, "line too long");
        assert_eq!(addr4(&t, &a, "10.0.0.1"), None);
    }
}
