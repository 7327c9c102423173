//! The built-in pack: signatures compiled into the binary so that
//! `takedown scan PATH` is useful with no set-up, and so that every
//! installation can prove end to end that it detects (the EICAR and ClamAV
//! test files exist for exactly that).

/// YARA rules of the built-in pack.
pub const YARA: &str = r#"
rule EICAR_Test_File
{
    meta:
        description = "EICAR anti-malware test file (harmless)"
        reference = "https://www.eicar.org/download-anti-malware-testfile/"
        score = 100
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        // The test file may be followed by whitespace only, up to 128 bytes.
        $eicar at 0 and filesize <= 128
}
"#;

/// Hash IOCs of the built-in pack, in ClamAV `.hsb` form.
pub const HSB: &str = "\
# ClamAV's clam.exe test file (544 bytes), detected by ClamAV as Clamav.Test.File-6
71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495:544:Clamav.Test.File-6
";

/// Display names of the built-in sources.
pub const YARA_ORIGIN: &str = "builtin:test-files.yar";
/// See [`YARA_ORIGIN`].
pub const HSB_ORIGIN: &str = "builtin:test-files.hsb";
