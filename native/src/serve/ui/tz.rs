//! The time zone the web UI shows times in: `?tz=Area/City` (remembered in a cookie), else the
//! server's own (it usually runs on the user's machine), else UTC. No script is needed: the
//! pages stay script-free, and every `<time>` keeps the UTC instant in its `datetime`.

use super::{esc, format_time};
use std::sync::OnceLock;

#[derive(Clone, Debug)]
pub struct Tz {
    zone: jiff::tz::TimeZone,
    name: String,
}

impl Tz {
    pub fn utc() -> Tz {
        Tz {
            zone: jiff::tz::TimeZone::UTC,
            name: "UTC".into(),
        }
    }

    /// A zone of the time zone database by its name (`Europe/Warsaw`, `UTC`); `None` for
    /// anything else.
    pub fn named(name: &str) -> Option<Tz> {
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
        {
            return None;
        }
        let zone = jiff::tz::db().get(name).ok()?;
        Some(Tz {
            zone,
            name: name.to_string(),
        })
    }

    /// The server's time zone (read once), UTC when it has no name.
    pub fn system() -> Tz {
        static SYSTEM: OnceLock<Tz> = OnceLock::new();
        SYSTEM
            .get_or_init(|| match jiff::tz::TimeZone::try_system() {
                Ok(zone) => match zone.iana_name() {
                    Some(name) => Tz {
                        name: name.to_string(),
                        zone,
                    },
                    None => Tz::utc(),
                },
                Err(_) => Tz::utc(),
            })
            .clone()
    }

    pub fn zone(&self) -> &jiff::tz::TimeZone {
        &self.zone
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `2026-03-03 11:15 CET` for milliseconds since the epoch.
    pub fn format(&self, ms: i64) -> String {
        match jiff::Timestamp::from_millisecond(ms) {
            Ok(t) => t
                .to_zoned(self.zone.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string(),
            Err(_) => format_time(ms),
        }
    }

    /// `<time datetime="2026-03-03T10:15Z" title="2026-03-03 10:15 UTC">2026-03-03 11:15 CET</time>`.
    pub fn tag(&self, ms: i64) -> String {
        let utc = format_time(ms);
        format!(
            "<time datetime=\"{}\" title=\"{}\">{}</time>",
            esc(&utc.replace(" UTC", "Z").replace(' ', "T")),
            esc(&utc),
            esc(&self.format(ms))
        )
    }

    /// Every zone name of the database, sorted.
    pub fn all_names() -> Vec<String> {
        let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_the_zone_with_its_abbreviation() {
        let winter = 1_772_500_500_000; // 2026-03-03 01:15 UTC
        let summer = 1_782_907_200_000; // 2026-07-01 12:00 UTC
        let warsaw = Tz::named("Europe/Warsaw").unwrap();
        assert_eq!(warsaw.format(winter), "2026-03-03 02:15 CET");
        assert_eq!(warsaw.format(summer), "2026-07-01 14:00 CEST");
        assert_eq!(
            Tz::named("Asia/Tokyo").unwrap().format(winter),
            "2026-03-03 10:15 JST"
        );
        assert_eq!(Tz::utc().format(winter), "2026-03-03 01:15 UTC");
        let tag = warsaw.tag(winter);
        assert_eq!(tag, "<time datetime=\"2026-03-03T01:15Z\" title=\"2026-03-03 01:15 UTC\">2026-03-03 02:15 CET</time>");
    }

    #[test]
    fn only_database_names() {
        assert!(Tz::named("Europe/Nowhere").is_none());
        assert!(Tz::named("../../etc/passwd").is_none());
        assert!(Tz::named("Europe/Warsaw; Path=/").is_none());
        assert!(Tz::named("").is_none());
        assert!(Tz::all_names().iter().any(|n| n == "America/Sao_Paulo"));
    }
}
