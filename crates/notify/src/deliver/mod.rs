//! Delivery: the journal that makes delivery exactly-once, and the
//! transports (an outbox directory, SMTP).
//!
//! Every notice is first journaled whole (its message bytes, its dedup
//! keys and its IntelMQ output, [`Journal::prepare`]), then delivered by
//! [`deliver`], which walks it through these states, each change a
//! committed SQLite transaction before the next step:
//!
//! ```text
//! Prepared ──▶ Sending ──▶ Sent
//!    ▲  ▲         │ 4xx, no connection, a refusal before the message
//!    │  │         │   went: TempFailed (retried with back-off, then
//!    │  │         │   left for a later run)
//!    │  TempFailed◀┤ 5xx: Failed (permanent, never resent)
//!    │            │ no answer once the message went: stays Sending
//!    │            ▼   (unconfirmed)
//!    └── Journal::requeue (Failed, Sending, TempFailed: sent again)
//! ```
//!
//! A notice is `Sending` while its transport call runs, and stays so when
//! it is *unconfirmed*: the message may or may not have been accepted.
//! That is a run killed during the call, or a transport that lost its
//! answer ([`SendError::Unconfirmed`]: an SMTP server silent past the
//! timeout after the end of the message, or a connection lost then). An
//! idempotent transport (the outbox) simply redoes it; SMTP does not
//! resend it unless [`DeliverOptions::resend_unconfirmed`] (in a later
//! run: never within the run that lost the answer), and reports it.
//! [`Journal::requeue`] puts failed, unconfirmed or temporarily failed
//! notices back to `Prepared` when a person decides they should go again
//! (a fixed address, a relay that was misconfigured).
//!
//! Before each notice is claimed (marked `Sending`), [`deliver`] calls
//! [`Transport::ready`], where a transport waits for its rate limit: a
//! run killed while waiting leaves the notice `Prepared`, certainly not
//! sent, rather than in doubt.
//!
//! One run at a time per journal, by an exclusive lock on
//! `<journal>.lock`. The command takes it with [`Journal::lock`] before
//! it reads [`Journal::notified_keys`] and prepares notices, and keeps it
//! through [`deliver`]: otherwise two runs could both find the same
//! events not notified yet and both notify them. [`deliver`] (and
//! [`Journal::requeue`]) use that lock when the journal holds it, and
//! take it for their own duration otherwise (a second run waits). The
//! lock is what makes a `Sending` notice found at the start of a run
//! certainly one of a dead run or an unconfirmed send, and never one
//! another live process is sending right now; the claim of each notice is
//! still a `BEGIN IMMEDIATE` transaction that re-reads its state, so that
//! a notice sent by the run before is never taken again.
//!
//! The IntelMQ output of a notice ([`PreparedNotice::intelmq`]) is
//! journaled with it, and exported by the command from
//! [`Journal::unexported_intelmq`], then recorded with
//! [`Journal::mark_intelmq_exported`]: a run killed between the two
//! exports those events again on the next run (at least once, never
//! lost), and a run killed after journaling a notice still gets its
//! events exported by the next run, which does not prepare it again.
//!
//! The fault points of the kill tests (`TAKEDOWN_FAULT=STEP#N`, see
//! `takedown_vault::fault`): `notify-before-send`,
//! `notify-sending-marked` (after the journal says Sending, before the
//! transport), `notify-sent-unrecorded` (the transport said yes, the
//! journal does not know yet) and `notify-recorded` (after the journal
//! says Sent). `notify-prepared` is the command's, after each prepare.

mod journal;
mod outbox;
mod smtp;

pub use journal::{Journal, JournalError, MAX_MESSAGE};
pub use outbox::Outbox;
pub use smtp::{Smtp, SmtpError, SmtpOptions};

use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use takedown_vault::fault;

/// The longest back-off between two attempts: a doubling that would go
/// past it stays at it (an hour: beyond that, a later run is the retry).
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// One rendered notice, as the journal keeps it until it is delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedNotice {
    /// The notice id (`notice::Notice::id`: 32 lower-case hex digits; at
    /// most 128 characters of `[0-9A-Za-z_-]`, since the outbox names a
    /// file after it).
    pub id: String,
    /// The contact address (the envelope recipient).
    pub to: String,
    /// The period the notice covers ("2026-12-05", "2026-W49", "2026-12").
    pub period: String,
    /// Why this contact (the rule, one line).
    pub rule: String,
    /// Deduplicated rows in the notice.
    pub rows: u64,
    /// Events merged into those rows.
    pub events: u64,
    /// The dedup key digests of its rows (`notice::Key::digest`).
    pub keys: Vec<[u8; 16]>,
    /// The Subject line (for `notify status`).
    pub subject: String,
    /// The whole RFC 5322 message, CRLF lines (at most
    /// [`MAX_MESSAGE`] bytes).
    pub message: Vec<u8>,
    /// When it was prepared (unix seconds).
    pub created: i64,
    /// The notice's events as IntelMQ NDJSON lines, each ending in a
    /// newline (`notice::intelmq_line`), when IntelMQ output is wanted;
    /// kept until exported (see the module documentation).
    pub intelmq: Option<Vec<u8>>,
}

