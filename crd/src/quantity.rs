//! Kubernetes resource quantities, read exactly as the API server reads them
//! (`resource.ParseQuantity` in k8s.io/apimachinery), so a guardrail compares the value the
//! kubelet will enforce.
//!
//! No crate does this exactly: `kube_quantity` goes through `f64` and reads an unknown suffix as
//! no suffix, `k8s_quantity_parser` knows integers only, and kube's client-side CEL trims spaces
//! the API server refuses. Hence this parser, proven against the API server's own test table in
//! the tests below. It keeps the API server's quirks: a value finer than a nano rounds away
//! from zero to the next nano (`0.1n` is `1n`), a binary-suffixed value is capped at 2^63-1
//! (`9Ei` is 9223372036854775807), a number may be left out (`.`, `Ki` and `-` are all 0) and the
//! exponent of `e`/`E` is read as a 64-bit number and then truncated to 32 bits.

use std::fmt;

use num_bigint::{BigInt, BigUint};

/// CEL rule attached to every CPU and memory field. The API server's `isQuantity` is
/// `ParseQuantity`; offline, [`check_positive`] evaluates it.
pub const POSITIVE_RULE: &str = "isQuantity(self) && sign(quantity(self)) > 0";
pub const CPU_RULE: &str = POSITIVE_RULE;
pub const CPU_MESSAGE: &str = "must be a positive Kubernetes quantity such as 100m, 0.5 or 2";
pub const MEMORY_RULE: &str = POSITIVE_RULE;
pub const MEMORY_MESSAGE: &str = "must be a positive Kubernetes quantity such as 128Mi or 1Gi";

/// CEL on every memory field: memory is counted in bytes, so the suffixes for thousandths,
/// millionths and billionths (`128m` is 0.128 bytes) are a mistake for `Mi` or `M`.
pub const MEMORY_SUFFIX_RULE: &str = "!self.matches('[mun]$')";
pub const MEMORY_SUFFIX_MESSAGE: &str = "memory is counted in bytes, and the suffixes m, u and n are thousandths, millionths and billionths of a byte (128m is 0.128 bytes); write Mi or M, such as 128Mi";

/// The `x-kubernetes-validations` of a memory field.
pub fn memory_rules() -> serde_json::Value {
    let mut rules = crate::cel_rule::quoting_value(MEMORY_RULE, MEMORY_MESSAGE);
    let suffix = crate::cel_rule::quoting_value(MEMORY_SUFFIX_RULE, MEMORY_SUFFIX_MESSAGE);
    rules
        .as_array_mut()
        .expect("a rule list")
        .extend(suffix.as_array().cloned().unwrap_or_default());
    rules
}

/// A limit below its request, as CEL on a `resources` object: `cpu` against `cpuLimit` and
/// `memory` against `memoryLimit`. Offline, [`limit_below_request`] evaluates it exactly.
macro_rules! limit_rule {
    ($request:literal, $limit:literal) => {
        concat!(
            "!has(self.",
            $request,
            ") || !has(self.",
            $limit,
            ") || !isQuantity(self.",
            $request,
            ") || !isQuantity(self.",
            $limit,
            ") || quantity(self.",
            $request,
            ").compareTo(quantity(self.",
            $limit,
            ")) <= 0"
        )
    };
}
pub const CPU_LIMIT_RULE: &str = limit_rule!("cpu", "cpuLimit");
pub const MEMORY_LIMIT_RULE: &str = limit_rule!("memory", "memoryLimit");

/// The rules of a `resources` object: each limit at least its request.
pub fn limit_rules() -> serde_json::Value {
    let rule = |rule: &str, request: &str, limit: &str| {
        serde_json::json!({
            "rule": rule,
            "message": limit_message(request, limit, request, limit),
            "messageExpression": format!(
                "'{limit} ' + self.{limit} + ' is below the request {request} ' + self.{request} + '; a limit must be at least its request: raise {limit} or lower {request}'"
            ),
            "fieldPath": format!(".{limit}"),
        })
    };
    serde_json::json!([
        rule(CPU_LIMIT_RULE, "cpu", "cpuLimit"),
        rule(MEMORY_LIMIT_RULE, "memory", "memoryLimit"),
    ])
}

/// What a limit below its request is told: the message of [`limit_rules`].
pub fn limit_message(request: &str, limit: &str, request_value: &str, limit_value: &str) -> String {
    format!(
        "{limit} {limit_value} is below the request {request} {request_value}; a limit must be at least its request: raise {limit} or lower {request}"
    )
}

