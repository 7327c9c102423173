//! A sealed package (tar) as `takedown evidence verify PACKAGE` reads it:
//! streamed into its contents, then every check run over them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_evidence::contents::BagContents;

fuzz_target!(|data: &[u8]| {
    if let Ok(contents) = BagContents::from_archive(data) {
        let _ = takedown_evidence::verify::verify(&contents, None);
    }
});
