//! Filling in what a report does not say: the AS number and the country
//! of an event's address, from the tables a CERT has at hand.
//!
//! Sources are asked in the order they were added; the first that knows
//! the address answers. What the report itself says is kept: it is what
//! the sinkhole's operator saw at the time, closer to the event than
//! today's tables.

use std::io::{Read, Seek, SeekFrom};
use std::net::IpAddr;
use std::path::Path;

use takedown_netlog::asn::AsnDb;

use super::Country;
use super::input::LoadError;
use super::mmdb::Mmdb;
use super::rirstats::{RirStats, RirStatsBuilder};
use crate::Event;

/// The marker before a MaxMind database's metadata, which sits in its
/// last 128 KiB (MaxMind DB format 2.0, "Database Metadata").
const MMDB_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

/// True when the file at `path` ends like a MaxMind database; the name
/// does not matter (tables are often renamed or dated).
pub fn is_mmdb(path: &Path) -> Result<bool, LoadError> {
    let name = path.display().to_string();
    let mut f = std::fs::File::open(path).map_err(|e| LoadError::io(&name, &e))?;
    let len = f.metadata().map_err(|e| LoadError::io(&name, &e))?.len();
    let start = len.saturating_sub(128 * 1024);
    f.seek(SeekFrom::Start(start))
        .map_err(|e| LoadError::io(&name, &e))?;
    let mut tail = Vec::new();
    f.take(128 * 1024)
        .read_to_end(&mut tail)
        .map_err(|e| LoadError::io(&name, &e))?;
    Ok(memchr::memmem::find(&tail, MMDB_MARKER).is_some())
}

impl AsnSource {
    /// Opens an AS number table, told by its content: a MaxMind database
    /// or a pyasn table (gzip-compressed or not). Returns it with one
    /// message per line or record that could not be read (the first
    /// few, then a count).
    pub fn open(path: &Path) -> Result<(AsnSource, Vec<String>), LoadError> {
        if is_mmdb(path)? {
            let (db, problems) = Mmdb::read_path(path)?;
            return Ok((AsnSource::Mmdb(Box::new(db)), problems.messages()));
        }
        let name = path.display().to_string();
        let (db, bad) = AsnDb::read_path(path).map_err(|e| LoadError::new(&name, e.reason))?;
        Ok((AsnSource::Pyasn(db), bad))
    }
}

impl CountrySource {
    /// Opens a country table, told by its content: a MaxMind database or
    /// RIR delegated statistics (gzip-compressed or not).
    pub fn open(path: &Path) -> Result<(CountrySource, Vec<String>), LoadError> {
        if is_mmdb(path)? {
            let (db, problems) = Mmdb::read_path(path)?;
            return Ok((CountrySource::Mmdb(Box::new(db)), problems.messages()));
        }
        let mut b = RirStatsBuilder::new();
        b.read_path(path)?;
        let (stats, problems) = b.build();
        if stats.is_empty() {
            return Err(LoadError::new(
                &path.display().to_string(),
                "neither a MaxMind database nor RIR delegated statistics with a country range",
            ));
        }
        Ok((CountrySource::RirStats(stats), problems.messages()))
    }
}

/// An AS number source.
pub enum AsnSource {
    /// A pyasn-format table (`prefix/len<TAB>asn`, built from RouteViews
    /// or RIPE RIS routing tables).
    Pyasn(AsnDb),
    /// A MaxMind-format ASN database (boxed: its four tables make it
    /// large).
    Mmdb(Box<Mmdb>),
}

/// A country source.
pub enum CountrySource {
    /// A MaxMind-format country or city database (boxed).
    Mmdb(Box<Mmdb>),
    /// RIR delegated statistics.
    RirStats(RirStats),
}

/// The sources, in the order added.
#[derive(Default)]
pub struct Enricher {
    asn: Vec<AsnSource>,
    country: Vec<CountrySource>,
}

impl Enricher {
    /// No sources.
    pub fn new() -> Enricher {
        Enricher::default()
    }

    /// Adds an AS number source, asked after those added before.
    pub fn add_asn(&mut self, s: AsnSource) -> &mut Enricher {
        self.asn.push(s);
        self
    }

    /// Adds a country source, asked after those added before.
    pub fn add_country(&mut self, s: CountrySource) -> &mut Enricher {
        self.country.push(s);
        self
    }

