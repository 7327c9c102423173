//! Hunting in the network's logs: DNS, proxy and flow logs and packet
//! captures, recognised by content, read into one normalised [`Event`]
//! per query or request, matched against network indicators and DGA
//! windows, and reported as sightings per infected client.
//!
//! * [`event`]: the normalised event every reader fills.
//! * [`detect`]: which format a file or a line is, by content.
//! * Line formats: [`zeek`] (TSV and JSON: dns, http, ssl, conn),
//!   [`eve`] (Suricata EVE JSON, dns v2 and v3, http, tls, flow),
//!   [`bind`], [`dnsmasq`], [`unbound`], [`windns`] (Windows DNS Server
//!   debug log), [`squid`], [`cof`] (passive DNS, common output format).
//! * [`pcap`]: pcap and pcapng captures (DNS, HTTP Host, TLS SNI).
//! * [`input`]: files (compressed or not), standard input, `--follow`.
//! * [`matcher`]: the indicators and DGA names, indexed for lookup.
//! * [`sighting`]: one record per (client, indicator or family).
//! * [`flux`], [`suspect`], [`asn`]: fast-flux features, DGA-looking
//!   names, IP-to-ASN tables.
//! * [`hunt`]: the parallel pipeline that ties them together.
//!
//! Every input is hostile: a line or packet that cannot be read is an
//! [`Outcome::Bad`] with a reason, counted and reported; the rest goes on.
#![deny(missing_docs)]

pub mod asn;
pub mod bind;
pub mod cof;
pub mod detect;
pub mod dnsmasq;
pub mod eve;
pub mod event;
pub mod flux;
pub mod hunt;
pub mod input;
pub mod matcher;
pub mod pcap;
pub mod share;
pub mod sighting;
pub mod squid;
pub mod suspect;
pub mod unbound;
pub mod windns;
pub mod zeek;

pub use event::{Answer, AnswerData, Event, EventKind, Format, LineCtx, Outcome};
