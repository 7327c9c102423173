//! Hostile log lines in every text format the hunt reads: each line is
//! parsed as the chosen format and as whatever format claims it (the
//! hunt's fallback for logs that change format), `#` lines go to a Zeek
//! header first, as the hunt's reader does. Bad lines are fine, a panic
//! is not, and an event's strings must be what the line held (no
//! out-of-bounds slicing shows up as garbage).
//!
//! The first byte chooses the format (by index into `Format::ALL`, the
//! captures excluded); the rest are lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_netlog::event::{Event, Format, LineCtx, Outcome, parse_line};
use takedown_netlog::{detect, zeek};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text: Vec<Format> = Format::ALL
        .into_iter()
        .filter(|f| !f.is_capture())
        .collect();
    let format = text[sel as usize % text.len()];
    let mut header = zeek::Header::default();
    let mut ctx = LineCtx::new(2016);
    let mut ev = Event::default();
    for line in rest.split(|&b| b == b'\n') {
        if line.first() == Some(&b'#') && matches!(header.apply(line), Outcome::Ignored(_)) {
            ctx.zeek = header.ready().then(|| std::sync::Arc::new(header.clone()));
            continue;
        }
        let _ = parse_line(format, &ctx, line, &mut ev);
        if let Some(f) = detect::line(line)
            && !f.is_capture()
        {
            let _ = parse_line(f, &ctx, line, &mut ev);
        }
    }
    let _ = detect::detect(rest);
});
