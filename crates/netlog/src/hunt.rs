//! The hunt: inputs read, split into events, matched and aggregated, in
//! parallel and in bounded memory.
//!
//! Text logs are read by the calling thread in chunks of whole lines
//! (about 1 MiB) and handed to worker threads through a bounded queue;
//! each worker parses its lines ([`crate::event::parse_line`]), matches
//! the events ([`Matcher`]) and keeps its own sightings, flux and suspect
//! tables and counts, merged at the end. Nothing in the results depends
//! on which worker read which chunk: the aggregations are
//! order-independent and keep the earliest positions as samples.
//!
//! State that lines share travels with the chunks: the Zeek TSV header
//! in effect (the reader gives every line that begins with `#` to a
//! [`zeek::Header`] and cuts the chunk there when it was a directive)
//! and the format the reader detected. A line the current format cannot
//! read is asked of every format ([`detect::line`]), so that a log that
//! changes format half-way (a concatenation, a reconfigured logger) is
//! followed; a line no format reads is counted with its reason.
//!
//! Captures are read packet by packet on the calling thread.

use crate::event::{Event, Format, LineCtx, Outcome, parse_line};
use crate::flux::{Flux, FluxOptions};
use crate::input::{self, FollowOptions, Opened};
use crate::matcher::{Field, Hit, Matcher};
use crate::sighting::{Limits, Position, Sightings};
use crate::suspect::{SuspectOptions, Suspects};
use crate::{detect, pcap, zeek};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// Bytes read per chunk handed to a worker.
const CHUNK: usize = 1 << 20;

/// Default longest line: longer lines are counted and skipped (a DNS
/// log line is under 2 KiB; a proxy line with a long URL under 64 KiB).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// Examples kept per kind of bad line (file and line of the first ones).
pub const EXAMPLES: usize = 10;

/// One input of the hunt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A file (plain or compressed, a log or a capture).
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// Its name in reports.
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "-".into(),
        }
    }
}

/// Called for each new sighting (its first event), with the event's
/// position, the event and the hit.
pub type OnNew = Arc<dyn Fn(Position, &Event, &Hit) + Send + Sync>;

/// How to hunt.
#[derive(Clone)]
pub struct Options {
    /// Worker threads for text logs (at least 1).
    pub threads: usize,
    /// The format of every input, when the user names it; else each is
    /// recognised by content.
    pub format: Option<Format>,
    /// Longest line read; longer ones are counted and skipped.
    pub max_line: usize,
    /// Fast-flux features, when asked for.
    pub flux: Option<FluxOptions>,
    /// DGA-looking names, when asked for.
    pub suspects: bool,
    /// Follow growing logs (plain files), until `stop` is set.
    pub follow: Option<FollowOptions>,
    /// Set to end the hunt early (Ctrl-C): inputs not yet read are not
    /// read, and the report says it was interrupted.
    pub stop: Arc<AtomicBool>,
    /// Told of each new sighting as it appears (`--follow` announces
    /// them). With more than one worker, two workers may each see a
    /// sighting first: give one thread when that matters.
    pub on_new: Option<OnNew>,
    /// Bounds of each worker's sightings (each worker keeps its own
    /// table until the merge).
    pub sighting_limits: Limits,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("threads", &self.threads)
            .field("format", &self.format)
            .field("max_line", &self.max_line)
            .field("suspects", &self.suspects)
            .field("follow", &self.follow.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            format: None,
            max_line: DEFAULT_MAX_LINE,
            flux: None,
            suspects: false,
            follow: None,
            stop: Arc::new(AtomicBool::new(false)),
            on_new: None,
            sighting_limits: Limits::default(),
        }
    }
}

/// A line or packet that could not be read, as an example of its kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Example {
    /// Index of the input.
    #[serde(skip)]
    pub source: u32,
    /// Its name.
    pub file: String,
    /// Line (or packet) number.
    pub line: u64,
}

/// A kind of line that was not used, with its count and first examples.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// The format it was read as (`unrecognised` when none).
    pub format: &'static str,
    /// Why.
    pub reason: &'static str,
    /// How many.
    pub count: u64,
    /// The first ones, in input order.
    pub examples: Vec<Example>,
}

