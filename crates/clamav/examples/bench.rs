//! Micro-benchmark, run by hand:
//!
//! ```sh
//! cargo run --release -p takedown-clamav --example bench -- [SIGS] [MB] [DIR]
//! ```
//!
//! Generates SIGS (default 100,000) random `.ndb` body signatures (most
//! plain hex, some with `??`, `{n-m}`, `*`, alternatives, fixed offsets,
//! nibbles), loads and compiles them, then scans MB (default 100) MiB of
//! random data with a few planted matches. Prints load time, peak RSS and
//! throughput. With DIR, also writes `DIR/bench.ndb` and `DIR/bench.bin`
//! so that the same run can be timed with `clamscan -d DIR/bench.ndb
//! DIR/bench.bin`. `BENCH_DATA=FILE` scans a real file instead of random
//! bytes (the planted matches are still written into it).

use std::time::Instant;
use takedown_clamav::{Database, Kind, ScanInput};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| format!("{:02x}", self.next() as u8))
            .collect()
    }
}

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let nsigs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mb: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let dir = args.get(3);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    let mut text = String::with_capacity(nsigs * 60);
    for i in 0..nsigs {
        let body = match rng.below(20) {
            0 => format!("{}??{}", rng.hex(6), rng.hex(6)),
            1 => format!("{}{{4-16}}{}", rng.hex(6), rng.hex(6)),
            2 => format!("{}*{}", rng.hex(8), rng.hex(4)),
            3 => format!(
                "{}({}|{}){}",
                rng.hex(5),
                rng.hex(1),
                rng.hex(1),
                rng.hex(5)
            ),
            4 => format!("{}{:x}?{}", rng.hex(6), rng.below(16), rng.hex(6)),
            _ => {
                let n = 8 + rng.below(25) as usize;
                rng.hex(n)
            }
        };
        let offset = if rng.below(10) == 0 {
            format!("{}", rng.below(4096))
        } else {
            "*".into()
        };
        text.push_str(&format!("Bench.Sig.{i}:0:{offset}:{body}\n"));
    }
    // Planted: three signatures whose bytes are written into the data.
    let planted: [&[u8]; 3] = [
        b"PLANTED-ONE-MARKER",
        b"PLANTED-TWO-MARKER",
        b"PLANTED-THREE-MARK",
    ];
    for (i, p) in planted.iter().enumerate() {
        text.push_str(&format!("Bench.Planted.{i}:0:*:{}\n", hex::encode(p)));
    }

    // BENCH_DATA=FILE scans (the first MB MiB of) a real file instead.
    let mut data = match std::env::var_os("BENCH_DATA") {
        Some(path) => {
            let mut d = std::fs::read(path).expect("read BENCH_DATA");
            d.truncate(mb << 20);
            d
        }
        None => vec![0u8; mb << 20],
    };
    if std::env::var_os("BENCH_DATA").is_none() {
        for chunk in data.chunks_mut(8) {
            let v = rng.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    for (i, p) in planted.iter().enumerate() {
        let at = (i + 1) * data.len() / 4;
        data[at..at + p.len()].copy_from_slice(p);
    }
    if let Some(dir) = dir {
        std::fs::write(format!("{dir}/bench.ndb"), &text).expect("write bench.ndb");
        std::fs::write(format!("{dir}/bench.bin"), &data).expect("write bench.bin");
    }
    let rss_before = peak_rss_mb();

    let t = Instant::now();
    let mut db = Database::new();
    let r = db.load("bench.ndb", Kind::Ndb, text.as_bytes());
    let parsed = t.elapsed();
    let rss_loaded = rss_mb();
    let sigs = db.finish();
    let load = t.elapsed();
    drop(text);
    let rss_after = rss_mb();
    println!(
        "signatures: {} loaded, {} malformed, {} unsupported; {:?}",
        r.loaded,
        r.malformed,
        r.unsupported,
        sigs.stats()
    );
    println!(
        "load: {:.2} s (parse {:.2} s, compile {:.2} s); peak RSS {:.0} MB, parsed {:.0} MB, once compiled {:.0} MB (data and text alone {:.0} MB)",
        load.as_secs_f64(),
        parsed.as_secs_f64(),
        (load - parsed).as_secs_f64(),
        peak_rss_mb(),
        rss_loaded,
        rss_after,
        rss_before
    );

    let t = Instant::now();
    let res = sigs.scan(&ScanInput {
        data: &data,
        target: None,
    });
    let secs = t.elapsed().as_secs_f64();
    let mut names: Vec<&str> = res.matches.iter().map(|m| m.name.as_str()).collect();
    names.sort();
    println!(
        "scan: {} MiB in {:.2} s = {:.0} MiB/s; {} matches ({}), {} limits hit; peak RSS {:.0} MB",
        mb,
        secs,
        mb as f64 / secs,
        res.matches.len(),
        names.join(", "),
        res.limits_hit,
        peak_rss_mb()
    );
}
