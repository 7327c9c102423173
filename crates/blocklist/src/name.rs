//! Domain names as resolvers compare them: ASCII (IDNs as A-labels,
//! `xn--`), lowercase, no trailing dot, every label 1-63 bytes, the whole
//! name at most 253.
//!
//! Pure-ASCII names (all DGA output, nearly every feed line) take a fast
//! path that never touches the UTS 46 tables; a name with a non-ASCII
//! character or an `xn--` label goes through [`idna`]'s UTS 46 ToASCII
//! (non-transitional, hyphens unchecked, `_` allowed: real malware names
//! carry underscores) and is then checked by the same rules.
//!
//! IDN homographs: a label that mixes Latin, Greek and Cyrillic letters
//! (`pаypal` with a Cyrillic `а`) is still converted (the malware resolves
//! that very name, so it must be blocked), but [`Normalised::homograph`]
//! says which scripts it mixes, so that the caller warns. The check is
//! deliberately simple: it knows these three scripts by their Unicode
//! blocks and nothing else, so a name written wholly in one look-alike
//! script (all-Cyrillic `аррӏе`) is not flagged.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use std::fmt;

/// Longest name in presentation form without the trailing dot (RFC 1035:
/// 255 bytes on the wire).
pub const MAX_NAME: usize = 253;

/// Longest label (RFC 1035).
pub const MAX_LABEL: usize = 63;

/// Why a string is not a domain name a blocklist can hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing (or only a dot).
    #[error("empty name")]
    Empty,
    /// Over [`MAX_NAME`] bytes (as A-labels).
    #[error("name of {0} bytes, longer than {MAX_NAME}")]
    TooLong(usize),
    /// A label over [`MAX_LABEL`] bytes.
    #[error("label of {len} bytes, longer than {MAX_LABEL}: '{label}'")]
    LabelTooLong {
        /// The label (cut to 70 characters).
        label: String,
        /// Its length.
        len: usize,
    },
    /// Two dots in a row, or a leading dot.
    #[error("empty label (two dots in a row or a leading dot)")]
    EmptyLabel,
    /// `*.example.com`: a blocklist entry is a name; each format adds its
    /// own wildcard.
    #[error("wildcard: give the name itself, its subdomains are blocked with it")]
    Wildcard,
    /// A control character (escaped in the message).
    #[error("control character {0}")]
    Control(String),
    /// A character no host name holds.
    #[error("invalid character '{0}'")]
    InvalidChar(char),
    /// The last label is all digits: an IP address that does not parse, or
    /// a name no resolver would look up.
    #[error("all-numeric top-level label: not a valid IP address nor a domain name")]
    NumericTld,
    /// UTS 46 refused it (disallowed code point, bad punycode, bidi rule).
    #[error("not a valid internationalised name (UTS 46 / IDNA)")]
    Idna,
    /// A label begins with [`RPZ_RESERVED_PREFIX`] (only from
    /// [`normalise_listed`]).
    #[error(
        "label '{0}' begins with '{RPZ_RESERVED_PREFIX}', which response policy zones reserve for their triggers and actions (rpz-ip, rpz-nsip, rpz-nsdname, rpz-client-ip, rpz-passthru, ...): as an RPZ owner it would be a policy trigger, not a name"
    )]
    RpzReserved(String),
}

/// The prefix of the labels RPZ reserves (RPZ draft, BIND ARM): the
/// trigger labels `rpz-ip`, `rpz-nsip`, `rpz-nsdname`, `rpz-client-ip`
/// and the action names `rpz-passthru`, `rpz-drop`, `rpz-tcp-only`. The
/// whole prefix is refused, not only today's labels: resolvers add new
/// ones (Knot and PowerDNS read the same zones).
pub const RPZ_RESERVED_PREFIX: &str = "rpz-";

/// A normalised name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalised {
    /// The name as resolvers compare it.
    pub name: String,
    /// When a label mixes scripts: what it mixes (a possible homograph).
    pub homograph: Option<Homograph>,
}

/// A label that mixes Latin, Greek or Cyrillic letters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Homograph {
    /// The label, in Unicode.
    pub label: String,
    /// The scripts it mixes, in the order `Latin`, `Greek`, `Cyrillic`.
    pub scripts: Vec<&'static str>,
}

impl fmt::Display for Homograph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "label '{}' mixes {} letters (possible IDN homograph)",
            self.label,
            self.scripts.join(" and ")
        )
    }
}