/// What one input gave.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InputStats {
    /// Its name.
    pub name: String,
    /// The formats its lines were read as.
    pub formats: Vec<&'static str>,
    /// Its compression.
    pub compression: &'static str,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Lines (or packets) read.
    pub lines: u64,
    /// Events.
    pub events: u64,
    /// Lines not used, by design (headers, other record types).
    pub ignored: u64,
    /// Lines or packets that could not be read.
    pub bad: u64,
    /// Why the input could not be read at all, or stopped early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts of the whole hunt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Per input, in the order given.
    pub inputs: Vec<InputStats>,
    /// Events per format.
    pub events_by_format: BTreeMap<&'static str, u64>,
    /// Lines not used by design, by format and reason.
    pub ignored: Vec<Tally>,
    /// Lines or packets that could not be read, by format and reason.
    pub bad: Vec<Tally>,
    /// Events matched by at least one indicator.
    pub matched_events: u64,
    /// Lines that changed the format a log was read as.
    pub format_changes: u64,
}

impl Stats {
    /// Events read.
    pub fn events(&self) -> u64 {
        self.inputs.iter().map(|i| i.events).sum()
    }

    /// Lines or packets read.
    pub fn lines(&self) -> u64 {
        self.inputs.iter().map(|i| i.lines).sum()
    }

    /// Lines or packets that could not be read.
    pub fn bad(&self) -> u64 {
        self.bad.iter().map(|t| t.count).sum()
    }

    /// Inputs that could not be read at all or stopped early.
    pub fn failed_inputs(&self) -> usize {
        self.inputs.iter().filter(|i| i.error.is_some()).count()
    }
}

/// The result of a hunt.
pub struct Report {
    /// The inputs' names (what [`Position::source`] indexes).
    pub sources: Vec<String>,
    /// The sightings.
    pub sightings: Sightings,
    /// Flux features, when asked for.
    pub flux: Option<Flux>,
    /// DGA-looking names, when asked for.
    pub suspects: Option<Suspects>,
    /// Counts.
    pub stats: Stats,
    /// True when the hunt was stopped before its inputs ended.
    pub interrupted: bool,
}

/// Tallies by (format, reason), with the earliest examples.
#[derive(Default)]
pub(crate) struct Tallies(pub(crate) Vec<Tally>);

impl Tallies {
    pub(crate) fn add(
        &mut self,
        format: &'static str,
        reason: &'static str,
        source: u32,
        line: u64,
    ) {
        let t = match self
            .0
            .iter_mut()
            .position(|t| t.reason == reason && t.format == format)
        {
            Some(i) => &mut self.0[i],
            None => {
                self.0.push(Tally {
                    format,
                    reason,
                    count: 0,
                    examples: Vec::new(),
                });
                self.0.last_mut().unwrap_or_else(|| unreachable!())
            }
        };
        t.count += 1;
        keep_earliest(
            &mut t.examples,
            Example {
                source,
                file: String::new(),
                line,
            },
        );
    }

    fn merge(&mut self, other: Tallies) {
        for o in other.0 {
            match self
                .0
                .iter_mut()
                .find(|t| t.reason == o.reason && t.format == o.format)
            {
                Some(t) => {
                    t.count += o.count;
                    for e in o.examples {
                        keep_earliest(&mut t.examples, e);
                    }
                }
                None => self.0.push(o),
            }
        }
    }

    fn finish(mut self, sources: &[String]) -> Vec<Tally> {
        self.0
            .sort_by(|a, b| (a.format, a.reason).cmp(&(b.format, b.reason)));
        for t in &mut self.0 {
            for e in &mut t.examples {
                e.file = sources.get(e.source as usize).cloned().unwrap_or_default();
            }
        }
        self.0
    }
}

fn keep_earliest(v: &mut Vec<Example>, e: Example) {
    if v.len() < EXAMPLES {
        v.push(e);
        v.sort();
    } else if v
        .last()
        .is_some_and(|l| (e.source, e.line) < (l.source, l.line))
    {
        v.pop();
        v.push(e);
        v.sort();
    }
}

/// Per-input counts a worker keeps.
#[derive(Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) lines: u64,
    pub(crate) events: u64,
    pub(crate) ignored: u64,
    pub(crate) bad: u64,
    /// Bit set of the formats used (by [`Format::ALL`] index).
    pub(crate) formats: u32,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.lines += o.lines;
        self.events += o.events;
        self.ignored += o.ignored;
        self.bad += o.bad;
        self.formats |= o.formats;
    }
}

fn format_bit(f: Format) -> u32 {
    1 << Format::ALL.iter().position(|&x| x == f).unwrap_or(0)
}

