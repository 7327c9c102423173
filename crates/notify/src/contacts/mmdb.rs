//! MaxMind-format databases (`.mmdb`: GeoLite2/GeoIP2 ASN, Country and
//! City, and the many databases written in the same format): the AS
//! number (`autonomous_system_number`) and the country
//! (`country.iso_code`, else `registered_country.iso_code`) of each
//! network.
//!
//! Read with `maxminddb`, MaxMind's Rust reader by G. Oschwald (ISC
//! licence, pure Rust, its decoder bounds-checked against the file and
//! its data-section expansion budgeted; fuzzed upstream). The database is
//! walked once, each distinct record decoded once (records are shared by
//! many networks: the offset is the cache key), and flattened into the
//! same sorted range tables as the other sources, so that a lookup costs
//! the same binary search whatever the source. A hostile file cannot
//! make the walk endless: a search tree visits at most three networks per
//! node (the bound `maxminddb`'s own `verify` uses) and never more than
//! [`MAX_NETWORKS`].

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use maxminddb::{Reader, WithinOptions, path};

use super::Country;
use super::input::{LoadError, Problems};
use super::table::{self, NONE, RangeTable};

/// Largest file read (GeoIP2-City, the largest MaxMind database, is
/// about 130 MB).
pub const MAX_MMDB_BYTES: u64 = 1 << 30;

/// Most networks taken from one database (GeoLite2-City has about 5
/// million).
pub const MAX_NETWORKS: usize = 50_000_000;

/// Most undecodable records reported before the file is given up as not
/// a database.
const MAX_BAD_RECORDS: u64 = 10_000;

/// An ASN and country table read from a MaxMind-format database.
#[derive(Clone, Debug, Default)]
pub struct Mmdb {
    asn4: RangeTable<u32>,
    asn6: RangeTable<u128>,
    cc4: RangeTable<u32>,
    cc6: RangeTable<u128>,
    database_type: String,
    networks: u64,
}

