//! The quantity parser against the API server's own test table
//! (k8s.io/apimachinery/pkg/api/resource/quantity_test.go: TestQuantityParse, TestParseQuantity,
//! TestQuantityParseEmit, TestQuantityCmp), each value written as the plain decimal the API
//! server's `AsDec()` gives. Like the API server's test, every valid input is also tried with an
//! explicit `+` and, negated, with a `-`.

use baseplate_crd::error::ManifestError;
use baseplate_crd::manifest;
use baseplate_crd::quantity::{self, QuantityError};

#[rustfmt::skip]
const PARSES: &[(&str, &str)] = &[
    ("0", "0"), ("0n", "0"), ("0u", "0"), ("0m", "0"), ("0Ki", "0"), ("0k", "0"), ("0Mi", "0"),
    ("0M", "0"), ("0Gi", "0"), ("0G", "0"), ("0Ti", "0"), ("0T", "0"),
    // Quantity-less numbers.
    ("1", "1"),
    // Binary suffixes.
    ("1Ki", "1024"), ("8Ki", "8192"), ("7Mi", "7340032"), ("6Gi", "6442450944"),
    ("5Ti", "5497558138880"), ("4Pi", "4503599627370496"), ("3Ei", "3458764513820540928"),
    ("10Ti", "10995116277760"), ("100Ti", "109951162777600"),
    // Decimal suffixes.
    ("5n", "0.000000005"), ("4u", "0.000004"), ("3m", "0.003"), ("9", "9"), ("8k", "8000"),
    ("50k", "50000"), ("7M", "7000000"), ("6G", "6000000000"), ("5T", "5000000000000"),
    ("40T", "40000000000000"), ("300T", "300000000000000"), ("2P", "2000000000000000"),
    ("1E", "1000000000000000000"),
    // Decimal exponents.
    ("1E-3", "0.001"), ("1e3", "1000"), ("1E6", "1000000"), ("1e9", "1000000000"),
    ("1E12", "1000000000000"), ("1e15", "1000000000000000"), ("1E18", "1000000000000000000"),
    // Nonstandard but still parsable.
    ("1e14", "100000000000000"), ("1e13", "10000000000000"), ("100.035k", "100035"),
    // Things that look like floating point.
    ("0.001", "0.001"), ("0.0005k", "0.5"), ("0.005", "0.005"), ("0.05", "0.05"), ("0.5", "0.5"),
    ("0.00050k", "0.5"), ("0.00500", "0.005"), ("0.05000", "0.05"), ("0.50000", "0.5"),
    ("0.5e0", "0.5"), ("0.5e-1", "0.05"), ("0.5e-2", "0.005"), ("10.035M", "10035000"),
    ("1.2e3", "1200"), ("1.3E+6", "1300000"), ("1.40e9", "1400000000"), ("1.53E12", "1530000000000"),
    ("1.6e15", "1600000000000000"), ("1.7E18", "1700000000000000000"),
    ("9.01", "9.01"), ("8.1k", "8100"), ("7.123456M", "7123456"), ("6.987654321G", "6987654321"),
    ("5.444T", "5444000000000"), ("40.1T", "40100000000000"), ("300.2T", "300200000000000"),
    ("2.5P", "2500000000000000"), ("1.01E", "1010000000000000000"),
    // Things that saturate or round: finer than a nano rounds away from zero, binary caps at 2^63-1.
    ("3.001n", "0.000000004"), ("1.1E-9", "0.000000002"), ("0.0000000001", "0.000000001"),
    ("0.0000000005", "0.000000001"), ("0.00000000050", "0.000000001"), ("0.5e-9", "0.000000001"),
    ("0.9n", "0.000000001"), ("0.00000012345", "0.000000124"), ("0.00000012354", "0.000000124"),
    ("9Ei", "9223372036854775807"), ("9223372036854775807Ki", "9223372036854775807"),
    ("12E", "12000000000000000000"),
    // Fractional binary values.
    ("100.035Ki", "102435.84"), ("0.5Mi", "524288"), ("0.05Gi", "53687091.2"),
    ("0.025Ti", "27487790694.4"),
    // "Things written by trolls".
    ("0.000000000001Ki", "0.000000002"), (".001", "0.001"), (".0001k", "0.1"), ("1.", "1"),
    ("1.G", "1000000000"),
    // TestParseQuantity: around 18, 19 and 20 digits and around 2^63.
    ("999999999999999999", "999999999999999999"),
    ("999999999999999999.1", "999999999999999999.1"),
    ("9999999999999999999", "9999999999999999999"),
    ("1000000000000000000", "1000000000000000000"),
    ("9999999999999999999000m", "9999999999999999999"),
    ("1.0000000000000000001E", "1000000000000000000.1"),
    ("1.000000000000000001E", "1000000000000000001"),
    ("10E", "10000000000000000000"),
    ("10000000000000000000000m", "10000000000000000000"),
    ("10.0000000000000000001E", "10000000000000000000.1"),
    ("10.000000000000000001E", "10000000000000000001"),
    ("9223372036854775806", "9223372036854775806"),
    ("9223372036854775807.1", "9223372036854775807.1"),
    ("9223372036854775808", "9223372036854775808"),
    ("9223372036854775808000m", "9223372036854775808"),
    // TestQuantityParseEmit.
    ("1024Mi", "1073741824"), ("1000M", "1000000000"), (".001Ki", "1.024"),
    (".000001Ki", "0.001024"), (".000000001Ki", "0.000001024"), (".000000000001Ki", "0.000000002"),
];