/// A character as `U+XXXX`: how messages name one that must not be
/// printed raw.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// ASCII characters UTS 46 must refuse: everything but letters, digits,
/// hyphen, dot and underscore (the underscore is kept: real malware names
/// carry it), and the glyphless ones (space, controls, DEL).
const DENY: AsciiDenyList = AsciiDenyList::new(true, "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}~");

/// Normalises `input` (see the module documentation).
pub fn normalise(input: &str) -> Result<Normalised, NameError> {
    if let Some(c) = input.chars().find(|c| c.is_control()) {
        return Err(NameError::Control(code_point(c)));
    }
    let s = input.strip_suffix('.').unwrap_or(input);
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.starts_with("*.") || s == "*" {
        return Err(NameError::Wildcard);
    }
    if s.is_ascii() {
        // Checked before allocating, so that a hostile 1 MiB "name" costs
        // one pass.
        check_ascii(s.as_bytes())?;
        let name = s.to_ascii_lowercase();
        if !has_ace_label(&name) {
            return Ok(Normalised {
                name,
                homograph: None,
            });
        }
        // An `xn--` label: punycode that must decode to a valid IDN.
        return idn(&name);
    }
    idn(s)
}

/// Normalises a name to block or allow: [`normalise`], then no label may
/// begin with [`RPZ_RESERVED_PREFIX`] (see the module documentation).
/// Checked on the normalised form, so that `RPZ-IP`, `ｒｐｚ-ip`
/// (full-width, which UTS 46 maps to ASCII) and the like are caught too.
pub fn normalise_listed(input: &str) -> Result<Normalised, NameError> {
    let n = normalise(input)?;
    check_reserved(&n.name)?;
    Ok(n)
}

/// Refuses a normalised name with a label that begins with
/// [`RPZ_RESERVED_PREFIX`].
pub fn check_reserved(name: &str) -> Result<(), NameError> {
    let p = RPZ_RESERVED_PREFIX.as_bytes();
    match name
        .split('.')
        .find(|l| l.len() >= p.len() && l.as_bytes()[..p.len()].eq_ignore_ascii_case(p))
    {
        Some(l) => Err(NameError::RpzReserved(l.chars().take(MAX_LABEL).collect())),
        None => Ok(()),
    }
}

/// The UTS 46 path: to A-labels, then the same checks as ASCII input,
/// then the script check on the Unicode form.
fn idn(s: &str) -> Result<Normalised, NameError> {
    let ascii = Uts46::new()
        .to_ascii(s.as_bytes(), DENY, Hyphens::Allow, DnsLength::Ignore)
        .map_err(|_| NameError::Idna)?;
    let ascii = ascii.into_owned();
    if ascii.is_empty() {
        return Err(NameError::Empty);
    }
    if ascii.starts_with("*.") {
        return Err(NameError::Wildcard);
    }
    check_ascii(ascii.as_bytes())?;
    let (unicode, ok) = Uts46::new().to_unicode(ascii.as_bytes(), DENY, Hyphens::Allow);
    if ok.is_err() {
        return Err(NameError::Idna);
    }
    let homograph = unicode.split('.').find_map(mixed_scripts);
    Ok(Normalised {
        name: ascii,
        homograph,
    })
}

fn has_ace_label(name: &str) -> bool {
    name.starts_with("xn--") || name.contains(".xn--")
}

/// Length, labels and characters of an ASCII name (any case).
fn check_ascii(b: &[u8]) -> Result<(), NameError> {
    if b.len() > MAX_NAME {
        return Err(NameError::TooLong(b.len()));
    }
    let mut last = &b[..0];
    for label in b.split(|c| *c == b'.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(NameError::LabelTooLong {
                label: String::from_utf8_lossy(&label[..70.min(label.len())]).into_owned(),
                len: label.len(),
            });
        }
        if let Some(&c) = label
            .iter()
            .find(|c| !(c.is_ascii_alphanumeric() || **c == b'-' || **c == b'_'))
        {
            return Err(NameError::InvalidChar(c as char));
        }
        last = label;
    }
    if last.iter().all(u8::is_ascii_digit) {
        return Err(NameError::NumericTld);
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin = 0,
    Greek = 1,
    Cyrillic = 2,
}

const SCRIPT_NAMES: [&str; 3] = ["Latin", "Greek", "Cyrillic"];

/// The script of a letter, by Unicode block; `None` for digits, hyphens
/// and letters of other scripts (which are not compared).
fn script(c: char) -> Option<Script> {
    let u = c as u32;
    Some(match u {
        0x41..=0x5A | 0x61..=0x7A => Script::Latin,
        // Latin-1 Supplement letters (not × and ÷), Latin Extended-A/B,
        // IPA, Latin Extended Additional, -C, -D, -E.
        0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x2AF => Script::Latin,
        0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF | 0xAB30..=0xAB6F => Script::Latin,
        // Greek and Coptic, Greek Extended.
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
        // Cyrillic, Supplement, Extended-A, -B, -C.
        0x400..=0x52F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F | 0x1C80..=0x1C8F => Script::Cyrillic,
        _ => return None,
    })
}

