//! `--file-list` parser: any bytes give paths without NUL-free assumptions
//! broken, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use takedown_engine::run::{Target, read_file_list};

fuzz_target!(|data: &[u8]| {
    let targets = read_file_list(&mut &data[..]).expect("reading from memory cannot fail");
    for t in targets {
        match t {
            Target::Path(p) => assert!(!p.as_os_str().is_empty()),
            Target::Stdin => panic!("a file list never yields stdin"),
        }
    }
});