/// What one thread accumulates.
pub(crate) struct Worker<'m> {
    matcher: &'m Matcher,
    pub(crate) sightings: Sightings,
    flux: Option<Flux>,
    suspects: Option<Suspects>,
    pub(crate) ignored: Tallies,
    pub(crate) bad: Tallies,
    pub(crate) counts: BTreeMap<u32, Counts>,
    pub(crate) events_by_format: [u64; Format::ALL.len()],
    pub(crate) matched_events: u64,
    pub(crate) format_changes: u64,
    ev: Event,
    hits: Vec<Hit>,
    on_new: Option<OnNew>,
    max_line: usize,
    reply_lines: u64,
}

impl<'m> Worker<'m> {
    /// A worker whose sightings count distinct values under `key`
    /// (shared log hunting: partial states merged across machines).
    pub(crate) fn new_keyed(
        matcher: &'m Matcher,
        opts: &Options,
        key: Option<(u64, u64)>,
    ) -> Worker<'m> {
        let mut w = Worker::new(matcher, opts);
        if let Some(k) = key {
            w.sightings = Sightings::with_limits_keyed(opts.sighting_limits, k);
        }
        w
    }

    fn new(matcher: &'m Matcher, opts: &Options) -> Worker<'m> {
        Worker {
            matcher,
            sightings: Sightings::with_limits(opts.sighting_limits),
            flux: opts
                .flux
                .map(|f| Flux::new(per_worker_flux(f, opts.threads))),
            suspects: opts
                .suspects
                .then(|| Suspects::new(per_worker_suspects(opts.threads))),
            ignored: Tallies::default(),
            bad: Tallies::default(),
            counts: BTreeMap::new(),
            events_by_format: [0; Format::ALL.len()],
            matched_events: 0,
            format_changes: 0,
            ev: Event::default(),
            hits: Vec::new(),
            on_new: opts.on_new.clone(),
            max_line: opts.max_line,
            reply_lines: 0,
        }
    }

    /// Takes the outcome of one line or packet at `pos`, read as `format`.
    fn outcome(&mut self, c: &mut Counts, format: Option<Format>, out: Outcome, pos: Position) {
        let fname = format.map_or("unrecognised", Format::as_str);
        match out {
            Outcome::Event if self.ev.reply => {
                c.ignored += 1;
                self.reply_lines += 1;
                self.ignored.add(
                    fname,
                    "reply line (the answers of a query line)",
                    pos.source,
                    pos.line,
                );
                self.event(pos);
            }
            Outcome::Event => {
                c.events += 1;
                if let Some(f) = format {
                    c.formats |= format_bit(f);
                    let i = Format::ALL.iter().position(|&x| x == f).unwrap_or(0);
                    self.events_by_format[i] += 1;
                }
                self.event(pos);
            }
            Outcome::Ignored(r) => {
                c.ignored += 1;
                self.ignored.add(fname, r, pos.source, pos.line);
            }
            Outcome::Bad(r) => {
                c.bad += 1;
                self.bad.add(fname, r, pos.source, pos.line);
            }
        }
    }

    /// Matches and aggregates the event in `self.ev`.
    fn event(&mut self, pos: Position) {
        self.hits.clear();
        self.matcher.match_event(&self.ev, &mut self.hits);
        if self.ev.reply {
            // Its name was matched with its query line: only what the
            // answers add counts.
            self.hits
                .retain(|h| matches!(h.field, Field::AnswerAddr | Field::AnswerName));
        }
        if !self.hits.is_empty() {
            self.matched_events += 1;
            for h in &self.hits {
                let before = self.sightings.len();
                self.sightings.add(self.matcher, &self.ev, pos, h);
                if let Some(f) = &self.on_new
                    && self.sightings.len() > before
                {
                    f(pos, &self.ev, h);
                }
            }
        }
        if let Some(f) = &mut self.flux {
            f.observe(&self.ev);
        }
        if let Some(s) = &mut self.suspects {
            s.observe(&self.ev);
        }
    }

    /// Reads the lines of one chunk.
    pub(crate) fn chunk(&mut self, ch: &Chunk) {
        let mut c = Counts::default();
        let mut format = ch.format;
        let mut line_no = ch.first_line;
        let mut rest: &[u8] = &ch.data;
        while !rest.is_empty() {
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let pos = Position {
                source: ch.source,
                line: line_no,
            };
            line_no += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            c.lines += 1;
            if ch.header_lines.binary_search(&pos.line).is_ok() {
                // A Zeek header the reader took.
                c.ignored += 1;
                self.ignored.add(
                    Format::ZeekTsv.as_str(),
                    "Zeek header",
                    pos.source,
                    pos.line,
                );
                continue;
            }
            if line.len() > self.max_line {
                self.outcome(
                    &mut c,
                    format,
                    Outcome::Bad("line longer than the limit (--max-line)"),
                    pos,
                );
                continue;
            }
            let mut out = match format {
                Some(f) => parse_line(f, &ch.ctx, line, &mut self.ev),
                None => Outcome::Bad("not a recognised log line"),
            };
            if out != Outcome::Event && ch.forced.is_none() {
                // A log that changes format: the line may be another
                // format's (readers call foreign lines bad or, when they
                // look like something of theirs, ignored). Ask the
                // chunk's own format first (the log switched back), then
                // the format that claims the line; keep the first that
                // makes an event, or that at least reads it.
                let mut tried = format;
                for cand in [ch.format, detect::line(line)] {
                    let Some(f2) = cand else { continue };
                    if Some(f2) == tried || Some(f2) == format {
                        continue;
                    }
                    tried = Some(f2);
                    let out2 = parse_line(f2, &ch.ctx, line, &mut self.ev);
                    let better = out2 == Outcome::Event
                        || (matches!(out, Outcome::Bad(_)) && !matches!(out2, Outcome::Bad(_)));
                    if better {
                        format = Some(f2);
                        self.format_changes += 1;
                        out = out2;
                        if out == Outcome::Event {
                            break;
                        }
                    }
                }
            }
            self.outcome(&mut c, format, out, pos);
        }
        self.counts.entry(ch.source).or_default().add(&c);
    }

    pub(crate) fn merge(&mut self, o: Worker<'m>) {
        self.sightings.merge(o.sightings);
        if let (Some(a), Some(b)) = (&mut self.flux, o.flux) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.suspects, o.suspects) {
            a.merge(b);
        }
        self.ignored.merge(o.ignored);
        self.bad.merge(o.bad);
        for (k, v) in o.counts {
            self.counts.entry(k).or_default().add(&v);
        }
        for (a, b) in self.events_by_format.iter_mut().zip(o.events_by_format) {
            *a += b;
        }
        self.matched_events += o.matched_events;
        self.format_changes += o.format_changes;
    }
}

