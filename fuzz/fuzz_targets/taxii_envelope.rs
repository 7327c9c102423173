//! A TAXII envelope POSTed by a partner to `takedown serve`: parsed into
//! objects to add and failures to report, or refused whole, never a
//! panic; every object accepted has a `type--uuid` id of its own type.
#![no_main]
use libfuzzer_sys::fuzz_target;
use takedown_serve::taxii::routes::parse_envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok((objects, _failures)) = parse_envelope(data) {
        for o in objects {
            let (ty, uuid) = o.id.split_once("--").expect("checked id");
            assert_eq!(ty, o.kind);
            assert_eq!(uuid.len(), 36);
        }
    }
});