/// Where a notice stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Journaled, not sent yet.
    Prepared,
    /// Handed to the transport; left so by a kill, or by a transport
    /// that lost its answer ([`SendError::Unconfirmed`]), it is
    /// unconfirmed (in doubt: the server may have it).
    Sending,
    /// Accepted by the transport.
    Sent,
    /// Refused for now (4xx, no connection); a later run retries it.
    TempFailed,
    /// Refused for good (5xx); never resent, unless requeued
    /// ([`Journal::requeue`]).
    Failed,
}

impl State {
    /// The name stored in the journal and printed by `notify status`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Prepared => "prepared",
            State::Sending => "sending",
            State::Sent => "sent",
            State::TempFailed => "tempfailed",
            State::Failed => "failed",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<State, String> {
        Ok(match s {
            "prepared" => State::Prepared,
            "sending" => State::Sending,
            "sent" => State::Sent,
            "tempfailed" => State::TempFailed,
            "failed" => State::Failed,
            _ => return Err(format!("unknown notice state {s:?}")),
        })
    }
}

/// One journaled notice as `notify status` shows it (no message bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The notice id.
    pub id: String,
    /// The contact address.
    pub to: String,
    /// The period it covers.
    pub period: String,
    /// Why this contact.
    pub rule: String,
    /// Its Subject line.
    pub subject: String,
    /// Deduplicated rows.
    pub rows: u64,
    /// Events merged into them.
    pub events: u64,
    /// Where it stands.
    pub state: State,
    /// Transport calls made for it so far.
    pub attempts: u32,
    /// The last refusal (the server's reply, or the error), or for an
    /// unconfirmed notice why its answer was lost, if any.
    pub last_error: Option<String>,
    /// When it was prepared (unix seconds).
    pub created: i64,
    /// When its state last changed (unix seconds).
    pub updated: i64,
    /// Once sent: the transport and its answer
    /// (`smtp://relay.example:587: 250 2.0.0 Ok: queued as 4Xyz`,
    /// `outbox:/var/spool/notices`).
    pub via: Option<String>,
}

/// Why a transport did not take a message, or cannot say whether it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Not taken; try again later (SMTP 4xx, a connection that could not
    /// be opened, TLS and errors before the message was sent).
    Temporary(String),
    /// Not taken; never try again (SMTP 5xx: the server's reply).
    Permanent(String),
    /// Perhaps taken: the answer was lost after the message went (an
    /// SMTP server silent past the timeout after the final ".", or a
    /// connection lost then). The notice stays `Sending`, unconfirmed,
    /// and is not resent unless asked ([`DeliverOptions::resend_unconfirmed`]).
    Unconfirmed(String),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Temporary(e) => write!(f, "temporary failure: {e}"),
            SendError::Permanent(e) => write!(f, "permanent failure: {e}"),
            SendError::Unconfirmed(e) => write!(f, "unconfirmed: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Where messages go.
pub trait Transport {
    /// What to record as `via` (no credentials): `smtp://host:port`,
    /// `outbox:/dir`.
    fn name(&self) -> String;
    /// Waits until a message to `to` may be sent (a rate limit). Called
    /// by [`deliver`] before the notice is marked `Sending`, so that a
    /// kill while waiting leaves it `Prepared` and not in doubt; `send`
    /// then only sends. Does nothing unless said otherwise.
    fn ready(&mut self, to: &str) {
        let _ = to;
    }
    /// Hands one message over. `Ok` carries the transport's answer
    /// (the server's reply, the file written).
    fn send(&mut self, id: &str, to: &str, message: &[u8]) -> Result<String, SendError>;
    /// Whether sending the same message twice has the effect of sending
    /// it once (the outbox: the same file), so that a notice left in
    /// doubt by a kill is simply redone. False unless said otherwise.
    fn idempotent(&self) -> bool {
        false
    }
}

/// How [`deliver`] retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverOptions {
    /// Further attempts after a temporary failure, within this run.
    pub retries: u32,
    /// The wait before the first retry; doubled for each next one (at
    /// most an hour).
    pub backoff: Duration,
    /// Resend notices a killed run left unconfirmed (in `Sending`) over a
    /// transport that is not idempotent (SMTP). The recipient may then get
    /// such a notice twice; without it, they are only reported.
    pub resend_unconfirmed: bool,
}