/// The scripts a label mixes, when it mixes two or more of Latin, Greek
/// and Cyrillic.
fn mixed_scripts(label: &str) -> Option<Homograph> {
    let mut seen = [false; 3];
    for c in label.chars() {
        if let Some(s) = script(c) {
            seen[s as usize] = true;
        }
    }
    if seen.iter().filter(|s| **s).count() < 2 {
        return None;
    }
    Some(Homograph {
        label: label.to_string(),
        scripts: SCRIPT_NAMES
            .iter()
            .zip(seen)
            .filter(|(_, s)| *s)
            .map(|(n, _)| *n)
            .collect(),
    })
}

/// The RPZ/zone-file sort key of a normalised name: its labels from the
/// last to the first, separated by `\x01` (below every byte a label can
/// hold), so that a name sorts right before all its subdomains and they
/// form one contiguous run after it.
pub fn sort_key(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len());
    for (i, label) in name.rsplit('.').enumerate() {
        if i > 0 {
            k.push(1);
        }
        k.extend_from_slice(label.as_bytes());
    }
    k
}

/// Compares two sort keys, as `a.cmp(b)` does, faster: most pairs differ
/// in their first eight bytes, compared as one integer without calling
/// `memcmp` (sorting a million names spends most of its time here).
pub fn cmp_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    // Keys never hold a zero byte, so padding a short key with zeros
    // keeps it before the longer keys it is a prefix of.
    fn head(k: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        let n = k.len().min(8);
        b[..n].copy_from_slice(&k[..n]);
        u64::from_be_bytes(b)
    }
    head(a).cmp(&head(b)).then_with(|| a.cmp(b))
}

/// The name a [`sort_key`] was made from.
pub fn from_sort_key(key: &[u8]) -> String {
    let mut s = String::with_capacity(key.len());
    for (i, label) in key.rsplit(|b| *b == 1).enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(std::str::from_utf8(label).unwrap_or_default());
    }
    s
}