/// Whole lines of one input, for a worker.
pub(crate) struct Chunk {
    pub(crate) source: u32,
    pub(crate) first_line: u64,
    pub(crate) format: Option<Format>,
    pub(crate) forced: Option<Format>,
    pub(crate) ctx: LineCtx,
    /// Line numbers (sorted) of the Zeek header lines the reader took.
    pub(crate) header_lines: Vec<u64>,
    /// The Zeek header directives whose replay gives `ctx.zeek` (shared
    /// log hunting sends these, not the parsed header); None when they
    /// were too many to send.
    pub(crate) zeek_src: Option<Arc<Vec<Vec<u8>>>>,
    /// Where `data` starts in the input's file, when its bytes are the
    /// file's own (a plain file, neither compressed nor standard input
    /// nor followed): shared hunting may then send the range instead of
    /// the bytes.
    pub(crate) offset: Option<u64>,
    pub(crate) data: Vec<u8>,
}

impl Chunk {
    /// Everything but its lines.
    pub(crate) fn clone_meta(&self) -> Chunk {
        Chunk {
            source: self.source,
            first_line: self.first_line,
            format: self.format,
            forced: self.forced,
            ctx: self.ctx.clone(),
            header_lines: self.header_lines.clone(),
            zeek_src: self.zeek_src.clone(),
            offset: self.offset,
            data: Vec::new(),
        }
    }
}

/// Runs the hunt over `inputs`.
pub fn run(inputs: &[Input], matcher: &Matcher, opts: &Options) -> Report {
    let read = read_all(inputs, matcher, opts, None, None);
    finish(read)
}

/// Where chunks go instead of the worker threads: called on one thread
/// for every chunk, with that thread's own worker (for what it keeps).
pub(crate) type Forward<'f, 'm> = &'f mut (dyn FnMut(Chunk, &mut Worker<'m>) + Send);

/// The hunt read to its end, before its counts are summed up.
pub(crate) struct ReadAll<'m> {
    pub(crate) main: Worker<'m>,
    pub(crate) sources: Vec<String>,
    pub(crate) input_stats: Vec<InputStats>,
    pub(crate) interrupted: bool,
}