impl Mmdb {
    /// Reads the database at `path`. Returns it and the records that
    /// could not be decoded (reported with line 0: a database has no
    /// lines); fails when the file is not a MaxMind database, is larger
    /// than [`MAX_MMDB_BYTES`] or its search tree is malformed.
    pub fn read_path(path: &Path) -> Result<(Mmdb, Problems), LoadError> {
        let name = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|e| LoadError::io(&name, &e))?;
        let mut bytes = Vec::new();
        f.take(MAX_MMDB_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| LoadError::io(&name, &e))?;
        if bytes.len() as u64 > MAX_MMDB_BYTES {
            return Err(LoadError::new(
                &name,
                format!("larger than {MAX_MMDB_BYTES} bytes: not a MaxMind database"),
            ));
        }
        Mmdb::from_bytes(bytes, &name)
    }

    /// [`Mmdb::read_path`] from the file's bytes; `name` names it.
    pub fn from_bytes(bytes: Vec<u8>, name: &str) -> Result<(Mmdb, Problems), LoadError> {
        let reader = Reader::from_source(bytes)
            .map_err(|e| LoadError::new(name, format!("not a MaxMind database: {e}")))?;
        let mut problems = Problems::default();
        let node_count = reader.metadata().node_count as usize;
        let max = node_count
            .saturating_mul(3)
            .saturating_add(16)
            .min(MAX_NETWORKS);
        let walk = reader
            .networks(WithinOptions::default())
            .map_err(|e| LoadError::new(name, format!("cannot walk the database: {e}")))?;
        let mut cache: HashMap<usize, (u32, u32)> = HashMap::new();
        let (mut a4, mut a6, mut c4, mut c6) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut seen = 0usize;
        let mut networks = 0u64;
        for item in walk {
            seen += 1;
            if seen > max {
                return Err(LoadError::new(
                    name,
                    format!("more than {max} networks: the search tree is malformed"),
                ));
            }
            let bad = |problems: &mut Problems, reason| -> Result<(), LoadError> {
                problems.push(name, 0, reason);
                if problems.count > MAX_BAD_RECORDS {
                    return Err(LoadError::new(name, "too many undecodable records"));
                }
                Ok(())
            };
            let lr = match item {
                Ok(lr) => lr,
                Err(_) => {
                    bad(&mut problems, "undecodable network")?;
                    continue;
                }
            };
            let Some(offset) = lr.offset() else { continue };
            let Ok(net) = lr.network() else {
                bad(&mut problems, "undecodable network")?;
                continue;
            };
            let (asn, cc) = match cache.get(&offset) {
                Some(&v) => v,
                None => {
                    let asn = match lr.decode_path::<u32>(&path!["autonomous_system_number"]) {
                        Ok(Some(a)) if a != NONE => a,
                        Ok(_) => NONE,
                        Err(_) => {
                            bad(&mut problems, "invalid autonomous_system_number")?;
                            NONE
                        }
                    };
                    let mut cc = NONE;
                    for p in [
                        path!["country", "iso_code"],
                        path!["registered_country", "iso_code"],
                    ] {
                        match lr.decode_path::<&str>(&p) {
                            Ok(Some(s)) => {
                                if let Some(c) = Country::parse(s) {
                                    cc = c.to_u32();
                                    break;
                                }
                            }
                            Ok(None) => {}
                            Err(_) => {
                                bad(&mut problems, "invalid iso_code")?;
                            }
                        }
                    }
                    cache.insert(offset, (asn, cc));
                    (asn, cc)
                }
            };
            if asn == NONE && cc == NONE {
                continue;
            }
            networks += 1;
            match net.ip() {
                IpAddr::V4(a) => {
                    let len = u32::from(net.prefix()).min(32);
                    let host = table::host_mask4(len);
                    let s = u32::from(a) & !host;
                    if asn != NONE {
                        a4.push((s, s | host, asn));
                    }
                    if cc != NONE {
                        c4.push((s, s | host, cc));
                    }
                }
                IpAddr::V6(a) => {
                    let len = u32::from(net.prefix()).min(128);
                    let host = table::host_mask6(len);
                    let s = u128::from(a) & !host;
                    if asn != NONE {
                        a6.push((s, s | host, asn));
                    }
                    if cc != NONE {
                        c6.push((s, s | host, cc));
                    }
                }
            }
        }
        let db = Mmdb {
            asn4: RangeTable::build(&a4),
            asn6: RangeTable::build(&a6),
            cc4: RangeTable::build(&c4),
            cc6: RangeTable::build(&c6),
            database_type: reader.metadata().database_type.clone(),
            networks,
        };
        Ok((db, problems))
    }

    /// The AS number of the network holding `ip`.
    pub fn asn(&self, ip: IpAddr) -> Option<u32> {
        match v4(ip) {
            Ok(x) => self.asn4.get(x),
            Err(x) => self.asn6.get(x),
        }
    }

    /// The country of the network holding `ip`.
    pub fn country(&self, ip: IpAddr) -> Option<Country> {
        match v4(ip) {
            Ok(x) => self.cc4.get(x),
            Err(x) => self.cc6.get(x),
        }
        .and_then(Country::from_u32)
    }

    /// The database's `database_type` (`GeoLite2-ASN`).
    pub fn database_type(&self) -> &str {
        &self.database_type
    }

    /// Networks with an AS number or a country.
    pub fn networks(&self) -> u64 {
        self.networks
    }
}

/// An address as IPv4 (IPv4-mapped IPv6 included) or IPv6.
pub(crate) fn v4(ip: IpAddr) -> Result<u32, u128> {
    match ip {
        IpAddr::V4(a) => Ok(u32::from(a)),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(a) => Ok(u32::from(a)),
            None => Err(u128::from(a)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_not_a_panic() {
        assert!(Mmdb::from_bytes(b"not a database".to_vec(), "x.mmdb").is_err());
        assert!(Mmdb::from_bytes(Vec::new(), "x.mmdb").is_err());
        // The metadata marker alone, then nonsense.
        let mut b = b"\xab\xcd\xefMaxMind.com".to_vec();
        b.extend_from_slice(&[0xe0, 0xff, 0xff]);
        assert!(Mmdb::from_bytes(b, "x.mmdb").is_err());
    }
}
