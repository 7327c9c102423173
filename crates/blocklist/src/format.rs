//! A [`Plan`] printed in the format a resolver or sensor loads.
//!
//! | format | names | subdomains | allowed names | addresses | URLs |
//! |---|---|---|---|---|---|
//! | RPZ zone | `name` and `*.name` `CNAME .` (or `A`/`AAAA` sinkhole, but for names with `_`) | by the wildcard | `CNAME rpz-passthru.` | `rpz-ip` triggers | no |
//! | Unbound | `local-zone: "name." always_nxdomain` (or `redirect` + `local-data`) | by the zone | `always_transparent` | no | no |
//! | dnsmasq | `address=/name/` (or `/name/IP`) | by the domain | `server=/name/#` | IPv4: `bogus-nxdomain` | no |
//! | hosts | `0.0.0.0 name` (or the sinkhole) | no | no (nothing to undo) | no | no |
//! | Suricata rules | `alert dns` on `dns.query`, `dotprefix; content:".name"; endswith` | by the rule | `pass dns` rules | `alert ip` rules | no |
//! | Suricata dataset | base64 of each name | no (exact) | no | no | no |
//! | Zeek Intel | `Intel::DOMAIN` | no (exact) | no | `Intel::ADDR`, `Intel::SUBNET` | `Intel::URL` |
//!
//! Where subdomains are blocked with their parent, a name a blocked parent
//! covers is left out ([`Blocked::covered`]); where they are not, every
//! name is written. What a format cannot express is counted in
//! [`WriteStats`] for the caller to report.
//!
//! Origin text (file paths, Loki comments, STIX names and families, MISP
//! comments and galaxies) is hostile: it reaches only the Suricata `msg`
//! and `metadata` and the Zeek `meta.source` and `meta.desc` fields, each
//! through a function that makes it safe for that field ([`msg_text`],
//! [`meta_value`], [`zeek_field`]). The other formats carry names only
//! (their comments hold counts), and names are checked by [`name`].

use crate::plan::{Blocked, Plan};
use crate::{IpEntry, Origin, name};
use base64::Engine as _;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv6Addr};

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A DNS Response Policy Zone (BIND, Unbound `rpz:`, Knot Resolver,
    /// PowerDNS Recursor).
    Rpz,
    /// Unbound `local-zone` statements (an `include:` file).
    Unbound,
    /// dnsmasq `address=` lines (a `conf-file`).
    Dnsmasq,
    /// A hosts file.
    Hosts,
    /// Suricata rules.
    Suricata,
    /// A Suricata string dataset (base64 lines).
    SuricataDataset,
    /// A Zeek Intel framework file.
    ZeekIntel,
}

/// RPZ record TTL (seconds): short, so a corrected list takes effect
/// soon on resolvers that cache policy answers.
pub const RPZ_TTL: u32 = 300;

/// SOA timers of the RPZ (refresh, retry, expire, negative TTL): what
/// secondaries transferring the zone use.
pub const RPZ_SOA_TIMERS: &str = "3600 600 864000 300";

/// Addresses per Suricata `alert ip` rule: Suricata takes lists in the
/// rule header; batches keep each rule's line short enough to read.
pub const SURICATA_IP_BATCH: usize = 100;

/// The Suricata sid range set aside for local rules (1,000,000-1,999,999,
/// by the Snort/Emerging Threats convention); sids past it are warned of.
pub const SURICATA_LOCAL_SIDS: std::ops::RangeInclusive<u64> = 1_000_000..=1_999_999;

/// Options of the formats.
#[derive(Clone, Debug)]
pub struct FormatOptions {
    /// The RPZ's origin (normalised, no trailing dot).
    pub zone: String,
    /// The RPZ's SOA serial.
    pub serial: u32,
    /// Answer blocked names with this address instead of NXDOMAIN.
    pub sinkhole: Option<IpAddr>,
    /// The first Suricata sid.
    pub sid_base: u32,
    /// The Suricata dataset's name.
    pub dataset: String,
}

/// What was written, and what the format could not express.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Names written.
    pub names: u64,
    /// Names left out because a blocked parent covers them.
    pub covered: u64,
    /// Passthru (allow) entries written.
    pub passthru: u64,
    /// Addresses and CIDR blocks written.
    pub ips: u64,
    /// URLs written.
    pub urls: u64,
    /// Addresses and CIDR blocks the format cannot express.
    pub ips_not_expressible: u64,
    /// URLs the format cannot express.
    pub urls_not_expressible: u64,
    /// Names too long to be written under the RPZ origin (the owner name,
    /// `*.name.zone`, would pass 255 bytes).
    pub names_too_long: u64,
    /// RPZ with a sinkhole: names (and address triggers) answered
    /// NXDOMAIN (`CNAME .`) instead, because their owner name holds `_`
    /// (BIND's `check-names` refuses `_` in the owner of an address
    /// record, and with it the whole zone).
    pub sinkhole_not_expressible: u64,
    /// Suricata rules written.
    pub rules: u64,
    /// The last sid used (Suricata).
    pub last_sid: Option<u64>,
}

/// Why a plan could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The output failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The sids would pass 2^32 - 1.
    #[error("--sid-base {base} with {count} rules passes the largest sid (4294967295)")]
    SidOverflow {
        /// The base.
        base: u32,
        /// The rules needed.
        count: u64,
    },
}