/// Reads every input: text chunks to the worker threads (or to
/// `forward`), captures on this thread.
pub(crate) fn read_all<'m>(
    inputs: &[Input],
    matcher: &'m Matcher,
    opts: &Options,
    key: Option<(u64, u64)>,
    mut forward: Option<Forward<'_, 'm>>,
) -> ReadAll<'m> {
    let sources: Vec<String> = inputs.iter().map(Input::name).collect();
    let threads = if forward.is_some() {
        1
    } else {
        opts.threads.max(1)
    };
    let (tx, rx) = sync_channel::<Chunk>(threads * 2);
    let rx = Arc::new(Mutex::new(rx));
    let mut main = Worker::new_keyed(matcher, opts, key);
    // The workers hold the only references to the receiver: should they
    // all die, the queue closes and the reader stops instead of waiting
    // on a full queue forever.
    let worker_rx: Vec<_> = (0..threads).map(|_| Arc::clone(&rx)).collect();
    drop(rx);
    let mut input_stats: Vec<InputStats> = Vec::new();
    let mut interrupted = false;
    std::thread::scope(|s| {
        let handles: Vec<_> = match forward.take() {
            // One thread hands the chunks on (`threads` is 1).
            Some(f) => {
                let rx = worker_rx.into_iter().next();
                vec![s.spawn(move || {
                    let mut w = Worker::new_keyed(matcher, opts, key);
                    while let Some(Ok(ch)) = rx.as_ref().map(|rx| match rx.lock() {
                        Ok(r) => r.recv().map_err(|_| ()),
                        Err(_) => Err(()),
                    }) {
                        f(ch, &mut w);
                    }
                    w
                })]
            }
            None => worker_rx
                .into_iter()
                .map(|rx| s.spawn(move || work(matcher, opts, &rx)))
                .collect(),
        };
        if opts.follow.is_some() && inputs.len() > 1 {
            // Growing logs are read side by side: one reader each.
            let readers: Vec<_> = inputs
                .iter()
                .enumerate()
                .map(|(i, input)| {
                    let tx = tx.clone();
                    s.spawn(move || {
                        let mut w = Worker::new(matcher, opts);
                        let st = read_input(i as u32, input, opts, &tx, &mut w);
                        (st, w)
                    })
                })
                .collect();
            for r in readers {
                match r.join() {
                    Ok((st, w)) => {
                        input_stats.push(st);
                        main.merge(w);
                    }
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
        } else {
            for (i, input) in inputs.iter().enumerate() {
                if opts.stop.load(Ordering::Relaxed) && opts.follow.is_none() {
                    interrupted = true;
                    break;
                }
                let st = read_input(i as u32, input, opts, &tx, &mut main);
                input_stats.push(st);
            }
        }
        drop(tx);
        for h in handles {
            match h.join() {
                Ok(w) => main.merge(w),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
    });
    if opts.stop.load(Ordering::Relaxed) && opts.follow.is_none() {
        interrupted = true;
    }
    ReadAll {
        main,
        sources,
        input_stats,
        interrupted,
    }
}

/// Sums up a hunt read to its end.
pub(crate) fn finish(read: ReadAll<'_>) -> Report {
    let ReadAll {
        mut main,
        sources,
        mut input_stats,
        interrupted,
    } = read;
    for (i, st) in input_stats.iter_mut().enumerate() {
        if let Some(c) = main.counts.get(&(i as u32)) {
            st.lines += c.lines;
            st.events += c.events;
            st.ignored += c.ignored;
            st.bad += c.bad;
            for f in Format::ALL {
                if c.formats & format_bit(f) != 0 && !st.formats.contains(&f.as_str()) {
                    st.formats.push(f.as_str());
                }
            }
        }
    }
    let events_by_format = Format::ALL
        .iter()
        .zip(main.events_by_format)
        .filter(|(_, n)| *n > 0)
        .map(|(f, n)| (f.as_str(), n))
        .collect();
    let stats = Stats {
        inputs: input_stats,
        events_by_format,
        ignored: std::mem::take(&mut main.ignored).finish(&sources),
        bad: std::mem::take(&mut main.bad).finish(&sources),
        matched_events: main.matched_events,
        format_changes: main.format_changes,
    };
    Report {
        sources,
        sightings: main.sightings,
        flux: main.flux,
        suspects: main.suspects,
        stats,
        interrupted,
    }
}

fn work<'m>(matcher: &'m Matcher, opts: &Options, rx: &Mutex<Receiver<Chunk>>) -> Worker<'m> {
    let mut w = Worker::new(matcher, opts);
    loop {
        let next = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => break,
        };
        match next {
            Ok(ch) => w.chunk(&ch),
            Err(_) => break,
        }
    }
    w
}