/// Whether `limit` is below `request`, both valid quantities, compared exactly whatever their
/// size (the API server's `compareTo`); `None` when either is not a quantity.
pub fn limit_below_request(request: &str, limit: &str) -> Option<bool> {
    Some(compare(request, limit)? == std::cmp::Ordering::Greater)
}

/// Two quantities compared exactly, however large; `None` when either is not a quantity.
pub fn compare(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    let (a, b) = (Magnitude::of(a)?, Magnitude::of(b)?);
    Some(a.cmp(&b))
}

/// A quantity's value, comparable however large: the exact nanos when they are few enough,
/// else (only decimal values of 10^55 and more, where nano rounding cannot matter) its sign,
/// decimal order of magnitude and significant digits.
#[derive(PartialEq, Eq)]
enum Magnitude {
    Nanos(BigInt),
    Huge {
        negative: bool,
        order: i64,
        digits: String,
    },
}

impl Magnitude {
    fn of(text: &str) -> Option<Self> {
        let parts = Parts::scan(text).ok()?;
        match parts.value() {
            Ok(q) => Some(Magnitude::Nanos(q.nanos)),
            Err(_) => {
                let Suffix::Decimal { exponent } = parts.suffix else {
                    return None;
                };
                let digits = format!("{}{}", parts.whole, parts.fraction);
                let digits = digits.trim_start_matches('0');
                let order = digits.len() as i64 - parts.fraction.len() as i64 + exponent as i64;
                Some(Magnitude::Huge {
                    negative: parts.negative,
                    order,
                    digits: digits.trim_end_matches('0').to_string(),
                })
            }
        }
    }
}

impl PartialOrd for Magnitude {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Magnitude {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self, other) {
            (Magnitude::Nanos(a), Magnitude::Nanos(b)) => a.cmp(b),
            (
                Magnitude::Huge {
                    negative: na,
                    order: oa,
                    digits: da,
                },
                Magnitude::Huge {
                    negative: nb,
                    order: ob,
                    digits: db,
                },
            ) => {
                let magnitude = oa.cmp(ob).then_with(|| da.cmp(db));
                match (na, nb) {
                    (false, false) => magnitude,
                    (true, true) => magnitude.reverse(),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                }
            }
            (Magnitude::Huge { negative, .. }, Magnitude::Nanos(_)) => {
                if *negative {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Magnitude::Nanos(_), Magnitude::Huge { negative, .. }) => {
                if *negative {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
        }
    }
}

/// Whether a memory quantity is a whole number of bytes, as the API server wants of a pod's
/// memory (it warns of "fractional byte value"); `None` when it is not a quantity. Values too
/// large to hold exactly have no fraction to lose.
pub fn is_whole(text: &str) -> Option<bool> {
    match Magnitude::of(text)? {
        Magnitude::Nanos(nanos) => {
            Some((nanos % BigInt::from(NANOS_PER_UNIT)) == BigInt::default())
        }
        Magnitude::Huge { .. } => Some(true),
    }
}

/// What is compared exactly: quantities longer than this are refused as not comparable. Every
/// quantity field of the CRDs is at most 32 characters, so this only guards the arithmetic.
pub const MAX_COMPARABLE_LEN: usize = 64;
/// Values with more nano digits than this (about 10^55 of the unit) are refused as not comparable:
/// `1e2000000000` is a valid quantity, but no limit needs it.
const MAX_NANO_DIGITS: i64 = 64;

/// A quantity's value in billionths of its unit (nanocores, nanobytes), after the API server's
/// rounding and capping. Ordered by value: `1Gi > 1G`, `1000m == 1`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    nanos: BigInt,
}

impl Quantity {
    pub fn nanos(&self) -> &BigInt {
        &self.nanos
    }
}

const NANOS_PER_UNIT: u64 = 1_000_000_000;

/// Why a string is not a quantity, or not one Baseplate can compare.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("is empty")]
    Empty,
    #[error(
        "is not a Kubernetes quantity: {0}; write a number with an optional sign and fraction followed by one of the suffixes n u m k M G T P E Ki Mi Gi Ti Pi Ei or an exponent such as e3, without spaces"
    )]
    Invalid(&'static str),
    #[error("cannot be compared with a limit: {0}")]
    NotComparable(&'static str),
}

/// Parses a quantity as the API server does and computes its exact value.
pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
    let parts = Parts::scan(text)?;
    if text.len() > MAX_COMPARABLE_LEN {
        return Err(QuantityError::NotComparable(
            "it is longer than 64 characters",
        ));
    }
    parts.value()
}