/// Writes `plan` as `format` to `out` (which should be buffered).
pub fn write(
    plan: &Plan,
    format: Format,
    opts: &FormatOptions,
    out: &mut dyn Write,
) -> Result<WriteStats, WriteError> {
    let mut w = Out {
        out,
        buf: Vec::with_capacity(1 << 16),
    };
    let mut st = WriteStats::default();
    match format {
        Format::Rpz => rpz(plan, opts, &mut w, &mut st)?,
        Format::Unbound => unbound(plan, opts, &mut w, &mut st)?,
        Format::Dnsmasq => dnsmasq(plan, opts, &mut w, &mut st)?,
        Format::Hosts => hosts(plan, opts, &mut w, &mut st)?,
        Format::Suricata => suricata(plan, opts, &mut w, &mut st)?,
        Format::SuricataDataset => dataset(plan, &mut w, &mut st)?,
        Format::ZeekIntel => zeek(plan, &mut w, &mut st)?,
    }
    if matches!(
        format,
        Format::Unbound | Format::Hosts | Format::SuricataDataset
    ) {
        st.ips_not_expressible = plan.ips.len() as u64;
    }
    if format != Format::ZeekIntel {
        st.urls_not_expressible = plan.urls.len() as u64;
    }
    w.flush()?;
    Ok(st)
}

/// The Suricata rule that uses a dataset file written by
/// [`Format::SuricataDataset`].
pub fn dataset_rule(opts: &FormatOptions, file: &str) -> String {
    format!(
        "alert dns any any -> any any (msg:\"takedown blocklist: DNS query of a listed name (dataset {name})\"; \
         dns.query; to_lowercase; dataset:isset,{name},type string,load {file}; \
         classtype:trojan-activity; sid:{sid}; rev:1;)",
        name = opts.dataset,
        sid = opts.sid_base
    )
}

/// A buffer flushed to the output in large writes: the formats print
/// millions of short lines.
struct Out<'a> {
    out: &'a mut dyn Write,
    buf: Vec<u8>,
}