/// Opens and reads one input; text goes to the workers, captures are
/// read here.
fn read_input(
    source: u32,
    input: &Input,
    opts: &Options,
    tx: &SyncSender<Chunk>,
    main: &mut Worker<'_>,
) -> InputStats {
    let mut st = InputStats {
        name: input.name(),
        compression: "none",
        ..Default::default()
    };
    let opened = match (input, &opts.follow) {
        (Input::Stdin, _) => input::open_stdin(),
        (Input::Path(p), Some(f)) => input::follow(p, f.clone()),
        (Input::Path(p), None) => input::open(p),
    };
    let opened = match opened {
        Ok(o) => o,
        Err(e) => {
            st.error = Some(e.reason);
            return st;
        }
    };
    st.compression = opened.compression.as_str();
    let follow = opts.follow.is_some() && *input != Input::Stdin;
    let plain = opened.compression == input::Compression::None
        && matches!(input, Input::Path(_))
        && opts.follow.is_none();
    let Opened { reader, year, .. } = opened;
    let mut reader = CountingReader {
        inner: reader,
        bytes: 0,
    };
    let mut buf = Vec::with_capacity(CHUNK);
    // The head: enough to recognise the format. A read error (a
    // truncated or corrupt compressed file) still leaves what was read
    // before it to hunt in.
    let head_error = fill(&mut reader, &mut buf, CHUNK, follow, &opts.stop).err();
    if let Some(e) = &head_error
        && buf.is_empty()
    {
        st.error = Some(format!("cannot read: {e}"));
        st.bytes = reader.bytes;
        return st;
    }
    let format = opts.format.or_else(|| detect::detect(&buf));
    if let Some(f) = format.filter(|f| f.is_capture()) {
        st.formats.push(f.as_str());
        if let Some(e) = head_error {
            // Only what was read before the error: the decoder is not
            // asked again.
            read_capture(
                source,
                std::io::Cursor::new(std::mem::take(&mut buf)),
                opts,
                main,
                &mut st,
            );
            if st.error.is_none() {
                st.error = Some(format!("cannot read: {e}"));
            }
        } else {
            let chained = std::io::Cursor::new(std::mem::take(&mut buf)).chain(&mut reader);
            read_capture(source, chained, opts, main, &mut st);
        }
    } else {
        if format.is_none() && buf.is_empty() {
            st.bytes = reader.bytes;
            return st;
        }
        if let Err(e) = read_text(
            source,
            &mut reader,
            plain,
            buf,
            head_error,
            format,
            year,
            follow,
            opts,
            tx,
            main,
            &mut st,
        ) {
            st.error = Some(format!("cannot read: {e}"));
        }
    }
    st.bytes = reader.bytes;
    st
}

struct CountingReader<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Reads into `buf` until it holds `want` bytes or the input ends (or,
/// when following, until one read returned something).
fn fill(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    want: usize,
    follow: bool,
    stop: &AtomicBool,
) -> std::io::Result<bool> {
    let mut got_any = false;
    while buf.len() < want {
        let start = buf.len();
        buf.resize(want, 0);
        let n = loop {
            match r.read(&mut buf[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    if stop.load(Ordering::Relaxed) {
                        break 0;
                    }
                }
                Err(e) => {
                    buf.truncate(start);
                    return Err(e);
                }
            }
        };
        buf.truncate(start + n);
        if n == 0 {
            return Ok(false);
        }
        got_any = true;
        if follow {
            break;
        }
    }
    Ok(got_any)
}

#[allow(clippy::too_many_arguments)]
fn read_text(
    source: u32,
    reader: &mut CountingReader<impl Read>,
    plain: bool,
    mut buf: Vec<u8>,
    mut error: Option<std::io::Error>,
    format: Option<Format>,
    year: i32,
    follow: bool,
    opts: &Options,
    tx: &SyncSender<Chunk>,
    main: &mut Worker<'_>,
    st: &mut InputStats,
) -> std::io::Result<()> {
    let mut header = zeek::Header::default();
    let mut zeek_src = ZeekSrc::default();
    let mut ctx = LineCtx::new(year);
    let mut format = format;
    let mut line_no: u64 = 1;
    // Bytes of an overlong line still to skip (up to its newline).
    let mut skipping = false;
    let mut counts = Counts::default();
    let mut eof = error.is_some();
    loop {
        if skipping {
            match memchr::memchr(b'\n', &buf) {
                Some(i) => {
                    buf.drain(..=i);
                    skipping = false;
                }
                None => buf.clear(),
            }
        }
        // Whole lines of `buf`, up to its last newline (all of it at the
        // end of the input).
        let cut = if eof && error.is_none() {
            buf.len()
        } else {
            memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1)
        };
        if cut == 0 && !eof && !skipping && buf.len() >= opts.max_line {
            // A line longer than the limit: count it, skip to its end.
            counts.lines += 1;
            counts.bad += 1;
            main.bad.add(
                format.map_or("unrecognised", Format::as_str),
                "line longer than the limit (--max-line)",
                source,
                line_no,
            );
            line_no += 1;
            buf.clear();
            skipping = true;
        }
        if cut > 0 {
            // `buf` holds the last bytes read: its start is this far in.
            let offset = plain.then(|| reader.bytes.saturating_sub(buf.len() as u64));
            let rest = buf.split_off(cut);
            let data = std::mem::replace(&mut buf, rest);
            send_lines(
                source,
                data,
                offset,
                &mut line_no,
                &mut format,
                opts.format,
                &mut header,
                &mut zeek_src,
                &mut ctx,
                tx,
            );
        }
        if eof {
            if error.is_some() && !buf.is_empty() && !skipping {
                // The line the error cut: its end is unknown (a cut name
                // could even match a parent it does not belong to).
                counts.lines += 1;
                counts.bad += 1;
                main.bad.add(
                    format.map_or("unrecognised", Format::as_str),
                    "line cut short by a read error",
                    source,
                    line_no,
                );
            }
            break;
        }
        if opts.stop.load(Ordering::Relaxed) && !follow {
            break;
        }
        let want = buf.len() + CHUNK;
        match fill(reader, &mut buf, want, follow, &opts.stop) {
            Ok(true) => {}
            Ok(false) => eof = true,
            Err(e) => {
                error = Some(e);
                eof = true;
            }
        }
    }
    if let Some(f) = format
        && !st.formats.contains(&f.as_str())
    {
        st.formats.push(f.as_str());
    }
    st.lines += counts.lines;
    st.bad += counts.bad;
    match error {
        Some(e) => Err(std::io::Error::new(
            e.kind(),
            format!("{e} (after line {})", line_no.saturating_sub(1)),
        )),
        None => Ok(()),
    }
}

