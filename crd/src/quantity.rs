//! Kubernetes resource quantities, just far enough to compare a request against a guardrail.
//!
//! k8s-openapi keeps `Quantity` as an opaque string and kube has no arithmetic for it, so the
//! guardrails (`limits.maxCpu`, `limits.maxMemory`) need this small parser. Admission uses the
//! API server's own CEL `isQuantity`, so the grammar accepted here only has to agree on valid
//! input.

/// CEL rule attached to every CPU field.
pub const CPU_RULE: &str = "isQuantity(self) && sign(quantity(self)) > 0";
pub const CPU_MESSAGE: &str = "must be a positive Kubernetes quantity such as 100m, 0.5 or 2";
/// CEL rule attached to every memory field.
pub const MEMORY_RULE: &str = "isQuantity(self) && sign(quantity(self)) > 0";
pub const MEMORY_MESSAGE: &str = "must be a positive Kubernetes quantity such as 128Mi or 1Gi";

/// A quantity in thousandths of its base unit (millicores, millibytes), which represents every
/// CPU and memory value Kubernetes accepts in practice without rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Milli(pub i128);

/// Parses `100m`, `0.5`, `2`, `128Mi`, `1G`, `1e3`. Returns `None` for anything else.
pub fn parse(text: &str) -> Option<Milli> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (mantissa, decimals) = parse_decimal(number)?;
    let (multiplier, divisor, exponent): (i128, i128, i32) = match suffix {
        "" => (1, 1, 0),
        "m" => (1, 1000, 0),
        "k" => (1000, 1, 0),
        "M" => (1_000_000, 1, 0),
        "G" => (1_000_000_000, 1, 0),
        "T" => (1_000_000_000_000, 1, 0),
        "P" => (1_000_000_000_000_000, 1, 0),
        "E" => (1_000_000_000_000_000_000, 1, 0),
        "Ki" => (1 << 10, 1, 0),
        "Mi" => (1 << 20, 1, 0),
        "Gi" => (1 << 30, 1, 0),
        "Ti" => (1 << 40, 1, 0),
        "Pi" => (1 << 50, 1, 0),
        "Ei" => (1 << 60, 1, 0),
        exp if exp.starts_with(['e', 'E']) => (1, 1, exp[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    // value = mantissa / 10^decimals * multiplier / divisor * 10^exponent, in thousandths.
    let mut scaled = mantissa.checked_mul(1000)?.checked_mul(multiplier)?;
    let mut shift = exponent - decimals as i32;
    while shift > 0 {
        scaled = scaled.checked_mul(10)?;
        shift -= 1;
    }
    let mut denominator: i128 = divisor;
    while shift < 0 {
        denominator = denominator.checked_mul(10)?;
        shift += 1;
    }
    // Round up like the API server does when it canonicalises sub-milli values.
    Some(Milli((scaled + denominator - 1).div_euclid(denominator)))
}

fn parse_decimal(number: &str) -> Option<(i128, u32)> {
    let (sign, digits) = match number.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole
        .chars()
        .chain(fraction.chars())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let joined = format!("{whole}{fraction}");
    let mantissa: i128 = joined.parse().ok()?;
    Some((sign * mantissa, fraction.len() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_memory_forms() {
        assert_eq!(parse("100m"), Some(Milli(100)));
        assert_eq!(parse("0.5"), Some(Milli(500)));
        assert_eq!(parse("2"), Some(Milli(2000)));
        assert_eq!(parse("128Mi"), Some(Milli(128 * 1024 * 1024 * 1000)));
        assert_eq!(parse("1G"), Some(Milli(1_000_000_000_000)));
        assert_eq!(parse("1e3"), Some(Milli(1_000_000)));
        assert_eq!(parse("1.5Gi"), Some(Milli(3 * (1 << 29) * 1000)));
    }

    #[test]
    fn orders_mixed_units() {
        assert!(parse("1Gi").unwrap() > parse("1G").unwrap());
        assert!(parse("999m").unwrap() < parse("1").unwrap());
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1Xi", "1.2.3", "m", "--1"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