impl Out<'_> {
    fn s(&mut self, s: &str) -> &mut Self {
        self.buf.extend_from_slice(s.as_bytes());
        self
    }
    /// The name of a sort key.
    fn name(&mut self, key: &[u8]) -> &mut Self {
        push_name(&mut self.buf, key);
        self
    }
    fn end(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        if self.buf.len() >= 1 << 16 {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

/// Appends the name of a sort key.
fn push_name(out: &mut Vec<u8>, key: &[u8]) {
    for (i, label) in key.rsplit(|b| *b == 1).enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(label);
    }
}

/// The names a format that blocks subdomains with the name writes.
fn uncovered(plan: &Plan) -> impl Iterator<Item = &Blocked> {
    plan.names.iter().filter(|b| !b.covered)
}

fn count_covered(plan: &Plan, st: &mut WriteStats) {
    st.covered = plan.names.iter().filter(|b| b.covered).count() as u64;
}

fn summary(plan: &Plan) -> String {
    format!(
        "{} names, {} allowed names passed through, {} addresses and CIDR blocks, {} URLs",
        plan.names.len(),
        plan.passthru.len(),
        plan.ips.len(),
        plan.urls.len()
    )
}

fn rpz(plan: &Plan, opts: &FormatOptions, w: &mut Out<'_>, st: &mut WriteStats) -> io::Result<()> {
    count_covered(plan, st);
    let zone = &opts.zone;
    w.s("; takedown blocklist: a DNS Response Policy Zone (RPZ), serial ")
        .s(&opts.serial.to_string())
        .end()?;
    w.s("; ").s(&summary(plan)).end()?;
    w.s("; each name is listed with its wildcard: the name and all its subdomains")
        .end()?;
    w.s("$ORIGIN ").s(zone).s(".").end()?;
    w.s("$TTL ").s(&RPZ_TTL.to_string()).end()?;
    w.s("@ SOA localhost. hostmaster.localhost. ")
        .s(&opts.serial.to_string())
        .s(" ")
        .s(RPZ_SOA_TIMERS)
        .end()?;
    w.s("@ NS localhost.").end()?;
    let action = match opts.sinkhole {
        None => " CNAME .".to_string(),
        Some(IpAddr::V4(a)) => format!(" A {a}"),
        Some(IpAddr::V6(a)) => format!(" AAAA {a}"),
    };
    // A sinkhole is an A/AAAA record. BIND checks the owners of address
    // records against the host-name rules (`check-names`, `fail` by
    // default for primary zones) and refuses the whole zone for a single
    // owner with `_` (`_dmarc.x`, `mail_srv.x`: real malware names);
    // CNAME owners are not checked. So such an owner (its name or the
    // zone holds `_`) is answered NXDOMAIN (`CNAME .`) instead, and
    // counted for the caller to say. Unbound, dnsmasq and hosts files
    // take `_` in their sinkhole entries (their checkers accept them).
    let sinkhole = opts.sinkhole.is_some();
    let zone_underscore = zone.contains('_');
    let nxdomain = |key: &[u8]| sinkhole && (zone_underscore || key.contains(&b'_'));
    // The owner `*.name.zone.` must fit in 255 bytes on the wire: the
    // text without its final dot, plus two.
    let fits = |key: &[u8]| key.len() + 2 + 1 + zone.len() + 2 <= 255;
    // Names and passthru entries in one sorted run, so the zone reads in
    // DNS order.
    let names: Vec<&Blocked> = uncovered(plan).collect();
    let mut name = Vec::with_capacity(256);
    let (mut i, mut j) = (0, 0);
    while i < names.len() || j < plan.passthru.len() {
        let take_name = j >= plan.passthru.len()
            || (i < names.len() && names[i].entry.key < plan.passthru[j].key);
        let (key, act): (&[u8], &str) = if take_name {
            i += 1;
            let key = &names[i - 1].entry.key;
            if nxdomain(key) && fits(key) {
                st.sinkhole_not_expressible += 1;
                (key, " CNAME .")
            } else {
                (key, &action)
            }
        } else {
            j += 1;
            (&plan.passthru[j - 1].key, " CNAME rpz-passthru.")
        };
        if !fits(key) {
            st.names_too_long += 1;
            continue;
        }
        if take_name {
            st.names += 1;
        } else {
            st.passthru += 1;
        }
        // The name is built once for its two lines.
        name.clear();
        push_name(&mut name, key);
        w.buf.extend_from_slice(&name);
        w.s(act).end()?;
        w.s("*.");
        w.buf.extend_from_slice(&name);
        w.s(act).end()?;
    }
    for ip in &plan.ips {
        st.ips += 1;
        let act = if nxdomain(b"") {
            st.sinkhole_not_expressible += 1;
            " CNAME ."
        } else {
            &action
        };
        w.s(&rpz_ip(ip.addr, ip.prefix)).s(act).end()?;
    }
    Ok(())
}

/// The RPZ owner name of a response-IP trigger: the prefix length, then
/// the address's parts in reverse order; IPv6's longest run of zero words
/// is `zz` (as in the text form's `::`).
pub fn rpz_ip(addr: IpAddr, prefix: u8) -> String {
    let mut s = prefix.to_string();
    match addr {
        IpAddr::V4(a) => {
            for o in a.octets().iter().rev() {
                s.push('.');
                s.push_str(&o.to_string());
            }
        }
        IpAddr::V6(a) => {
            for part in v6_words(a).iter().rev() {
                s.push('.');
                s.push_str(part);
            }
        }
    }
    s.push_str(".rpz-ip");
    s
}

/// The words of an IPv6 address in RFC 5952 order with the longest run
/// (at least two) of zero words as one `zz`.
fn v6_words(a: Ipv6Addr) -> Vec<String> {
    let seg = a.segments();
    let (mut best, mut best_len) = (usize::MAX, 1);
    let mut i = 0;
    while i < 8 {
        if seg[i] == 0 {
            let start = i;
            while i < 8 && seg[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(8);
    let mut i = 0;
    while i < 8 {
        if i == best {
            out.push("zz".to_string());
            i += best_len;
        } else {
            out.push(format!("{:x}", seg[i]));
            i += 1;
        }
    }
    out
}

fn unbound(
    plan: &Plan,
    opts: &FormatOptions,
    w: &mut Out<'_>,
    st: &mut WriteStats,
) -> io::Result<()> {
    count_covered(plan, st);
    w.s("# takedown blocklist: Unbound local zones (include: this file)")
        .end()?;
    w.s("# ").s(&summary(plan)).end()?;
    w.s("# addresses cannot be expressed as local zones: use the RPZ format for them")
        .end()?;
    w.s("server:").end()?;
    for b in uncovered(plan) {
        st.names += 1;
        let key = &b.entry.key;
        match opts.sinkhole {
            None => {
                w.s("    local-zone: \"")
                    .name(key)
                    .s(".\" always_nxdomain")
                    .end()?;
            }
            Some(ip) => {
                w.s("    local-zone: \"")
                    .name(key)
                    .s(".\" redirect")
                    .end()?;
                let t = if ip.is_ipv4() { "A" } else { "AAAA" };
                w.s("    local-data: \"")
                    .name(key)
                    .s(". ")
                    .s(t)
                    .s(" ")
                    .s(&ip.to_string())
                    .s("\"")
                    .end()?;
            }
        }
    }
    for p in &plan.passthru {
        st.passthru += 1;
        w.s("    local-zone: \"")
            .name(&p.key)
            .s(".\" always_transparent")
            .end()?;
    }
    Ok(())
}

fn dnsmasq(
    plan: &Plan,
    opts: &FormatOptions,
    w: &mut Out<'_>,
    st: &mut WriteStats,
) -> io::Result<()> {
    count_covered(plan, st);
    w.s("# takedown blocklist: dnsmasq configuration (conf-file=this file)")
        .end()?;
    w.s("# ").s(&summary(plan)).end()?;
    let target = opts.sinkhole.map(|ip| ip.to_string()).unwrap_or_default();
    for b in uncovered(plan) {
        st.names += 1;
        w.s("address=/")
            .name(&b.entry.key)
            .s("/")
            .s(&target)
            .end()?;
    }
    for p in &plan.passthru {
        st.passthru += 1;
        w.s("server=/").name(&p.key).s("/#").end()?;
    }
    // dnsmasq turns answers holding an IPv4 address or block into
    // NXDOMAIN; it has nothing of the kind for IPv6.
    for ip in &plan.ips {
        match ip.addr {
            IpAddr::V4(a) => {
                st.ips += 1;
                w.s("bogus-nxdomain=").s(&a.to_string());
                if ip.prefix != 32 {
                    w.s("/").s(&ip.prefix.to_string());
                }
                w.end()?;
            }
            IpAddr::V6(_) => st.ips_not_expressible += 1,
        }
    }
    Ok(())
}

fn hosts(
    plan: &Plan,
    opts: &FormatOptions,
    w: &mut Out<'_>,
    st: &mut WriteStats,
) -> io::Result<()> {
    w.s("# takedown blocklist: a hosts file").end()?;
    w.s("# ").s(&summary(plan)).end()?;
    w.s("# A hosts file cannot block subdomains: each name is blocked exactly, no more.")
        .end()?;
    let target = opts
        .sinkhole
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "0.0.0.0".into());
    for b in &plan.names {
        st.names += 1;
        w.s(&target).s(" ").name(&b.entry.key).end()?;
    }
    Ok(())
}

/// Text safe inside a Suricata `msg:"..."`: no quote, semicolon,
/// backslash or control character, at most 120 characters.
fn msg_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' || c == ';' || c == '\\' || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .take(120)
        .collect()
}

/// A Suricata metadata value: letters, digits, `_`, `-`, `.`.
fn meta_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if v.is_empty() { "unknown".into() } else { v }
}

fn origin_kind(o: &Origin) -> &'static str {
    match o {
        Origin::List { .. } => "list",
        Origin::Intel { .. } => "intel",
        Origin::Dga { .. } => "dga",
    }
}