impl Default for DeliverOptions {
    fn default() -> DeliverOptions {
        DeliverOptions {
            retries: 3,
            backoff: Duration::from_secs(5),
            resend_unconfirmed: false,
        }
    }
}

/// What one [`deliver`] run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliverReport {
    /// Notices accepted by the transport in this run.
    pub sent: u64,
    /// Notices still refused for now after every retry (left for a later
    /// run).
    pub temp_failed: u64,
    /// Notices refused for good in this run.
    pub failed: u64,
    /// Notices in doubt (`Sending`), not resent: left so by a killed run
    /// (SMTP without `resend_unconfirmed`), or by this run's transport
    /// losing the answer ([`SendError::Unconfirmed`]).
    pub unconfirmed: u64,
}

/// Sends every journaled notice not sent yet, in id order, exactly once:
/// `Prepared` and `TempFailed` ones, and `Sending` ones left by a killed
/// run when the transport is idempotent or `resend_unconfirmed` is set
/// (otherwise they are counted as unconfirmed). `Failed` ones are never
/// resent. A send that ends [`SendError::Unconfirmed`] leaves its notice
/// `Sending` (counted as unconfirmed, not retried in this run).
/// `progress` is called once per notice considered, with its entry once
/// this run is done with it.
///
/// Runs under the journal's run lock: the one [`Journal::lock`] took, or
/// its own, taken (waiting for another run) and released here.
///
/// Errors are the journal's only: a transport failure is recorded on its
/// notice and the run goes on.
pub fn deliver(
    j: &mut Journal,
    t: &mut dyn Transport,
    o: &DeliverOptions,
    progress: &mut dyn FnMut(&Entry),
) -> Result<DeliverReport, JournalError> {
    let _run = j.run_guard()?;
    let resend = t.idempotent() || o.resend_unconfirmed;
    let via = t.name();
    let mut report = DeliverReport::default();
    for id in j.pending_ids()? {
        fault::point("notify-before-send");
        // The rate limit is waited for while the notice is still
        // Prepared (or TempFailed): a kill then leaves nothing in doubt.
        // Only for a notice that will be claimed (the run lock keeps its
        // state as read here).
        if let Some((state, to)) = j.peek(&id)?
            && (matches!(state, State::Prepared | State::TempFailed)
                || (state == State::Sending && resend))
        {
            t.ready(&to);
        }
        let (to, message) = match j.claim(&id, resend)? {
            journal::Claim::Taken { to, message } => (to, message),
            journal::Claim::Unconfirmed => {
                report.unconfirmed += 1;
                if let Some(e) = j.entry(&id)? {
                    progress(&e);
                }
                continue;
            }
            journal::Claim::Done => continue,
        };
        let mut attempt = 0u32;
        loop {
            if attempt > 0 {
                // Back in Sending only for the call itself: a kill during
                // the back-off or the rate-limit wait leaves it
                // TempFailed, not in doubt.
                t.ready(&to);
                j.mark_sending(&id)?;
            }
            fault::point("notify-sending-marked");
            match t.send(&id, &to, &message) {
                Ok(detail) => {
                    fault::point("notify-sent-unrecorded");
                    let via = if detail.is_empty() {
                        via.clone()
                    } else {
                        format!("{via}: {detail}")
                    };
                    j.mark_sent(&id, &via)?;
                    fault::point("notify-recorded");
                    report.sent += 1;
                    break;
                }
                Err(SendError::Permanent(e)) => {
                    j.mark_failed(&id, State::Failed, &e)?;
                    report.failed += 1;
                    break;
                }
                Err(SendError::Unconfirmed(e)) => {
                    // Perhaps delivered: not retried (a retry could be a
                    // second copy); left in doubt for a person, or for a
                    // later run told to resend.
                    j.mark_unconfirmed(&id, &e)?;
                    report.unconfirmed += 1;
                    break;
                }
                Err(SendError::Temporary(e)) => {
                    j.mark_failed(&id, State::TempFailed, &e)?;
                    if attempt >= o.retries {
                        report.temp_failed += 1;
                        break;
                    }
                    std::thread::sleep(backoff(o.backoff, attempt));
                    attempt += 1;
                }
            }
        }
        if let Some(e) = j.entry(&id)? {
            progress(&e);
        }
    }
    Ok(report)
}

