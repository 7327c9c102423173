//! The national CERTs: a country's fallback contact, from a table built
//! into the program (`data/national-certs.csv`, each row citing the
//! team's own page it was taken from).

use super::Country;

/// The table as shipped.
pub const NATIONAL_CERTS_CSV: &str = include_str!("../../data/national-certs.csv");

/// A country's national CERT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NationalCert {
    /// The country.
    pub country: Country,
    /// The team's name (`CERT-Bund`).
    pub team: String,
    /// The address it publishes for incident reports (validated, lower
    /// case).
    pub address: String,
    /// Where the address was taken from.
    pub source: String,
}

/// The shipped table, rows that do not parse left out (a unit test
/// insists there are none).
pub fn national_certs() -> Vec<NationalCert> {
    parse(NATIONAL_CERTS_CSV).0
}

/// Parses a table in the shipped layout: `#` comment lines, a header
/// row, then `country,team,address,source` (the source may hold commas).
/// Returns the rows and the numbers of the lines that did not parse.
pub(crate) fn parse(text: &str) -> (Vec<NationalCert>, Vec<usize>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut header = true;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if header {
            header = false;
            if t.starts_with("country,") {
                continue;
            }
        }
        let mut f = t.splitn(4, ',');
        let (Some(cc), Some(team), Some(addr), Some(source)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            bad.push(i + 1);
            continue;
        };
        match (
            Country::parse(cc.trim()),
            super::normalise_address(addr.trim()),
        ) {
            (Some(country), Some(address)) if !team.trim().is_empty() => out.push(NationalCert {
                country,
                team: team.trim().to_string(),
                address,
                source: source.trim().to_string(),
            }),
            _ => bad.push(i + 1),
        }
    }
    (out, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_is_clean_and_cited() {
        let (rows, bad) = parse(NATIONAL_CERTS_CSV);
        assert!(bad.is_empty(), "bad lines {bad:?}");
        assert!(rows.len() >= 6);
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            assert!(seen.insert(r.country), "{} twice", r.country.as_str());
            assert!(
                r.source.starts_with("https://"),
                "{} has no source",
                r.country.as_str()
            );
        }
        let de = rows.iter().find(|r| r.country.as_str() == "DE").unwrap();
        assert_eq!(de.address, "certbund@bsi.bund.de");
        assert_eq!(de.team, "CERT-Bund");
        assert!(NATIONAL_CERTS_CSV.contains("Compiled 2026-12-06"));
    }

    #[test]
    fn bad_rows_are_found() {
        let (rows, bad) = parse(
            "country,team,address,source\nXX1,T,a@b.example,s\nDE,T,nope,s\nFR,T,a@b.example,s\n",
        );
        assert_eq!(bad, vec![2, 3]);
        assert_eq!(rows.len(), 1);
    }
}