fn suricata(
    plan: &Plan,
    opts: &FormatOptions,
    w: &mut Out<'_>,
    st: &mut WriteStats,
) -> Result<(), WriteError> {
    count_covered(plan, st);
    let names = plan.names.len() as u64 - st.covered;
    let batches = plan.ips.len().div_ceil(SURICATA_IP_BATCH) as u64;
    let count = names + plan.passthru.len() as u64 + batches;
    if opts.sid_base as u64 + count.saturating_sub(1) > u32::MAX as u64 {
        return Err(WriteError::SidOverflow {
            base: opts.sid_base,
            count,
        });
    }
    let mut sid = opts.sid_base as u64;
    w.s("# takedown blocklist: Suricata rules").end()?;
    w.s("# ").s(&summary(plan)).end()?;
    w.s("# a rule on dns.query matches the name and its subdomains (dotprefix ... endswith); pass rules let allowed names through")
        .end()?;
    for b in uncovered(plan) {
        let o = plan.origin(&b.entry);
        let name = b.entry.name();
        w.s("alert dns any any -> any any (msg:\"takedown blocklist: DNS query of ")
            .s(&name)
            .s(" (")
            .s(&msg_text(&plan.describe(&b.entry)))
            .s(")\"; dns.query; dotprefix; content:\".")
            .s(&name)
            .s("\"; nocase; endswith; classtype:trojan-activity; metadata:takedown_origin ")
            .s(origin_kind(o));
        if let Some(f) = o.family() {
            w.s(", takedown_family ").s(&meta_value(f));
        }
        w.s("; sid:").s(&sid.to_string()).s("; rev:1;)").end()?;
        sid += 1;
        st.names += 1;
        st.rules += 1;
    }
    for p in &plan.passthru {
        let name = name::from_sort_key(&p.key);
        w.s("pass dns any any -> any any (msg:\"takedown blocklist: allowed name ")
            .s(&name)
            .s("\"; dns.query; dotprefix; content:\".")
            .s(&name)
            .s("\"; nocase; endswith; sid:")
            .s(&sid.to_string())
            .s("; rev:1;)")
            .end()?;
        sid += 1;
        st.passthru += 1;
        st.rules += 1;
    }
    for (n, chunk) in plan.ips.chunks(SURICATA_IP_BATCH).enumerate() {
        let list = ip_list(chunk);
        let first = n * SURICATA_IP_BATCH + 1;
        w.s("alert ip any any -> [")
            .s(&list)
            .s("] any (msg:\"takedown blocklist: traffic to listed addresses ")
            .s(&format!("{first}-{}", first + chunk.len() - 1))
            .s("\"; classtype:trojan-activity; sid:")
            .s(&sid.to_string())
            .s("; rev:1;)")
            .end()?;
        sid += 1;
        st.ips += chunk.len() as u64;
        st.rules += 1;
    }
    if st.rules > 0 {
        st.last_sid = Some(sid - 1);
    }
    Ok(())
}