    /// The AS number of `ip`, from the first source that knows it.
    pub fn asn(&self, ip: IpAddr) -> Option<u32> {
        self.asn.iter().find_map(|s| match s {
            AsnSource::Pyasn(db) => db.lookup(ip),
            AsnSource::Mmdb(db) => db.asn(ip),
        })
    }

    /// The country of `ip`, from the first source that knows it.
    pub fn country(&self, ip: IpAddr) -> Option<Country> {
        self.country.iter().find_map(|s| match s {
            CountrySource::Mmdb(db) => db.country(ip),
            CountrySource::RirStats(st) => st.country(ip),
        })
    }

    /// Fills in the event's AS number and country where the report left
    /// them out (and the event has an address).
    pub fn fill(&self, event: &mut Event) {
        let Some(ip) = event.ip else { return };
        if event.asn.is_none() {
            event.asn = self.asn(ip);
        }
        if event.country.is_none()
            && let Some(c) = self.country(ip)
        {
            event.country = Some(c.as_str().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::rirstats::RirStatsBuilder;

    #[test]
    fn sources_open_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("asn.mmdb");
        std::fs::write(
            &table,
            "; IP-ASN32-DAT file\n192.0.2.0/24\t64500\nbad line\n",
        )
        .unwrap();
        let (src, bad) = AsnSource::open(&table).unwrap();
        assert!(
            matches!(src, AsnSource::Pyasn(_)),
            "a pyasn table, whatever its name"
        );
        assert_eq!(bad.len(), 1, "{bad:?}");
        let stats = dir.path().join("stats");
        std::fs::write(
            &stats,
            "ripencc|DE|ipv4|192.0.2.0|256|20100712|allocated|x\n",
        )
        .unwrap();
        assert!(matches!(
            CountrySource::open(&stats).unwrap().0,
            CountrySource::RirStats(_)
        ));
        std::fs::write(&stats, "not statistics\n").unwrap();
        let e = CountrySource::open(&stats).err().unwrap();
        assert!(e.to_string().contains("stats"), "{e}");
        let fake = dir.path().join("fake.mmdb");
        let mut bytes = vec![0u8; 100];
        bytes.extend_from_slice(MMDB_MARKER);
        std::fs::write(&fake, bytes).unwrap();
        assert!(is_mmdb(&fake).unwrap());
        let e = AsnSource::open(&fake).err().unwrap();
        assert!(e.to_string().contains("not a MaxMind database"), "{e}");
    }

    #[test]
    fn fills_only_what_is_missing_first_source_first() {
        let (a, _) = AsnDb::read("192.0.2.0/24\t64500\n".as_bytes(), "t1").unwrap();
        let (b, _) = AsnDb::read(
            "192.0.0.0/16\t64999\n198.51.100.0/24\t64501\n".as_bytes(),
            "t2",
        )
        .unwrap();
        let mut rb = RirStatsBuilder::new();
        rb.read_from(
            "ripencc|DE|ipv4|192.0.2.0|256|20100712|allocated|x\n".as_bytes(),
            "s",
        )
        .unwrap();
        let (stats, _) = rb.build();
        let mut e = Enricher::new();
        e.add_asn(AsnSource::Pyasn(a))
            .add_asn(AsnSource::Pyasn(b))
            .add_country(CountrySource::RirStats(stats));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(e.asn(ip("192.0.2.1")), Some(64500));
        assert_eq!(e.asn(ip("198.51.100.1")), Some(64501));
        assert_eq!(e.asn(ip("203.0.113.1")), None);
        let mut ev = Event {
            ip: Some(ip("192.0.2.1")),
            ..Event::default()
        };
        e.fill(&mut ev);
        assert_eq!((ev.asn, ev.country.as_deref()), (Some(64500), Some("DE")));
        let mut ev = Event {
            ip: Some(ip("192.0.2.1")),
            asn: Some(1),
            country: Some("FR".into()),
            ..Event::default()
        };
        e.fill(&mut ev);
        assert_eq!((ev.asn, ev.country.as_deref()), (Some(1), Some("FR")));
        let mut ev = Event::default();
        e.fill(&mut ev);
        assert_eq!(ev, Event::default());
    }
}
