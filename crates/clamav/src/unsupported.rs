//! What kind of ClamAV construct an unsupported line or database uses,
//! so that a real database (hundreds of such lines in `main.cvd`) can be
//! reported as one line per kind with a count instead of one per line.
//!
//! The reasons classified here are the ones this crate writes
//! ([`crate::Issue::reason`]); a reason it does not know is its own kind,
//! so that nothing is ever folded into the wrong summary.

/// The kind of unsupported construct an [`crate::Issue`] reason names
/// (with or without its `unsupported: ` prefix), in the words a summary
/// line uses. `None` for a reason this crate does not write for an
/// unsupported line.
pub fn construct(reason: &str) -> Option<&'static str> {
    let r = reason.strip_prefix("unsupported: ").unwrap_or(reason);
    Some(if r.starts_with("PCRE /") {
        "PCRE subsignatures the regex engine cannot express"
    } else if r.starts_with("target type ") {
        "signatures for unsupported target types"
    } else if r.starts_with("target description ") {
        "logical signatures with Container, Intermediates, IconGroup or HandlerType conditions"
    } else if r == "macro subsignature" {
        "macro subsignatures"
    } else if r == "fuzzy image hash subsignature" {
        "fuzzy image hash subsignatures"
    } else if r == "byte compare subsignature" {
        "byte compare subsignatures"
    } else if r.starts_with("character class (") {
        "zero-width boundary classes (B) and (L)"
    } else if r.starts_with("VI ") {
        "VI (version information) offsets"
    } else {
        return None;
    })
}

/// The kind of signatures a database member holds that this crate does
/// not read at all, named after its extension (`main.idb`: icon
/// signatures).
pub fn database_construct(member: &str) -> &'static str {
    let ext = member
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "cbc" => "bytecode signatures",
        "idb" => "icon signatures",
        "pdb" | "gdb" | "wdb" => "phishing URL signatures",
        "crb" | "cat" => "Authenticode certificate rules",
        "cdb" => "container metadata signatures",
        "ftm" => "file type magic signatures",
        "hwp" => "HWP document signatures",
        "imp" => "import table hash signatures",
        "yar" | "yara" => "YARA rules inside a ClamAV container",
        _ => "other database kinds",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Database, Kind};

    /// Every kind of unsupported line the parsers report has its summary.
    #[test]
    fn every_unsupported_line_has_a_construct() {
        let ndb = "A:13:*:41424344\nB:0:VI:41424344\nC:0:*:4142(B)4344\n";
        let ldb = concat!(
            "D;Engine:51-255,Target:0,Container:CL_TYPE_ZIP;0;41424344\n",
            "E;Engine:51-255,Target:0;0&1;41424344;${6-7}12$\n",
            "F;Engine:51-255,Target:0;0&1;41424344;fuzzy_img#af2ad01ed42993c7\n",
            "G;Engine:51-255,Target:0;0&1;41424344;0(>>26#ib2#>512)\n",
            "H;Engine:51-255,Target:0;0&1;41424344;0/(a)\\1/\n",
        );
        let mut db = Database::new();
        let mut reasons = Vec::new();
        for (name, kind, text) in [("x.ndb", Kind::Ndb, ndb), ("x.ldb", Kind::Ldb, ldb)] {
            let r = db.load(name, kind, text.as_bytes());
            assert_eq!(r.malformed, 0, "{:?}", r.issues);
            reasons.extend(r.issues.into_iter().map(|i| i.reason));
        }
        let got: Vec<_> = reasons.iter().map(|r| construct(r)).collect();
        assert_eq!(
            got,
            vec![
                Some("signatures for unsupported target types"),
                Some("VI (version information) offsets"),
                Some("zero-width boundary classes (B) and (L)"),
                Some(
                    "logical signatures with Container, Intermediates, IconGroup or HandlerType conditions"
                ),
                Some("macro subsignatures"),
                Some("fuzzy image hash subsignatures"),
                Some("byte compare subsignatures"),
                Some("PCRE subsignatures the regex engine cannot express"),
            ],
            "{reasons:?}"
        );
        assert_eq!(construct("bad hex"), None);
        assert_eq!(database_construct("main.IDB"), "icon signatures");
        assert_eq!(database_construct("x.cbc"), "bytecode signatures");
        assert_eq!(database_construct("noext"), "other database kinds");
    }
}