/// True when `child` is a proper subdomain of `parent` (both normalised).
pub fn is_subdomain(child: &str, parent: &str) -> bool {
    child.len() > parent.len()
        && child.ends_with(parent)
        && child.as_bytes()[child.len() - parent.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Result<String, NameError> {
        normalise(s).map(|n| n.name)
    }

    #[test]
    fn ascii_names() {
        assert_eq!(n("Evil.Example.COM.").unwrap(), "evil.example.com");
        assert_eq!(n("a_b.example").unwrap(), "a_b.example");
        assert_eq!(n(""), Err(NameError::Empty));
        assert_eq!(n("."), Err(NameError::Empty));
        assert_eq!(n("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(n(".a.b"), Err(NameError::EmptyLabel));
        assert_eq!(n("*.evil.com"), Err(NameError::Wildcard));
        assert_eq!(n("a b.com"), Err(NameError::InvalidChar(' ')));
        assert_eq!(n("a;b.com"), Err(NameError::InvalidChar(';')));
        assert_eq!(n("a*b.com"), Err(NameError::InvalidChar('*')));
        assert_eq!(n("1.2.3.400"), Err(NameError::NumericTld));
        assert!(matches!(n("a\u{7}b.com"), Err(NameError::Control(_))));
        assert!(matches!(n("ab.com\u{0}"), Err(NameError::Control(_))));
        let label = "a".repeat(64);
        assert!(matches!(
            n(&format!("{label}.com")),
            Err(NameError::LabelTooLong { len: 64, .. })
        ));
        let label = "a".repeat(300);
        let e = n(&format!("{label}.com")).unwrap_err();
        // The whole-name limit speaks first: the message stays short.
        assert_eq!(e, NameError::TooLong(304));
        let ok63 = format!("{}.com", "b".repeat(63));
        assert_eq!(n(&ok63).unwrap(), ok63);
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(long.len(), 259);
        assert_eq!(n(&long), Err(NameError::TooLong(259)));
        let max = format!("{}.{}", "a".repeat(63), vec!["abcdefghi"; 19].join("."));
        assert_eq!(max.len(), 253);
        assert_eq!(n(&max).unwrap(), max);
    }

    #[test]
    fn rpz_reserved_labels_are_refused_for_listed_names() {
        let l = |s: &str| normalise_listed(s).map(|n| n.name);
        for (input, label) in [
            ("8.0.0.0.10.rpz-ip", "rpz-ip"),
            ("32.1.0.0.127.rpz-client-ip", "rpz-client-ip"),
            ("com.rpz-nsdname", "rpz-nsdname"),
            ("24.0.2.0.192.rpz-nsip", "rpz-nsip"),
            ("evil.RPZ-IP.", "rpz-ip"),
            ("rpz-passthru.example", "rpz-passthru"),
            ("x.rpz-future-trigger.example", "rpz-future-trigger"),
            // Full-width letters map to ASCII under UTS 46.
            ("a.\u{ff52}\u{ff50}\u{ff5a}-ip", "rpz-ip"),
        ] {
            let e = l(input).unwrap_err();
            assert_eq!(e, NameError::RpzReserved(label.into()), "{input}");
            assert!(e.to_string().contains("policy trigger"), "{e}");
        }
        // Not reserved: `rpz` alone, `rpz` inside a label, `-rpz-`.
        for ok in [
            "rpz.takedown",
            "myrpz-ip.example",
            "a-rpz-ip.example",
            "rpzip.example",
        ] {
            assert_eq!(l(ok).unwrap(), ok);
        }
        // The zone's own origin goes through `normalise` only.
        assert_eq!(n("rpz-zone.example").unwrap(), "rpz-zone.example");
    }

    #[test]
    fn idns_become_a_labels() {
        assert_eq!(n("Bücher.example").unwrap(), "xn--bcher-kva.example");
        assert_eq!(n("xn--bcher-kva.example").unwrap(), "xn--bcher-kva.example");
        assert_eq!(
            n("XN--BCHER-KVA.EXAMPLE.").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(n("ＥＸＡＭＰＬＥ.com").unwrap(), "example.com");
        assert_eq!(n("münchen.de").unwrap(), "xn--mnchen-3ya.de");
        // Broken punycode, disallowed code points.
        assert_eq!(n("xn--a-ecp.example"), Err(NameError::Idna));
        assert_eq!(n("xn--zz.example"), Err(NameError::Idna));
        assert!(n("a\u{FFFD}b.example").is_err());
        assert!(n("über example.com").is_err());
        assert!(n("ü..example").is_err());
        assert!(matches!(
            n(&format!("{}.example", "ü".repeat(60))),
            Err(NameError::LabelTooLong { .. })
        ));
        assert!(n("ü\u{200E}.example").is_err());
    }

    #[test]
    fn homographs_are_flagged_and_converted() {
        // "pаypal" with U+0430 CYRILLIC SMALL LETTER A.
        let h = normalise("p\u{430}ypal.com").unwrap();
        assert_eq!(h.name, "xn--pypal-4ve.com");
        let g = h.homograph.expect("flagged");
        assert_eq!(g.scripts, vec!["Latin", "Cyrillic"]);
        assert_eq!(g.label, "p\u{430}ypal");
        // The same name published as punycode is flagged too.
        assert!(normalise("xn--pypal-4ve.com").unwrap().homograph.is_some());
        // Greek omicron in a Latin label.
        assert!(normalise("g\u{3bf}ogle.com").unwrap().homograph.is_some());
        // One script per label is not flagged (documented limit).
        assert!(
            normalise("\u{43f}\u{440}\u{438}\u{43c}\u{435}\u{440}.com")
                .unwrap()
                .homograph
                .is_none()
        );
        assert!(normalise("münchen.de").unwrap().homograph.is_none());
        assert!(normalise("evil.com").unwrap().homograph.is_none());
    }

    #[test]
    fn sort_keys_keep_subdomains_together() {
        let mut names = vec!["a-b.com", "x.a.com", "a.com", "b.com", "com.a", "z.x.a.com"];
        names.sort_by_key(|n| sort_key(n));
        assert_eq!(
            names,
            vec!["com.a", "a.com", "x.a.com", "z.x.a.com", "a-b.com", "b.com"]
        );
        for n in names {
            assert_eq!(from_sort_key(&sort_key(n)), n);
        }
        let keys = [
            &b""[..],
            b"a",
            b"ab",
            b"ab\x01c",
            b"abcdefgh",
            b"abcdefgh\x01",
            b"abcdefgi",
            b"b",
        ];
        for x in keys {
            for y in keys {
                assert_eq!(cmp_keys(x, y), x.cmp(y), "{x:?} {y:?}");
            }
        }
        assert!(is_subdomain("x.a.com", "a.com"));
        assert!(!is_subdomain("xa.com", "a.com"));
        assert!(!is_subdomain("a.com", "a.com"));
    }
}
