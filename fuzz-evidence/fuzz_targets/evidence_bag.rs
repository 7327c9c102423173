//! The tag files of a bag (manifests, bag-info, hashdeep list, custody
//! entries and signatures, item records), each built from the input, then
//! every check: the parsers of BagIt, hashdeep, SSHSIG and the custody
//! log meet hostile bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_evidence::Digests;
use takedown_evidence::contents::BagContents;

/// Tag files the input is spread over: its parts (split at 0xFF bytes)
/// go to these names in turn.
const NAMES: &[&str] = &[
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "manifest-md5.txt",
    "tagmanifest-sha256.txt",
    "hashdeep.txt",
    "custody/000001.json",
    "custody/000001.json.sig",
    "custody/000002.json",
    "custody/000002.json.sig",
    "custody/allowed_signers",
    "items/000002.jsonl",
    "timestamps/000002.tsr",
    "timestamps/000002.tagmanifest-sha256.txt",
    "timestamps/tsa-ca.pem",
];

fuzz_target!(|data: &[u8]| {
    let mut contents = BagContents::default();
    for (name, part) in NAMES.iter().zip(data.split(|&b| b == 0xFF)) {
        contents.tags.insert((*name).to_string(), part.to_vec());
    }
    contents.payload.insert(
        "data/000002/x".into(),
        Digests {
            size: 1,
            md5: "0cc175b9c0f1b6a831c399e269772661".into(),
            sha1: "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8".into(),
            sha256: "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb".into(),
        },
    );
    let _ = takedown_evidence::verify::verify(&contents, None);
    let _ = takedown_evidence::bagit::parse_hashdeep(data);
    let _ = takedown_evidence::bagit::parse_manifest("manifest-sha256.txt", "sha256", data);
    let _ = takedown_evidence::bagit::parse_tag_file("bag-info.txt", data);
});