/// Whether the API server accepts `text` as a quantity (its CEL `isQuantity`), whatever its size.
pub fn is_valid(text: &str) -> bool {
    Parts::scan(text).is_ok()
}

/// Why `text` fails the CRDs' quantity rule (`isQuantity(self) && sign(quantity(self)) > 0`),
/// if it does.
pub fn check_positive(text: &str) -> Result<(), &'static str> {
    let parts = Parts::scan(text).map_err(|e| match e {
        QuantityError::Empty => "it is empty",
        QuantityError::Invalid(reason) | QuantityError::NotComparable(reason) => reason,
    })?;
    // Any non-zero digit gives a non-zero value: the API server rounds up, never down to zero.
    let zero = !format!("{}{}", parts.whole, parts.fraction)
        .bytes()
        .any(|b| b != b'0');
    match (zero, parts.negative) {
        (true, _) => Err("it is zero"),
        (false, true) => Err("it is negative"),
        (false, false) => Ok(()),
    }
}

/// The pieces of `[sign] digits [. digits] suffix`, as the API server's scanner cuts them.
#[derive(Debug)]
struct Parts<'a> {
    negative: bool,
    /// Integer digits without leading zeros (possibly empty).
    whole: &'a str,
    /// Fraction digits as written (possibly empty).
    fraction: &'a str,
    suffix: Suffix,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Suffix {
    /// `n` .. `E` (decimal SI) or `e3` / `E-3` (decimal exponent): value × 10^exponent.
    Decimal { exponent: i32 },
    /// `Ki` .. `Ei`: value × 2^exponent.
    Binary { exponent: u32 },
}

impl<'a> Parts<'a> {
    fn scan(text: &'a str) -> Result<Self, QuantityError> {
        if text.is_empty() {
            return Err(QuantityError::Empty);
        }
        let bytes = text.as_bytes();
        let end = bytes.len();
        let mut pos = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        let mut has_digits = false;
        while pos < end && bytes[pos] == b'0' {
            pos += 1;
            has_digits = true;
        }
        let whole_start = pos;
        while pos < end && bytes[pos].is_ascii_digit() {
            pos += 1;
            has_digits = true;
        }
        let whole = &text[whole_start..pos];
        let mut fraction = "";
        if pos < end && bytes[pos] == b'.' {
            pos += 1;
            let start = pos;
            while pos < end && bytes[pos].is_ascii_digit() {
                pos += 1;
                has_digits = true;
            }
            fraction = &text[start..pos];
        }
        let suffix_start = pos;
        while pos < end && b"eEinumkKMGTP".contains(&bytes[pos]) {
            pos += 1;
        }
        if pos < end && matches!(bytes[pos], b'-' | b'+') {
            pos += 1;
        }
        while pos < end && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos < end {
            return Err(QuantityError::Invalid(
                if bytes[pos].is_ascii_whitespace() {
                    "it contains a space"
                } else {
                    "it has characters after the number that are not a suffix"
                },
            ));
        }
        let suffix = Suffix::interpret(&text[suffix_start..]).ok_or(QuantityError::Invalid(
            "its suffix is not one Kubernetes knows",
        ))?;
        let parts = Parts {
            negative,
            whole,
            fraction,
            suffix,
        };
        // The API server reads a number without digits (`.`, `Ki`) as 0, except on its slow
        // path, where the decimal library finds no digits and refuses it.
        if !has_digits && text != "0" && !parts.fast_path() {
            return Err(QuantityError::Invalid("it has no digits"));
        }
        Ok(parts)
    }

    /// The API server's int64 fast path, which reads the digits without its decimal library.
    fn fast_path(&self) -> bool {
        let whole_len = self.whole.len().max(1) as i64;
        let fraction_len = self.fraction.len() as i64;
        match self.suffix {
            Suffix::Decimal { exponent, .. } => {
                whole_len + fraction_len <= 18 && self.fast_scale(exponent) >= -9
            }
            Suffix::Binary { exponent } => {
                let precision = 15 - whole_len - (exponent as i64 * 3 / 10) - 1;
                self.fraction.is_empty()
                    && precision >= 0
                    && self
                        .whole
                        .parse::<i64>()
                        .unwrap_or(0)
                        .checked_mul(1 << exponent)
                        .is_some()
            }
        }
    }