/// TestQuantityParse's invalid inputs, trailing and leading whitespace included.
const INVALID: &[&str] = &[
    "",
    "1.1.M",
    "1+1.0M",
    "0.1mi",
    "0.1am",
    "aoeu",
    ".5i",
    "1i",
    "-3.01i",
    "-3.01e-",
    " 1",
    "1 ",
    "Non-Numeric",
];

#[test]
fn every_form_in_the_api_servers_table_has_its_value() {
    let mut failures = Vec::new();
    for (input, expected) in PARSES {
        let negated = if *expected == "0" {
            "0".to_string()
        } else {
            format!("-{expected}")
        };
        for (text, want) in [
            (input.to_string(), expected.to_string()),
            (format!("+{input}"), expected.to_string()),
            (format!("-{input}"), negated),
        ] {
            match quantity::parse(&text) {
                Ok(q) if q.to_string() == want => {}
                other => failures.push(format!("{text:?}: expected {want}, got {other:?}")),
            }
            if !quantity::is_valid(&text) {
                failures.push(format!("{text:?}: not valid"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn what_the_api_server_refuses_is_refused() {
    for input in INVALID {
        assert!(!quantity::is_valid(input), "{input:?}");
        assert!(
            matches!(
                quantity::parse(input),
                Err(QuantityError::Empty | QuantityError::Invalid(_))
            ),
            "{input:?}"
        );
    }
    // Spaces and suffix typos, in the words of the error.
    let error = quantity::parse("1Gi ").unwrap_err().to_string();
    assert!(error.contains("it contains a space"), "{error}");
    let error = quantity::parse("1GB").unwrap_err().to_string();
    assert!(error.contains("Ki Mi Gi Ti Pi Ei"), "{error}");
}

#[test]
fn comparisons_are_exact() {
    let q = |text| quantity::parse(text).unwrap();
    // TestQuantityCmp.
    assert!(q("100m") > q("50m"));
    assert!(q("50m") < q("100m"));
    assert!(q("10000T") > q("100Gi"));
    assert_eq!(q("0"), q("0"));
    // Equal values in different forms, and neighbours a float would merge.
    assert_eq!(q("1Gi"), q("1073741824"));
    assert_eq!(q("0.5"), q("500m"));
    assert_eq!(q("1e3"), q("1k"));
    assert!(q("8Gi") < q("8589934593"));
    assert!(q("9223372036854775807") < q("9223372036854775808"));
    assert!(q("1.0000000000000000001E") > q("1E"));
    // Binary values are capped where the API server caps them, decimal ones are not.
    assert_eq!(q("8Ei"), q("16Ei"));
    assert!(q("10E") > q("16Ei"));
}

/// Quirks of the API server's parser, checked against its code: a number may be left out, and
/// the exponent is a 64-bit number truncated to 32 bits.
#[test]
fn the_api_servers_quirks_are_kept() {
    for zero in [".", "-.", "+", "-", "Ki", "Ti", "m", "e3", ".e-9"] {
        assert_eq!(
            quantity::parse(zero).map(|q| q.to_string()),
            Ok("0".into()),
            "{zero:?}"
        );
    }
    // Without digits, its slow path (large binary suffixes, exponents below -9) refuses.
    for invalid in ["Pi", "Ei", ".e-10", "1e", "1E+", "1K", "1KiB"] {
        assert!(!quantity::is_valid(invalid), "{invalid:?}");
    }
    assert_eq!(quantity::parse("1e4294967296").unwrap().to_string(), "1");
}

#[test]
fn a_value_too_large_to_compare_is_refused_as_such_but_is_a_quantity() {
    for text in ["1e100", "1e2147483647", &format!("{}1", "0".repeat(64))] {
        assert!(quantity::is_valid(text), "{text}");
        assert!(
            matches!(quantity::parse(text), Err(QuantityError::NotComparable(_))),
            "{text}"
        );
    }
    assert!(quantity::parse("1e40").is_ok());
}

/// Admission offline agrees: every positive form of the table is a valid CPU and memory value,
/// and its negation is refused with the field named.
#[test]
fn every_positive_form_passes_admission_and_its_negation_does_not() {
    // Memory is counted in bytes: its fields refuse the suffixes for fractions of a byte.
    let document = |text: &str| {
        let memory = if text.ends_with(['m', 'u', 'n']) {
            "1Mi"
        } else {
            text
        };
        format!(
            "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {{name: web}}\nspec:\n  image: nginx:1.27\n  resources: {{cpu: '{text}', memory: '{memory}', cpuLimit: '{text}', memoryLimit: '{memory}'}}\n"
        )
    };
    for (input, expected) in PARSES.iter().filter(|(_, value)| *value != "0") {
        for text in [input.to_string(), format!("+{input}")] {
            if let Err(e) = manifest::parse("test", &document(&text)) {
                panic!("{text} ({expected}) refused: {e}");
            }
        }
        match manifest::parse("test", &document(&format!("-{input}"))) {
            Err(ManifestError::Invalid { errors, .. }) => assert!(
                errors.iter().any(
                    |e| e.field == "spec.resources.cpu" && e.message.contains("it is negative")
                ),
                "-{input}: {errors:?}"
            ),
            other => panic!("-{input}: {other:?}"),
        }
    }
}
