//! Human sizes for flags: `256M`, `1G`, `4096`, `10KiB`.

/// Parses a size with an optional binary suffix (K, M, G, T; `KB`, `KiB`
/// and lowercase accepted, all powers of 1024 as in ClamAV and Loki).
pub fn parse(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (examples: 4096, 100K, 256M, 2G)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("'{s}' has an unknown unit (use K, M, G or T)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse("4096"), Ok(4096));
        assert_eq!(super::parse("256M"), Ok(256 << 20));
        assert_eq!(super::parse("1gib"), Ok(1 << 30));
        assert!(super::parse("12X").is_err());
        assert!(super::parse("M").is_err());
        assert!(super::parse("99999999999T").is_err());
    }
}
