//! Fetching over HTTP(S). Plain HTTP is allowed: the bundle's signature,
//! not the transport, is what is trusted (as with Debian's mirrors), and
//! an incident network may have no working TLS interception-free path.

use crate::source::{Fetched, LATEST, MAX_LATEST_LEN, parse_latest};
use crate::{Error, Result};
use std::io::Read;
use std::time::Duration;

/// Seconds to connect, to get response headers, and that one read may
/// wait: a stalled server fails the update instead of hanging it. There is
/// no limit on the whole download, which may be large on a slow link.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(RESPONSE_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .http_status_as_error(false)
        .user_agent(concat!("takedown/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The bundle a URL names: itself when its path ends in `.tdsb`, else the
/// one its `latest` file names.
pub(crate) fn fetch(url: &str) -> Result<Fetched> {
    let agent = agent();
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let bundle_url = if path.ends_with(&format!(".{}", crate::format::EXTENSION)) {
        url.to_string()
    } else {
        let base = url.trim_end_matches('/');
        let latest_url = format!("{base}/{LATEST}");
        let mut text = String::new();
        get(&agent, &latest_url)?
            .take(MAX_LATEST_LEN + 1)
            .read_to_string(&mut text)
            .map_err(|e| Error::Fetch(format!("{latest_url}: {e}")))?;
        if text.len() as u64 > MAX_LATEST_LEN {
            return Err(Error::Fetch(format!(
                "{latest_url}: longer than {MAX_LATEST_LEN} bytes; not a `latest` file"
            )));
        }
        let name =
            parse_latest(&text).map_err(|why| Error::Fetch(format!("{latest_url}: {why}")))?;
        format!("{base}/{name}")
    };
    let reader = get(&agent, &bundle_url)?;
    Ok(Fetched {
        origin: bundle_url,
        reader,
    })
}

fn get(agent: &ureq::Agent, url: &str) -> Result<Box<dyn Read>> {
    let response = agent
        .get(url)
        .call()
        .map_err(|e| Error::Fetch(format!("{url}: {e}")))?;
    let status = response.status();
    if status != 200 {
        return Err(Error::Fetch(format!(
            "{url}: HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )));
    }
    Ok(Box::new(Download {
        url: url.to_string(),
        inner: response.into_body().into_reader(),
        read: 0,
    }))
}

/// A response body whose errors name the URL and how far it got.
struct Download<R> {
    url: String,
    inner: R,
    read: u64,
}

impl<R: Read> Read for Download<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.read = self.read.saturating_add(n as u64);
                Ok(n)
            }
            Err(e) => Err(std::io::Error::new(
                e.kind(),
                format!(
                    "download of {} failed after {} bytes: {e}",
                    self.url, self.read
                ),
            )),
        }
    }
}