fn ip_list(ips: &[IpEntry]) -> String {
    ips.iter()
        .map(|ip| {
            let full = if ip.addr.is_ipv4() { 32 } else { 128 };
            if ip.prefix == full {
                ip.addr.to_string()
            } else {
                format!("{}/{}", ip.addr, ip.prefix)
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn dataset(plan: &Plan, w: &mut Out<'_>, st: &mut WriteStats) -> io::Result<()> {
    let mut name = Vec::with_capacity(256);
    for b in &plan.names {
        name.clear();
        push_name(&mut name, &b.entry.key);
        let enc = base64::engine::general_purpose::STANDARD.encode(&name);
        w.s(&enc).end()?;
        st.names += 1;
    }
    Ok(())
}

/// A Zeek Intel text field: no tab, newline or control character (each
/// becomes a space), `\` written `\x5c` (Zeek's reader turns `\xHH` into
/// the byte, so a raw `\x0a` in a description would become a newline in
/// Zeek's logs), never empty nor Zeek's `-` (unset) or `(empty)`.
fn zeek_field(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let v = v.trim();
    if v.is_empty() || v == ZEEK_UNSET || v == ZEEK_EMPTY {
        "takedown".into()
    } else {
        zeek_escape(v)
    }
}

/// Zeek's ASCII reader's marks of an unset and an empty field.
const ZEEK_UNSET: &str = "-";
const ZEEK_EMPTY: &str = "(empty)";

/// `\` as `\x5c`, the one escape Zeek's reader decodes, so that the value
/// Zeek reads is the text written.
fn zeek_escape(s: &str) -> String {
    s.replace('\\', "\\x5c")
}

fn zeek_source(o: &Origin) -> String {
    match o {
        Origin::List { source, .. } | Origin::Intel { source, .. } => {
            let base = std::path::Path::new(source)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| source.clone());
            zeek_field(&format!("takedown:{base}"))
        }
        Origin::Dga { family, .. } => format!("takedown:dga:{family}"),
    }
}

fn zeek(plan: &Plan, w: &mut Out<'_>, st: &mut WriteStats) -> io::Result<()> {
    w.s("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc")
        .end()?;
    for b in &plan.names {
        let o = plan.origin(&b.entry);
        w.name(&b.entry.key)
            .s("\tIntel::DOMAIN\t")
            .s(&zeek_source(o))
            .s("\t")
            .s(&zeek_field(&plan.describe(&b.entry)))
            .end()?;
        st.names += 1;
    }
    for ip in &plan.ips {
        let o = &plan.origins[ip.origin as usize];
        let full = if ip.addr.is_ipv4() { 32 } else { 128 };
        let (value, t) = if ip.prefix == full {
            (ip.addr.to_string(), "Intel::ADDR")
        } else {
            (format!("{}/{}", ip.addr, ip.prefix), "Intel::SUBNET")
        };
        w.s(&value)
            .s("\t")
            .s(t)
            .s("\t")
            .s(&zeek_source(o))
            .s("\t")
            .s(&zeek_field(&o.describe(ip.line, ip.line)))
            .end()?;
        st.ips += 1;
    }
    for u in &plan.urls {
        let o = &plan.origins[u.origin as usize];
        // Zeek's URL indicators are written without the scheme (as its
        // HTTP analyser reports them: host and path).
        let value = u.url.split_once("://").map_or(&u.url[..], |(_, r)| r);
        if value.contains(|c: char| c.is_control() || c == '\t') {
            st.urls_not_expressible += 1;
            continue;
        }
        let mut value = zeek_escape(value);
        if value.starts_with('#') {
            // Zeek's reader takes a line that begins with `#` for a header
            // or comment (`http://#fields/...` would even be one): the
            // first `#` is written as the escape Zeek decodes.
            value.replace_range(..1, "\\x23");
        }
        w.s(&value)
            .s("\tIntel::URL\t")
            .s(&zeek_source(o))
            .s("\t")
            .s(&zeek_field(&o.describe(u.line, u.line)))
            .end()?;
        st.urls += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::read_list_from;
    use crate::{AllowList, Builder};

    const INPUT: &str = "# Campaign A\nevil.example\nwww.evil.example\nb\u{fc}cher.example\n198.51.100.7\n198.51.100.0/24\n2001:db8::1\n2001:db8::/32\nhttp://evil.example/gate.php\n";

    fn plan() -> Plan {
        let mut b = Builder::new();
        read_list_from(&mut b, INPUT.as_bytes(), "c2.txt", &mut |d| panic!("{d}")).unwrap();
        let o = b.add_origin(Origin::Dga {
            family: "fam",
            variant: "v1",
            seed: "0x1".into(),
        });
        b.push_name("dga1.example", o, 17135, 17136);
        let mut a = AllowList::new();
        a.read("1,ok.evil.example\n".as_bytes(), "top.csv", &mut |d| {
            panic!("{d}")
        })
        .unwrap();
        b.finish(&a, false)
    }

    fn opts() -> FormatOptions {
        FormatOptions {
            zone: "rpz.takedown".into(),
            serial: 42,
            sinkhole: None,
            sid_base: 1_600_000,
            dataset: "takedown-blocklist".into(),
        }
    }

    fn out(f: Format, o: &FormatOptions) -> (String, WriteStats) {
        let mut v = Vec::new();
        let st = write(&plan(), f, o, &mut v).unwrap();
        (String::from_utf8(v).unwrap(), st)
    }

    fn body(s: &str, comment: &str) -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with(comment))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn rpz_zone() {
        let (s, st) = out(Format::Rpz, &opts());
        assert_eq!(
            body(&s, ";"),
            vec![
                "$ORIGIN rpz.takedown.",
                "$TTL 300",
                "@ SOA localhost. hostmaster.localhost. 42 3600 600 864000 300",
                "@ NS localhost.",
                "dga1.example CNAME .",
                "*.dga1.example CNAME .",
                "evil.example CNAME .",
                "*.evil.example CNAME .",
                "ok.evil.example CNAME rpz-passthru.",
                "*.ok.evil.example CNAME rpz-passthru.",
                "xn--bcher-kva.example CNAME .",
                "*.xn--bcher-kva.example CNAME .",
                "24.0.100.51.198.rpz-ip CNAME .",
                "32.7.100.51.198.rpz-ip CNAME .",
                "32.zz.db8.2001.rpz-ip CNAME .",
                "128.1.zz.db8.2001.rpz-ip CNAME .",
            ]
        );
        assert_eq!(st.names, 3);
        assert_eq!(st.covered, 1);
        assert_eq!(st.passthru, 1);
        assert_eq!(st.ips, 4);
        assert_eq!(st.urls_not_expressible, 1);
        let mut o = opts();
        o.sinkhole = Some("192.0.2.53".parse().unwrap());
        let (s, _) = out(Format::Rpz, &o);
        assert!(s.contains("\n*.evil.example A 192.0.2.53\n"));
        assert!(s.contains("\n32.7.100.51.198.rpz-ip A 192.0.2.53\n"));
        assert!(s.contains("\nok.evil.example CNAME rpz-passthru.\n"));
    }

    #[test]
    fn rpz_ip_names() {
        let r = |s: &str, p| rpz_ip(s.parse().unwrap(), p);
        assert_eq!(r("192.0.2.1", 32), "32.1.2.0.192.rpz-ip");
        assert_eq!(r("::1", 128), "128.1.zz.rpz-ip");
        assert_eq!(r("::", 16), "16.zz.rpz-ip");
        assert_eq!(r("2001:db8:0:1:0:0:0:0", 64), "64.zz.1.0.db8.2001.rpz-ip");
        assert_eq!(r("2001:0:0:1:0:0:0:1", 128), "128.1.zz.1.0.0.2001.rpz-ip");
        assert_eq!(
            r("2001:db8:1:2:3:4:5:6", 128),
            "128.6.5.4.3.2.1.db8.2001.rpz-ip"
        );
        assert_eq!(r("::ffff:1.2.3.4", 128), "128.304.102.ffff.zz.rpz-ip");
    }

    #[test]
    fn too_long_for_the_zone() {
        let mut b = Builder::new();
        let long = format!(
            "{}.{}.example",
            "a".repeat(63),
            vec!["b".repeat(59); 3].join(".")
        );
        assert!(long.len() <= 253);
        read_list_from(
            &mut b,
            format!("{long}\nshort.example\n").as_bytes(),
            "l",
            &mut |d| panic!("{d}"),
        )
        .unwrap();
        let plan = b.finish(&AllowList::new(), false);
        let mut v = Vec::new();
        let st = write(&plan, Format::Rpz, &opts(), &mut v).unwrap();
        assert_eq!((st.names, st.names_too_long), (1, 1));
    }

    #[test]
    fn unbound_dnsmasq_hosts() {
        let (s, st) = out(Format::Unbound, &opts());
        assert_eq!(
            body(&s, "#"),
            vec![
                "server:",
                "    local-zone: \"dga1.example.\" always_nxdomain",
                "    local-zone: \"evil.example.\" always_nxdomain",
                "    local-zone: \"xn--bcher-kva.example.\" always_nxdomain",
                "    local-zone: \"ok.evil.example.\" always_transparent",
            ]
        );
        assert_eq!(st.ips_not_expressible, 4);
        let mut o = opts();
        o.sinkhole = Some("2001:db8::53".parse().unwrap());
        let (s, _) = out(Format::Unbound, &o);
        assert!(s.contains(
            "    local-zone: \"evil.example.\" redirect\n    local-data: \"evil.example. AAAA 2001:db8::53\"\n"
        ));

        let (s, st) = out(Format::Dnsmasq, &opts());
        assert_eq!(
            body(&s, "#"),
            vec![
                "address=/dga1.example/",
                "address=/evil.example/",
                "address=/xn--bcher-kva.example/",
                "server=/ok.evil.example/#",
                "bogus-nxdomain=198.51.100.0/24",
                "bogus-nxdomain=198.51.100.7",
            ]
        );
        assert_eq!((st.ips, st.ips_not_expressible), (2, 2));

        let (s, st) = out(Format::Hosts, &opts());
        assert!(s.contains("cannot block subdomains"));
        assert_eq!(
            body(&s, "#"),
            vec![
                "0.0.0.0 dga1.example",
                "0.0.0.0 evil.example",
                "0.0.0.0 www.evil.example",
                "0.0.0.0 xn--bcher-kva.example",
            ]
        );
        assert_eq!((st.names, st.covered, st.ips_not_expressible), (4, 0, 4));
    }

    /// Checks the syntax Suricata's rule parser requires: action,
    /// protocol, addresses, ports, direction, then options `key[:value];`
    /// in parentheses with quoted strings that hold no unescaped `"` or
    /// `;`, a unique sid and a rev.
    fn check_suricata_rule(line: &str, sids: &mut std::collections::HashSet<u64>) {
        let (header, opts) = line.split_once(" (").expect("options");
        let h: Vec<&str> = header.split(' ').collect();
        assert_eq!(h.len(), 7, "{line}");
        assert!(["alert", "pass"].contains(&h[0]), "{line}");
        assert!(["dns", "ip"].contains(&h[1]), "{line}");
        assert_eq!(h[4], "->");
        let opts = opts.strip_suffix(')').expect("closing parenthesis");
        let mut sid = None;
        let mut rev = false;
        let mut rest = opts;
        while !rest.is_empty() {
            let end = if let Some(q) = rest.find(":\"").filter(|q| rest[..*q].find(';').is_none()) {
                let close = rest[q + 2..].find('"').expect("closing quote") + q + 2;
                assert!(!rest[q + 2..close].contains(';'), "{line}");
                close + 1 + rest[close + 1..].find(';').expect("';' after a string")
            } else {
                rest.find(';').expect("option ends with ';'")
            };
            let opt = rest[..end].trim();
            let (k, v) = opt.split_once(':').unwrap_or((opt, ""));
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.'),
                "option '{k}' in {line}"
            );
            if k == "sid" {
                sid = Some(v.parse::<u64>().unwrap());
            }
            rev |= k == "rev";
            rest = rest[end + 1..].trim_start();
        }
        let sid = sid.expect("sid");
        assert!(sids.insert(sid), "duplicate sid {sid}");
        assert!(rev, "{line}");
    }

    #[test]
    fn suricata_rules() {
        let (s, st) = out(Format::Suricata, &opts());
        let rules: Vec<&str> = s.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(rules.len(), 5);
        let mut sids = std::collections::HashSet::new();
        for r in &rules {
            check_suricata_rule(r, &mut sids);
        }
        assert_eq!(
            rules[1],
            "alert dns any any -> any any (msg:\"takedown blocklist: DNS query of evil.example (c2.txt:2: Campaign A)\"; dns.query; dotprefix; content:\".evil.example\"; nocase; endswith; classtype:trojan-activity; metadata:takedown_origin list; sid:1600001; rev:1;)"
        );
        assert!(rules[0].contains("metadata:takedown_origin dga, takedown_family fam;"));
        assert!(rules[3].starts_with(
            "pass dns any any -> any any (msg:\"takedown blocklist: allowed name ok.evil.example\""
        ));
        assert_eq!(
            rules[4],
            "alert ip any any -> [198.51.100.0/24,198.51.100.7,2001:db8::/32,2001:db8::1] any (msg:\"takedown blocklist: traffic to listed addresses 1-4\"; classtype:trojan-activity; sid:1600004; rev:1;)"
        );
        assert_eq!((st.rules, st.last_sid), (5, Some(1_600_004)));
        let mut sids = std::collections::HashSet::new();
        check_suricata_rule(&dataset_rule(&opts(), "takedown.lst"), &mut sids);

        let mut o = opts();
        o.sid_base = u32::MAX - 2;
        let mut v = Vec::new();
        assert!(matches!(
            write(&plan(), Format::Suricata, &o, &mut v),
            Err(WriteError::SidOverflow { count: 5, .. })
        ));
        // Hostile origin text cannot break out of msg.
        assert_eq!(msg_text("a\"; drop;\\x\n"), "a   drop  x ");
    }

    /// A plan with names that hold `_`, one without, and an address.
    fn underscore_plan() -> Plan {
        let mut b = Builder::new();
        read_list_from(
            &mut b,
            "_dmarc.mail.example\nmail_srv.example\nclean.example\n198.51.100.7\n".as_bytes(),
            "u.txt",
            &mut |d| panic!("{d}"),
        )
        .unwrap();
        b.finish(&AllowList::new(), false)
    }

    #[test]
    fn rpz_sinkhole_gives_underscore_owners_nxdomain() {
        let plan = underscore_plan();
        let write_with = |o: &FormatOptions, f| {
            let mut v = Vec::new();
            let st = write(&plan, f, o, &mut v).unwrap();
            (String::from_utf8(v).unwrap(), st)
        };
        let mut o = opts();
        o.sinkhole = Some("192.0.2.53".parse().unwrap());
        let (s, st) = write_with(&o, Format::Rpz);
        assert_eq!(
            body(&s, ";")[4..],
            [
                "clean.example A 192.0.2.53",
                "*.clean.example A 192.0.2.53",
                "_dmarc.mail.example CNAME .",
                "*._dmarc.mail.example CNAME .",
                "mail_srv.example CNAME .",
                "*.mail_srv.example CNAME .",
                "32.7.100.51.198.rpz-ip A 192.0.2.53",
            ]
        );
        assert_eq!((st.names, st.sinkhole_not_expressible), (3, 2));
        // AAAA owners are checked alike.
        o.sinkhole = Some("2001:db8::53".parse().unwrap());
        let (s, st) = write_with(&o, Format::Rpz);
        assert!(s.contains("\nmail_srv.example CNAME .\n"), "{s}");
        assert!(s.contains("\nclean.example AAAA 2001:db8::53\n"), "{s}");
        assert_eq!(st.sinkhole_not_expressible, 2);
        // A zone with `_`: every owner holds one.
        o.zone = "rpz_x.example".into();
        let (s, st) = write_with(&o, Format::Rpz);
        assert!(!s.contains(" AAAA "), "{s}");
        assert_eq!(st.sinkhole_not_expressible, 4);
        // Without a sinkhole nothing is counted.
        let (_, st) = write_with(&opts(), Format::Rpz);
        assert_eq!(st.sinkhole_not_expressible, 0);
        // The other formats keep the sinkhole for such names (their
        // checkers accept `_`; the binary's tests run them).
        let mut o = opts();
        o.sinkhole = Some("192.0.2.53".parse().unwrap());
        let (s, st) = write_with(&o, Format::Unbound);
        assert!(s.contains("    local-data: \"mail_srv.example. A 192.0.2.53\"\n"));
        assert_eq!(st.sinkhole_not_expressible, 0);
        let (s, _) = write_with(&o, Format::Dnsmasq);
        assert!(s.contains("\naddress=/_dmarc.mail.example/192.0.2.53\n"));
        let (s, _) = write_with(&o, Format::Hosts);
        assert!(s.contains("\n192.0.2.53 mail_srv.example\n"));
    }

    /// Zeek's reader's one unescape: `\xHH` is the byte.
    fn zeek_unescape(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if b[i] == b'\\'
                && i + 3 < b.len()
                && b[i + 1] == b'x'
                && let (Some(h), Some(l)) = (hex(b[i + 2]), hex(b[i + 3]))
            {
                out.push((h * 16 + l) as u8);
                i += 4;
                continue;
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Origin text that tries every trick: quotes, `;`, backslash escapes
    /// Zeek decodes, tabs, newlines, a Unicode line separator, `#`.
    const HOSTILE: &str = "Camp\"aign\"; drop; sid:1;\\x0a\\x09\t\n\r#x\\\\\u{2028}\u{85}";

    fn hostile_plan() -> Plan {
        let mut b = Builder::new();
        let list = b.add_origin(Origin::List {
            source: format!("dir/{HOSTILE}/c2.txt"),
            comment: Some(HOSTILE.into()),
        });
        b.push_name("listed.example", list, 3, 3);
        b.push_ip("198.51.100.7".parse().unwrap(), 32, list, 4);
        b.push_url("http://evil.example/a\\x0ab\\\\c".into(), list, 5);
        b.push_url("http://#fields/x".into(), list, 6);
        let intel = b.add_origin(Origin::Intel {
            source: format!("{HOSTILE}.json"),
            label: HOSTILE.into(),
            family: Some(format!("Fam {HOSTILE}")),
            object_id: Some(HOSTILE.into()),
        });
        b.push_name("stix.example", intel, 0, 0);
        b.push_ip("2001:db8::".parse().unwrap(), 32, intel, 0);
        b.finish(&AllowList::new(), false)
    }

    #[test]
    fn hostile_origin_text_is_made_safe_for_every_format() {
        let plan = hostile_plan();
        for f in [
            Format::Rpz,
            Format::Unbound,
            Format::Dnsmasq,
            Format::Hosts,
            Format::Suricata,
            Format::SuricataDataset,
            Format::ZeekIntel,
        ] {
            let mut v = Vec::new();
            write(&plan, f, &opts(), &mut v).unwrap();
            let s = String::from_utf8(v).unwrap();
            assert!(!s.contains('\r') && !s.contains('\u{85}'), "{f:?}: {s}");
            match f {
                Format::Suricata => {
                    let mut sids = std::collections::HashSet::new();
                    let rules: Vec<&str> = s.lines().filter(|l| !l.starts_with('#')).collect();
                    assert_eq!(rules.len(), 3, "{s}");
                    for r in rules {
                        check_suricata_rule(r, &mut sids);
                        let msg = &r[r.find("msg:\"").unwrap() + 5..];
                        let msg = &msg[..msg.find('"').unwrap()];
                        assert!(!msg.contains(['\\', ';', '\t']), "{msg}");
                        assert!(!r.contains("sid:1;"), "{r}");
                        if let Some(m) = r.split("metadata:").nth(1) {
                            let m = &m[..m.find(';').unwrap()];
                            assert!(
                                m.bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b" _-.,".contains(&b)),
                                "{m}"
                            );
                        }
                    }
                }
                Format::ZeekIntel => {
                    let lines: Vec<&str> = s.lines().collect();
                    assert_eq!(lines.len(), 7, "{s}");
                    for l in &lines[1..] {
                        // A line that begins with `#` is a header to Zeek.
                        assert!(!l.starts_with('#'), "{l}");
                        let fields: Vec<&str> = l.split('\t').collect();
                        assert_eq!(fields.len(), 4, "{l}");
                        for x in &fields {
                            // What Zeek reads back holds no control
                            // character, and each backslash written is
                            // the escaped one.
                            let read = zeek_unescape(x);
                            assert!(!read.contains(char::is_control), "{l}");
                            assert_eq!(read.matches('\\').count(), x.matches("\\x5c").count());
                        }
                    }
                    // The text survives: Zeek reads the backslashes back.
                    let url = lines
                        .iter()
                        .find(|l| l.starts_with("evil.example/"))
                        .unwrap();
                    assert_eq!(
                        zeek_unescape(url.split('\t').next().unwrap()),
                        "evil.example/a\\x0ab\\\\c"
                    );
                    // Zeek reads `\x23` back as the `#`.
                    assert!(
                        lines
                            .iter()
                            .any(|l| l.starts_with("\\x23fields/x\tIntel::URL\t")),
                        "{s}"
                    );
                    let desc = zeek_unescape(lines[1].split('\t').nth(3).unwrap());
                    assert!(desc.contains("sid:1;\\x0a\\x09"), "{desc}");
                }
                _ => {
                    // The other formats carry no origin text.
                    assert!(!s.contains("aign"), "{f:?}: {s}");
                }
            }
        }
    }

    #[test]
    fn suricata_dataset() {
        let (s, st) = out(Format::SuricataDataset, &opts());
        let decoded: Vec<String> = s
            .lines()
            .map(|l| {
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(l).unwrap())
                    .unwrap()
            })
            .collect();
        assert_eq!(
            decoded,
            vec![
                "dga1.example",
                "evil.example",
                "www.evil.example",
                "xn--bcher-kva.example"
            ]
        );
        assert_eq!(s.lines().next().unwrap(), "ZGdhMS5leGFtcGxl");
        assert_eq!(st.ips_not_expressible, 4);
    }

    #[test]
    fn zeek_intel() {
        let (s, st) = out(Format::ZeekIntel, &opts());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
        );
        let types = [
            "Intel::DOMAIN",
            "Intel::ADDR",
            "Intel::SUBNET",
            "Intel::URL",
        ];
        for l in &lines[1..] {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "{l}");
            assert!(types.contains(&f[1]), "{l}");
            assert!(f.iter().all(|x| !x.is_empty() && *x != "-"), "{l}");
            match f[1] {
                "Intel::ADDR" => assert!(f[0].parse::<IpAddr>().is_ok()),
                "Intel::SUBNET" => {
                    assert!(crate::input::classify(f[0]).is_ok() && f[0].contains('/'))
                }
                "Intel::URL" => assert!(!f[0].contains("://")),
                _ => assert!(name::normalise(f[0]).is_ok()),
            }
        }
        assert_eq!(
            lines[1],
            "dga1.example\tIntel::DOMAIN\ttakedown:dga:fam\tdga fam/v1 seed 0x1 2016-11-30..2016-12-01"
        );
        assert!(
            lines.contains(
                &"evil.example/gate.php\tIntel::URL\ttakedown:c2.txt\tc2.txt:9: Campaign A"
            )
        );
        assert!(
            lines
                .contains(&"198.51.100.0/24\tIntel::SUBNET\ttakedown:c2.txt\tc2.txt:6: Campaign A")
        );
        assert_eq!((st.names, st.ips, st.urls), (4, 4, 1));
        assert_eq!(st.urls_not_expressible, 0);
    }
}