/// Sends whole lines to the workers, cutting the chunk after each Zeek
/// header line the reader takes (the lines after it are read with the
/// new header).
#[allow(clippy::too_many_arguments)]
fn send_lines(
    source: u32,
    data: Vec<u8>,
    offset: Option<u64>,
    line_no: &mut u64,
    format: &mut Option<Format>,
    forced: Option<Format>,
    header: &mut zeek::Header,
    zeek_src: &mut ZeekSrc,
    ctx: &mut LineCtx,
    tx: &SyncSender<Chunk>,
) {
    let first_line = *line_no;
    *line_no += count_lines(&data);
    let chunk = |first_line: u64,
                 format: Option<Format>,
                 ctx: &LineCtx,
                 zeek_src: &ZeekSrc,
                 header_lines,
                 start: usize,
                 data| Chunk {
        source,
        first_line,
        format,
        forced,
        ctx: ctx.clone(),
        header_lines,
        zeek_src: zeek_src.shared(),
        offset: offset.map(|o| o.saturating_add(start as u64)),
        data,
    };
    if forced.is_some_and(|f| f != Format::ZeekTsv) {
        let _ = tx.send(chunk(
            first_line,
            *format,
            ctx,
            zeek_src,
            Vec::new(),
            0,
            data,
        ));
        return;
    }
    // Line starts that begin with '#': offset 0 and after each "\n#".
    let mut starts: Vec<usize> = memchr::memmem::find_iter(&data, b"\n#")
        .map(|i| i + 1)
        .collect();
    if data.first() == Some(&b'#') {
        starts.insert(0, 0);
    }
    if starts.is_empty() {
        let _ = tx.send(chunk(
            first_line,
            *format,
            ctx,
            zeek_src,
            Vec::new(),
            0,
            data,
        ));
        return;
    }
    let mut piece_start = 0usize;
    let mut piece_line = first_line;
    let mut scanned = 0usize;
    let mut cur_line = first_line;
    let mut header_lines = Vec::new();
    for at in starts {
        if at < scanned {
            continue;
        }
        cur_line += memchr::memchr_iter(b'\n', &data[scanned..at]).count() as u64;
        scanned = at;
        let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i);
        let l = &data[at..end];
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let resets = header.ready() && l.starts_with(b"#separator");
        if !matches!(header.apply(l), Outcome::Ignored(_)) {
            continue;
        }
        header_lines.push(cur_line);
        let next = (end + 1).min(data.len());
        let piece = data[piece_start..next].to_vec();
        if tx
            .send(chunk(
                piece_line,
                *format,
                ctx,
                zeek_src,
                std::mem::take(&mut header_lines),
                piece_start,
                piece,
            ))
            .is_err()
        {
            return;
        }
        piece_start = next;
        piece_line = cur_line + 1;
        scanned = next;
        cur_line += 1;
        // After the piece that holds the directive was sent with the
        // context it was read in.
        zeek_src.push(resets, l);
        ctx.zeek = header.ready().then(|| Arc::new(header.clone()));
        if header.ready() && forced.is_none() {
            *format = Some(Format::ZeekTsv);
        }
    }
    if piece_start < data.len() {
        let piece = data[piece_start..].to_vec();
        let _ = tx.send(chunk(
            piece_line,
            *format,
            ctx,
            zeek_src,
            header_lines,
            piece_start,
            piece,
        ));
    }
}