    /// The fast path's decimal exponent, in the API server's 32-bit arithmetic.
    fn fast_scale(&self, exponent: i32) -> i32 {
        exponent.wrapping_sub(self.fraction.len() as i32)
    }

    fn value(&self) -> Result<Quantity, QuantityError> {
        let digits = format!("{}{}", self.whole, self.fraction);
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(Quantity {
                nanos: BigInt::default(),
            });
        }
        let mantissa: BigUint = digits.parse().expect("only ASCII digits were scanned");
        let magnitude = match self.suffix {
            Suffix::Decimal { exponent, .. } => {
                // Both of the API server's paths compute digits × 10^(exponent - fraction
                // length), each in its own 32-bit arithmetic, which differ only when it wraps.
                let scale = if self.fast_path() {
                    self.fast_scale(exponent) as i64
                } else {
                    -((self.fraction.len() as i32).wrapping_add(exponent.wrapping_neg()) as i64)
                };
                decimal_nanos(mantissa, digits.len() as i64, scale)?
            }
            Suffix::Binary { exponent } => {
                let scaled = (mantissa << exponent) * BigUint::from(NANOS_PER_UNIT);
                let divisor = BigUint::from(10u32).pow(self.fraction.len() as u32);
                let cap = BigUint::from(i64::MAX as u64) * BigUint::from(NANOS_PER_UNIT);
                div_ceil(scaled, &divisor).min(cap)
            }
        };
        let nanos = BigInt::from(magnitude);
        Ok(Quantity {
            nanos: if self.negative { -nanos } else { nanos },
        })
    }
}

/// `mantissa × 10^scale` in nanos, rounded away from zero to a whole nano.
fn decimal_nanos(mantissa: BigUint, digits: i64, scale: i64) -> Result<BigUint, QuantityError> {
    let shift = scale + 9;
    if shift >= 0 {
        if digits + shift > MAX_NANO_DIGITS {
            return Err(QuantityError::NotComparable(
                "it is 10^55 or more, beyond what any limit compares",
            ));
        }
        return Ok(mantissa * BigUint::from(10u32).pow(shift as u32));
    }
    let down = -shift;
    if down >= digits {
        // Below one nano: the API server rounds it up to one.
        return Ok(BigUint::from(1u32));
    }
    Ok(div_ceil(mantissa, &BigUint::from(10u32).pow(down as u32)))
}

fn div_ceil(value: BigUint, divisor: &BigUint) -> BigUint {
    let quotient = &value / divisor;
    if &quotient * divisor == value {
        quotient
    } else {
        quotient + 1u32
    }
}

impl Suffix {
    fn interpret(suffix: &str) -> Option<Self> {
        let decimal = |exponent| Suffix::Decimal { exponent };
        let binary = |exponent| Suffix::Binary { exponent };
        Some(match suffix {
            "" => decimal(0),
            "n" => decimal(-9),
            "u" => decimal(-6),
            "m" => decimal(-3),
            "k" => decimal(3),
            "M" => decimal(6),
            "G" => decimal(9),
            "T" => decimal(12),
            "P" => decimal(15),
            "E" => decimal(18),
            "Ki" => binary(10),
            "Mi" => binary(20),
            "Gi" => binary(30),
            "Ti" => binary(40),
            "Pi" => binary(50),
            "Ei" => binary(60),
            _ => {
                let exponent = suffix
                    .strip_prefix(['e', 'E'])
                    .filter(|rest| !rest.is_empty())?;
                // Read as Go's strconv.ParseInt(_, 10, 64), then truncated to 32 bits as the
                // API server does.
                let exponent: i64 = exponent.parse().ok()?;
                Suffix::Decimal {
                    exponent: exponent as i32,
                }
            }
        })
    }
}

impl fmt::Display for Quantity {
    /// The value in units, as a plain decimal: `1536Mi` is `1610612736`, `100m` is `0.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.nanos.magnitude().to_string();
        let sign = if self.nanos.sign() == num_bigint::Sign::Minus {
            "-"
        } else {
            ""
        };
        let padded = format!("{nanos:0>10}");
        let (units, fraction) = padded.split_at(padded.len() - 9);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            write!(f, "{sign}{units}")
        } else {
            write!(f, "{sign}{units}.{fraction}")
        }
    }
}
