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

/// `YYYY-MM-DDTHH:MM:SS` followed by `Z` for UTC or `±hh:mm`: the same text as
/// `mail_parser::DateTime::to_rfc3339`, written without `format!` (every parsed email has a
/// date; the formatting machinery was 1 % of the browser engine's time).
pub fn rfc3339(d: &mail_parser::DateTime) -> String {
    if d.year > 9999 {
        return d.to_rfc3339();
    }
    let mut out = String::with_capacity(25);
    let year = u32::from(d.year);
    for div in [1000, 100, 10, 1] {
        out.push(char::from(b'0' + ((year / div) % 10) as u8));
    }
    for (sep, n) in [
        ('-', d.month),
        ('-', d.day),
        ('T', d.hour),
        (':', d.minute),
        (':', d.second),
    ] {
        out.push(sep);
        out.push(char::from(b'0' + (n / 10) % 10));
        out.push(char::from(b'0' + n % 10));
    }
    if d.tz_hour != 0 || d.tz_minute != 0 {
        out.push(if d.tz_before_gmt { '-' } else { '+' });
        for (i, n) in [d.tz_hour, d.tz_minute].into_iter().enumerate() {
            if i == 1 {
                out.push(':');
            }
            out.push(char::from(b'0' + (n / 10) % 10));
            out.push(char::from(b'0' + n % 10));
        }
    } else {
        out.push('Z');
    }
    out
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

    #[test]
    fn rfc3339_matches_mail_parser() {
        let mut checked = 0;
        for (year, month, day) in [(1900, 1, 1), (1999, 12, 31), (2026, 3, 3), (3000, 7, 9)] {
            for (hour, minute, second) in [(0, 0, 0), (9, 5, 7), (23, 59, 59)] {
                for (tz_before_gmt, tz_hour, tz_minute) in [
                    (false, 0, 0),
                    (false, 9, 0),
                    (true, 5, 30),
                    (true, 0, 0),
                    (false, 0, 45),
                ] {
                    let d = mail_parser::DateTime {
                        year,
                        month,
                        day,
                        hour,
                        minute,
                        second,
                        tz_before_gmt,
                        tz_hour,
                        tz_minute,
                    };
                    assert_eq!(rfc3339(&d), d.to_rfc3339(), "{d:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 60);
        let d = mail_parser::DateTime::from_timestamp(1_772_500_500);
        assert_eq!(rfc3339(&d), "2026-03-03T01:15:00Z");
    }
}