/// Most Zeek header directives kept for shared hunting, and their bytes:
/// a real header has about ten; past these the chunks are read by the
/// publisher itself.
const ZEEK_SRC_LINES: usize = 256;
const ZEEK_SRC_BYTES: usize = 256 * 1024;

/// The Zeek header directives taken since the header last began anew (a
/// `#separator` after `#fields` resets it): replayed in this order on a
/// fresh [`zeek::Header`] they give the header in effect.
#[derive(Default)]
struct ZeekSrc {
    lines: Vec<Vec<u8>>,
    bytes: usize,
    overflow: bool,
}

impl ZeekSrc {
    fn push(&mut self, resets: bool, line: &[u8]) {
        if resets {
            *self = ZeekSrc::default();
        }
        self.bytes = self.bytes.saturating_add(line.len());
        if self.lines.len() >= ZEEK_SRC_LINES || self.bytes > ZEEK_SRC_BYTES {
            self.overflow = true;
            self.lines.clear();
        }
        if !self.overflow {
            self.lines.push(line.to_vec());
        }
    }

    /// For a chunk: a copy (a few short lines) or None past the bounds.
    fn shared(&self) -> Option<Arc<Vec<Vec<u8>>>> {
        (!self.overflow).then(|| Arc::new(self.lines.clone()))
    }
}

fn count_lines(piece: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', piece).count() as u64
        + u64::from(piece.last().is_some_and(|&b| b != b'\n'))
}

fn read_capture(
    source: u32,
    r: impl Read,
    opts: &Options,
    main: &mut Worker<'_>,
    st: &mut InputStats,
) {
    let mut cap = match pcap::Capture::new(r) {
        Ok(c) => c,
        Err(e) => {
            st.error = Some(e.reason);
            return;
        }
    };
    let format = cap.format();
    let mut c = Counts::default();
    let mut n: u64 = 0;
    loop {
        n += 1;
        if n.is_multiple_of(4096) && opts.stop.load(Ordering::Relaxed) && opts.follow.is_none() {
            break;
        }
        let mut ev = std::mem::take(&mut main.ev);
        let next = cap.next(&mut ev);
        main.ev = ev;
        match next {
            Ok(Some(out)) => {
                c.lines += 1;
                let pos = Position {
                    source,
                    line: cap.packet_number(),
                };
                main.outcome(&mut c, Some(format), out, pos);
            }
            Ok(None) => break,
            Err(e) => {
                st.error = Some(format!(
                    "stopped after packet {}: {}",
                    cap.packet_number(),
                    e.reason
                ));
                break;
            }
        }
    }
    main.counts.entry(source).or_default().add(&c);
}

/// Most names with answers the flux features follow, over all workers.
const FLUX_DOMAINS: usize = 1_000_000;
/// Most addresses kept per name: the flux-score is far past its threshold
/// long before (docs/hunt.md).
const FLUX_ADDRESSES: usize = 64;
/// Most registered domains the DGA suspicion follows, over all workers.
const SUSPECT_NAMES: usize = 1_000_000;

/// The flux bounds of one of `threads` workers: the totals split, so
/// that memory does not grow with the number of cores.
fn per_worker_flux(f: FluxOptions, threads: usize) -> FluxOptions {
    let t = threads.max(1);
    FluxOptions {
        max_domains: (f.max_domains.min(FLUX_DOMAINS) / t).max(1000),
        max_addresses: f.max_addresses.min(FLUX_ADDRESSES),
        ..f
    }
}

/// The suspect bounds of one of `threads` workers.
fn per_worker_suspects(threads: usize) -> SuspectOptions {
    let t = threads.max(1);
    let d = SuspectOptions::default();
    SuspectOptions {
        max_names: (d.max_names.min(SUSPECT_NAMES) / t).max(1000),
        max_cached: (d.max_cached.min(SUSPECT_NAMES) / t).max(1000),
        ..d
    }
}
