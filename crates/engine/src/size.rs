//! Human sizes for flags: `256M`, `1G`, `4096`, `10KiB`.

/// Parses a size with an optional binary suffix (K, M, G, T; `KB`, `KiB`
/// and lowercase accepted, all powers of 1024 as in ClamAV and Loki).
pub fn parse(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let not_a_size = || format!("'{s}' is not a size (examples: 4096, 100K, 1.5M, 2G)");
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    // A fraction is exact to the byte for up to 9 digits, then rounded down.
    if whole.is_empty() && frac.is_empty() || frac.contains('.') || frac.len() > 9 {
        return Err(not_a_size());
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("'{s}' has an unknown unit (use K, M, G or T)")),
    };
    let digits: u128 = format!("{whole}{frac}").parse().map_err(|_| not_a_size())?;
    let bytes = digits
        .checked_mul(1u128 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))?
        / 10u128.pow(frac.len() as u32);
    u64::try_from(bytes).map_err(|_| format!("'{s}' is too large"))
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
        assert_eq!(super::parse("1.5M"), Ok(3 << 19));
        assert_eq!(super::parse("0.5k"), Ok(512));
        assert_eq!(super::parse(".5K"), Ok(512));
        assert_eq!(super::parse("2.K"), Ok(2048));
        assert_eq!(super::parse("1.0001"), Ok(1), "rounded down to the byte");
        for bad in [".", "1.2.3", "", "1.0000000001K", "-1", "1e3"] {
            assert!(super::parse(bad).is_err(), "{bad}");
        }
    }
}
