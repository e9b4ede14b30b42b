//! UTC calendar dates from Unix milliseconds, without a date library.
//!
//! One implementation for every place that prints a date: the server's UI, the IMAP watcher's
//! `SEARCH SINCE`, and anything else that needs year/month/day from a timestamp.

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcParts {
    pub year: i64,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// Splits a Unix timestamp in ms into its UTC calendar parts (any year, before 1970 too).
pub fn utc_parts(ms: i64) -> UtcParts {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    UtcParts {
        year: yoe + era * 400 + i64::from(month <= 2),
        month: month as u8,
        day: day as u8,
        hour: (rem / 3600) as u8,
        minute: (rem % 3600 / 60) as u8,
        second: (rem % 60) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_parts() {
        let p = |y, mo, d, h, mi, s| UtcParts {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
        };
        assert_eq!(utc_parts(0), p(1970, 1, 1, 0, 0, 0));
        assert_eq!(utc_parts(1_772_500_500_000), p(2026, 3, 3, 1, 15, 0));
        assert_eq!(utc_parts(951_782_400_000), p(2000, 2, 29, 0, 0, 0));
        assert_eq!(utc_parts(-1), p(1969, 12, 31, 23, 59, 59));
        assert_eq!(utc_parts(-86_400_000), p(1969, 12, 31, 0, 0, 0));
    }
}
