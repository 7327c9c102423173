//! Scans files with ClamAV databases and prints what `clamscan --allmatch
//! --no-summary` prints (`PATH: NAME FOUND`, sorted), for comparing the
//! two by hand:
//!
//! ```sh
//! cargo run -p takedown-clamav --example scan -- sigs.ndb sigs.ldb -- file...
//! ```

use takedown_clamav::{Database, Kind, ScanInput};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let (dbs, files) = (&args[..split], args.get(split + 1..).unwrap_or(&[]));
    let mut db = Database::new();
    for path in dbs {
        let Some(kind) = Kind::from_name(path) else {
            eprintln!("{path}: not a database this crate loads");
            continue;
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let r = db.load(path, kind, &bytes);
                for i in &r.issues {
                    eprintln!("{path}:{}: {}", i.line, i.reason);
                }
                if let Some(e) = r.error {
                    eprintln!("{path}: {e}");
                }
            }
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
    let sigs = db.finish();
    let mut lines = Vec::new();
    for f in files {
        match std::fs::read(f) {
            Ok(data) => {
                for m in sigs
                    .scan(&ScanInput {
                        data: &data,
                        target: None,
                    })
                    .matches
                {
                    lines.push(format!("{f}: {} FOUND", m.name));
                }
            }
            Err(e) => eprintln!("{f}: {e}"),
        }
    }
    lines.sort();
    for l in lines {
        println!("{l}");
    }
}