/// The wait before retry `attempt + 1`: `first` doubled `attempt` times,
/// at most [`MAX_BACKOFF`].
fn backoff(first: Duration, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    first
        .checked_mul(factor)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

/// Seconds since 1970 now (0 before, which no clock here is).
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_stops_at_an_hour() {
        let s = Duration::from_secs(1);
        assert_eq!(backoff(s, 0), s);
        assert_eq!(backoff(s, 1), Duration::from_secs(2));
        assert_eq!(backoff(s, 3), Duration::from_secs(8));
        assert_eq!(backoff(s, 20), MAX_BACKOFF);
        assert_eq!(backoff(s, u32::MAX), MAX_BACKOFF);
        assert_eq!(backoff(Duration::MAX, 5), MAX_BACKOFF);
    }

    /// A transport that answers from a script per recipient (then yes),
    /// and records what it was given; with `watch`, the state of every
    /// notice to its recipient each time `ready` is called.
    #[derive(Default)]
    struct Scripted {
        script: std::collections::HashMap<String, Vec<Result<String, SendError>>>,
        sent: Vec<String>,
        idempotent: bool,
        watch: Option<Journal>,
        ready: Vec<(String, Vec<State>)>,
    }

    impl Transport for Scripted {
        fn name(&self) -> String {
            "scripted".into()
        }
        fn ready(&mut self, to: &str) {
            if let Some(j) = &self.watch {
                let states = j
                    .entries()
                    .unwrap()
                    .into_iter()
                    .filter(|e| e.to == to)
                    .map(|e| e.state)
                    .collect();
                self.ready.push((to.to_string(), states));
            }
        }
        fn send(&mut self, id: &str, to: &str, _message: &[u8]) -> Result<String, SendError> {
            let answer = match self.script.get_mut(to) {
                Some(s) if !s.is_empty() => s.remove(0),
                _ => Ok("250 ok".into()),
            };
            if answer.is_ok() {
                self.sent.push(id.to_string());
            }
            answer
        }
        fn idempotent(&self) -> bool {
            self.idempotent
        }
    }

    fn notice(id: &str, to: &str) -> PreparedNotice {
        PreparedNotice {
            id: id.into(),
            to: to.into(),
            period: "2026-12".into(),
            rule: "country DE".into(),
            rows: 1,
            events: 1,
            keys: vec![[id.len() as u8; 16]],
            subject: "s".into(),
            message: format!("Subject: {id}\r\n\r\nbody\r\n").into_bytes(),
            created: 1,
            intelmq: None,
        }
    }

    fn quick(retries: u32) -> DeliverOptions {
        DeliverOptions {
            retries,
            backoff: Duration::from_millis(1),
            resend_unconfirmed: false,
        }
    }

    fn state(j: &Journal, id: &str) -> Entry {
        j.entry(id).unwrap().unwrap()
    }

    #[test]
    fn each_notice_once_in_id_order_with_progress() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        for id in ["c3", "a1", "b2"] {
            j.prepare(&notice(id, "x@example.net")).unwrap();
        }
        let mut t = Scripted::default();
        let mut seen = Vec::new();
        let r = deliver(&mut j, &mut t, &quick(0), &mut |e| {
            seen.push((e.id.clone(), e.state))
        })
        .unwrap();
        assert_eq!(
            r,
            DeliverReport {
                sent: 3,
                ..DeliverReport::default()
            }
        );
        assert_eq!(t.sent, ["a1", "b2", "c3"]);
        assert_eq!(seen[0], ("a1".to_string(), State::Sent));
        assert_eq!(seen.len(), 3);
        let e = state(&j, "b2");
        assert_eq!(
            (e.attempts, e.via.as_deref()),
            (1, Some("scripted: 250 ok"))
        );
        // A second run has nothing to do.
        let r = deliver(&mut j, &mut t, &quick(0), &mut |_| {}).unwrap();
        assert_eq!(r, DeliverReport::default());
        assert_eq!(t.sent.len(), 3);
    }

    #[test]
    fn temporary_failures_are_retried_then_left_for_later() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        j.prepare(&notice("a", "busy@example.net")).unwrap();
        j.prepare(&notice("b", "down@example.net")).unwrap();
        let temp = || Err(SendError::Temporary("451 4.3.0 try later".into()));
        let mut t = Scripted::default();
        t.script
            .insert("busy@example.net".into(), vec![temp(), temp()]);
        t.script
            .insert("down@example.net".into(), vec![temp(), temp(), temp()]);
        let r = deliver(&mut j, &mut t, &quick(2), &mut |_| {}).unwrap();
        assert_eq!((r.sent, r.temp_failed), (1, 1));
        let a = state(&j, "a");
        assert_eq!((a.state, a.attempts), (State::Sent, 3));
        assert_eq!(a.last_error.as_deref(), Some("451 4.3.0 try later"));
        let b = state(&j, "b");
        assert_eq!((b.state, b.attempts), (State::TempFailed, 3));
        // The next run retries it (the script is exhausted: accepted).
        let r = deliver(&mut j, &mut t, &quick(0), &mut |_| {}).unwrap();
        assert_eq!(r.sent, 1);
        assert_eq!(state(&j, "b").state, State::Sent);
        assert_eq!(t.sent, ["a", "b"]);
    }

    #[test]
    fn permanent_failures_are_kept_and_never_resent() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        j.prepare(&notice("a", "gone@example.net")).unwrap();
        let mut t = Scripted::default();
        t.script.insert(
            "gone@example.net".into(),
            vec![Err(SendError::Permanent("550 5.1.1 no such user".into()))],
        );
        let r = deliver(&mut j, &mut t, &quick(3), &mut |_| {}).unwrap();
        assert_eq!(
            r,
            DeliverReport {
                failed: 1,
                ..DeliverReport::default()
            }
        );
        let o = DeliverOptions {
            resend_unconfirmed: true,
            ..quick(3)
        };
        let r = deliver(&mut j, &mut t, &o, &mut |_| {}).unwrap();
        assert_eq!(r, DeliverReport::default());
        assert!(t.sent.is_empty());
        let e = state(&j, "a");
        assert_eq!((e.state, e.attempts), (State::Failed, 1));
        assert_eq!(e.last_error.as_deref(), Some("550 5.1.1 no such user"));
    }

    /// A kill after the journal said Sending (before or after the
    /// transport took it: the journal cannot tell) leaves the notice
    /// unconfirmed.
    #[test]
    fn a_notice_in_doubt_after_a_kill() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        j.prepare(&notice("a", "x@example.net")).unwrap();
        j.prepare(&notice("b", "x@example.net")).unwrap();
        let _lock = j.lock_run().unwrap();
        assert!(matches!(
            j.claim("a", false).unwrap(),
            journal::Claim::Taken { .. }
        ));
        drop(_lock);
        drop(j); // the kill

        // SMTP: not resent, reported, still in doubt.
        let mut j = Journal::open(&path).unwrap();
        let mut smtp = Scripted::default();
        let mut seen = Vec::new();
        let r = deliver(&mut j, &mut smtp, &quick(0), &mut |e| {
            seen.push((e.id.clone(), e.state))
        })
        .unwrap();
        assert_eq!((r.sent, r.unconfirmed), (1, 1));
        assert_eq!(smtp.sent, ["b"]);
        assert_eq!(seen[0], ("a".to_string(), State::Sending));
        assert_eq!(state(&j, "a").state, State::Sending);
        // Asked to: resent once.
        let o = DeliverOptions {
            resend_unconfirmed: true,
            ..quick(0)
        };
        let r = deliver(&mut j, &mut smtp, &o, &mut |_| {}).unwrap();
        assert_eq!((r.sent, r.unconfirmed), (1, 0));
        assert_eq!(smtp.sent, ["b", "a"]);
        assert_eq!(state(&j, "a").attempts, 2);

        // The outbox (idempotent): simply redone.
        let path = dir.path().join("k");
        let mut j = Journal::open(&path).unwrap();
        j.prepare(&notice("a", "x@example.net")).unwrap();
        j.claim("a", false).unwrap();
        drop(j);
        let mut j = Journal::open(&path).unwrap();
        let mut outbox = Scripted {
            idempotent: true,
            ..Scripted::default()
        };
        let r = deliver(&mut j, &mut outbox, &quick(0), &mut |_| {}).unwrap();
        assert_eq!((r.sent, r.unconfirmed), (1, 0));
        assert_eq!(state(&j, "a").state, State::Sent);
    }

    #[test]
    fn a_kill_after_recording_sent_resends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        j.prepare(&notice("a", "x@example.net")).unwrap();
        j.claim("a", false).unwrap();
        j.mark_sent("a", "scripted").unwrap();
        drop(j);
        let mut j = Journal::open(&path).unwrap();
        let mut t = Scripted::default();
        let o = DeliverOptions {
            resend_unconfirmed: true,
            ..quick(0)
        };
        assert_eq!(
            deliver(&mut j, &mut t, &o, &mut |_| {}).unwrap(),
            DeliverReport::default()
        );
        assert!(t.sent.is_empty());
    }

    /// The rate-limit wait happens while the notice is still Prepared (or
    /// TempFailed, before a retry): a kill there leaves nothing in doubt.
    #[test]
    fn transports_wait_before_the_notice_is_marked_sending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        j.prepare(&notice("a", "a@example.net")).unwrap();
        j.prepare(&notice("b", "b@example.net")).unwrap();
        let mut t = Scripted {
            watch: Some(Journal::open(&path).unwrap()),
            ..Scripted::default()
        };
        t.script.insert(
            "b@example.net".into(),
            vec![Err(SendError::Temporary("451 later".into()))],
        );
        let r = deliver(&mut j, &mut t, &quick(1), &mut |_| {}).unwrap();
        assert_eq!(r.sent, 2);
        assert_eq!(
            t.ready,
            [
                ("a@example.net".to_string(), vec![State::Prepared]),
                ("b@example.net".to_string(), vec![State::Prepared]),
                ("b@example.net".to_string(), vec![State::TempFailed]),
            ]
        );
        // Not called for what will not be sent.
        t.ready.clear();
        deliver(&mut j, &mut t, &quick(1), &mut |_| {}).unwrap();
        assert!(t.ready.is_empty());
    }

    /// A send that lost its answer stays Sending: reported, not retried
    /// (retries left notwithstanding), not resent by a later run unless
    /// asked.
    #[test]
    fn an_unconfirmed_send_is_left_in_doubt() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        j.prepare(&notice("a", "slow@example.net")).unwrap();
        j.prepare(&notice("b", "x@example.net")).unwrap();
        let mut t = Scripted::default();
        t.script.insert(
            "slow@example.net".into(),
            vec![Err(SendError::Unconfirmed(
                "no reply to the final dot".into(),
            ))],
        );
        let mut seen = Vec::new();
        let r = deliver(&mut j, &mut t, &quick(3), &mut |e| {
            seen.push((e.id.clone(), e.state))
        })
        .unwrap();
        assert_eq!((r.sent, r.unconfirmed, r.temp_failed), (1, 1, 0));
        assert_eq!(seen[0], ("a".to_string(), State::Sending));
        let e = state(&j, "a");
        assert_eq!((e.state, e.attempts), (State::Sending, 1));
        assert_eq!(e.last_error.as_deref(), Some("no reply to the final dot"));
        assert_eq!(t.sent, ["b"]);
        let r = deliver(&mut j, &mut t, &quick(3), &mut |_| {}).unwrap();
        assert_eq!((r.sent, r.unconfirmed), (0, 1));
        let o = DeliverOptions {
            resend_unconfirmed: true,
            ..quick(0)
        };
        let r = deliver(&mut j, &mut t, &o, &mut |_| {}).unwrap();
        assert_eq!((r.sent, r.unconfirmed), (1, 0));
        assert_eq!(t.sent, ["b", "a"]);
        assert_eq!(state(&j, "a").attempts, 2);
    }

    /// Requeued failed notices are sent again by the next run.
    #[test]
    fn requeued_notices_are_sent_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        j.prepare(&notice("a", "gone@example.net")).unwrap();
        let mut t = Scripted::default();
        t.script.insert(
            "gone@example.net".into(),
            vec![Err(SendError::Permanent("550 no such user".into()))],
        );
        assert_eq!(
            deliver(&mut j, &mut t, &quick(0), &mut |_| {})
                .unwrap()
                .failed,
            1
        );
        assert_eq!(j.requeue(&[State::Failed], &[]).unwrap(), 1);
        let r = deliver(&mut j, &mut t, &quick(0), &mut |_| {}).unwrap();
        assert_eq!(r.sent, 1);
        let e = state(&j, "a");
        assert_eq!((e.state, e.attempts), (State::Sent, 2));
        assert_eq!(t.sent, ["a"]);
    }

    #[test]
    fn states_round_trip_their_names() {
        for s in [
            State::Prepared,
            State::Sending,
            State::Sent,
            State::TempFailed,
            State::Failed,
        ] {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        assert!("SENT".parse::<State>().is_err());
    }
}
