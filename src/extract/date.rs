//! Dates as mail clients print them in forwarded headers and attribution lines, in every
//! language of [`super::lang`]: `Mon, Oct 25, 2021 at 11:17 AM`, `Montag, 25. Oktober 2021
//! 11:17`, `pon., 25 paź 2021 o 11:17`, `2021年10月25日(月) 11:17`, `25.10.2021 klo 11.17`,
//! `Mon, 25 Oct 2021 11:17:21 +0300`.
//!
//! The parser is a small token scanner, not a grammar: it finds a time (`h:mm[:ss]`,
//! `9時30分`, AM/PM in several scripts), a zone after it (`+0300`, `GMT+3`, `(UTC+01:00)`,
//! `CET`, `日本標準時`, `Central European Standard Time`), and a date (`y年m月d日`,
//! `令和8年3月2日`, `y-m-d`, `d.m.y`, `m/d/y`, or day + month name + year) and ignores every
//! other word (weekdays, "at", "um", "o godz."). No zone written means UTC.

use std::sync::OnceLock;

use super::lang::{
    eq_lower, lowercase, month_readings, Lang, LangSet, ZoneName, JAPANESE_ERAS, LONG_TIME_ZONES,
    TIME_ZONES,
};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok<'a> {
    Num(u32, u8),
    Word(&'a str),
    Sep(char),
}

const MAX_TOKENS: usize = 64;

fn tokenize(s: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::with_capacity(16);
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if toks.len() >= MAX_TOKENS {
            break;
        }
        if let Some(d) = digit(c) {
            let mut v = d;
            let mut n = 1u8;
            while let Some(&(_, c2)) = chars.peek() {
                let Some(d2) = digit(c2) else { break };
                v = v.saturating_mul(10).saturating_add(d2);
                n = n.saturating_add(1);
                chars.next();
            }
            toks.push(Tok::Num(v, n));
        } else if c.is_alphabetic() && !is_cjk_marker(c) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, c2)) = chars.peek() {
                if !c2.is_alphabetic() || is_cjk_marker(c2) || digit(c2).is_some() {
                    break;
                }
                end = j + c2.len_utf8();
                chars.next();
            }
            toks.push(Tok::Word(&s[i..end]));
        } else if !c.is_whitespace() {
            toks.push(Tok::Sep(c));
        }
    }
    toks
}

fn digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

fn is_cjk_marker(c: char) -> bool {
    matches!(
        c,
        '年' | '月' | '日' | '時' | '分' | '秒' | '号' | '點' | '点'
    )
}

/// Parses a date as written; returns Unix milliseconds. `hint` is the language of the
/// surrounding headers, used where a month word is ambiguous and for `1/2/2024` order.
pub(crate) fn parse(s: &str, hint: LangSet) -> Option<i64> {
    parse_zoned(s, hint).map(|(ms, _)| ms)
}

/// [`parse`], and whether a zone was written. Without one the time is read as UTC; the caller
/// may know better (the forwarding message's own offset is usually the zone its client printed).
pub(crate) fn parse_zoned(s: &str, hint: LangSet) -> Option<(i64, bool)> {
    if s.len() > 256 {
        return None;
    }
    let toks = tokenize(s);
    let mut used = [false; MAX_TOKENS];

    let (hour, minute, second, time_end) = find_time(&toks, &mut used).unwrap_or((0, 0, 0, None));
    let zone = match time_end {
        Some(end) => find_zone(&toks, end, &mut used),
        None => None,
    };
    let (year, month, day) = find_date(&toks, &mut used, hint)?;
    let year = if year < 100 {
        if year < 70 {
            2000 + year
        } else {
            1900 + year
        }
    } else {
        year
    };
    if !(1900..=2200).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset_min = match zone {
        None => 0,
        Some(ZoneName::Fixed(m)) => m,
        Some(ZoneName::CentralEuropean) => {
            if eu_summer_time(year, month, day, hour) {
                120
            } else {
                60
            }
        }
    };
    let days = days_from_civil(year as i64, month, day);
    let secs = days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64
        - offset_min as i64 * 60;
    Some((secs * 1000, zone.is_some()))
}

type Time = (u32, u32, u32, Option<usize>);

fn find_time(t: &[Tok<'_>], used: &mut [bool; MAX_TOKENS]) -> Option<Time> {
    let n = t.len();
    for i in 0..n {
        let Tok::Num(h, hl) = t[i] else { continue };
        if hl > 2 || h > 24 {
            continue;
        }
        if let Some(time) = kanji_time(t, i, h, used) {
            return Some(time);
        }
        let sep = match t.get(i + 1) {
            Some(Tok::Sep(c @ (':' | '.' | '：'))) => *c,
            _ => continue,
        };
        let Some(&Tok::Num(m, 2)) = t.get(i + 2) else {
            continue;
        };
        // `11.17` is a time after "klo"/"kl." or right after the year (Finnish Outlook:
        // "25. lokakuuta 2021 11.17"); elsewhere dots separate dates.
        if sep == '.' && !after_time_word(t, i) && !(i > 0 && matches!(t[i - 1], Tok::Num(_, 4))) {
            continue;
        }
        let mut end = i + 3;
        let mut s = 0;
        if let (Some(Tok::Sep(c)), Some(&Tok::Num(sv, 2))) = (t.get(end), t.get(end + 1)) {
            if *c == sep {
                s = sv;
                end += 2;
            }
        }
        return Some(claim_time(t, i..end, (h, m, s), used));
    }
    None
}

/// `9時30分`, `9時30分15秒`, `9時` (Japanese; `点`/`點` in Chinese) at `t[i]`, with `午後` & co.
fn kanji_time(t: &[Tok<'_>], i: usize, h: u32, used: &mut [bool; MAX_TOKENS]) -> Option<Time> {
    if !matches!(t.get(i + 1), Some(Tok::Sep('時' | '点' | '點'))) {
        return None;
    }
    let mut end = i + 2;
    let (mut m, mut s) = (0, 0);
    if let (Some(&Tok::Num(mv, 1..=2)), Some(Tok::Sep('分'))) = (t.get(end), t.get(end + 1)) {
        m = mv;
        end += 2;
        if let (Some(&Tok::Num(sv, 1..=2)), Some(Tok::Sep('秒'))) = (t.get(end), t.get(end + 1)) {
            s = sv;
            end += 2;
        }
    }
    Some(claim_time(t, i..end, (h, m, s), used))
}

/// A time found at `t[at]`: its tokens are used, and an AM/PM word after it moves the hour.
fn claim_time(
    t: &[Tok<'_>],
    at: std::ops::Range<usize>,
    (h, m, s): (u32, u32, u32),
    used: &mut [bool; MAX_TOKENS],
) -> Time {
    for u in used.iter_mut().take(at.end).skip(at.start) {
        *u = true;
    }
    let mut hour = h;
    match meridiem(t, at.end) {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    (hour, m, s, Some(at.end))
}

/// Whether a local time in Central Europe falls under EU summer time: from 02:00 on the last
/// Sunday of March to 03:00 on the last Sunday of October.
fn eu_summer_time(year: u32, month: u32, day: u32, hour: u32) -> bool {
    let last_sunday = |m: u32| {
        let last = days_in_month(year, m);
        // 1970-01-01 was a Thursday: (days + 4) % 7 is the weekday, 0 = Sunday.
        let weekday = (days_from_civil(year as i64, m, last) + 4).rem_euclid(7) as u32;
        last - weekday
    };
    match month {
        4..=9 => true,
        3 => {
            let d = last_sunday(3);
            day > d || (day == d && hour >= 2)
        }
        10 => {
            let d = last_sunday(10);
            day < d || (day == d && hour < 3)
        }
        _ => false,
    }
}

/// `klo 11.17` (Finnish), `kl. 11.17` (Danish/Norwegian), `kell 11.17` (Estonian).
fn after_time_word(t: &[Tok<'_>], i: usize) -> bool {
    let mut j = i;
    while j > 0 {
        j -= 1;
        match t[j] {
            Tok::Sep('.') => continue,
            Tok::Word(w) => {
                return [
                    "klo", "kl", "kello", "kell", "um", "o", "u", "at", "à", "às", "alle", "om",
                ]
                .iter()
                .any(|k| eq_lower(w, k))
            }
            _ => return false,
        }
    }
    false
}

/// AM/PM after the time (`AM`, `p.m.`) or anywhere as a CJK word (午後, 下午).
fn meridiem(t: &[Tok<'_>], end: usize) -> Option<bool> {
    for tok in t {
        if let Tok::Word(w) = tok {
            if w.contains("午後") || w.contains("下午") || w.contains("晚上") {
                return Some(true);
            }
            if w.contains("午前") || w.contains("上午") || w.contains("早上") {
                return Some(false);
            }
        }
    }
    match (t.get(end), t.get(end + 1), t.get(end + 2)) {
        (Some(Tok::Word(w)), _, _) if eq_lower(w, "pm") => Some(true),
        (Some(Tok::Word(w)), _, _) if eq_lower(w, "am") => Some(false),
        (Some(Tok::Word(w)), Some(Tok::Sep('.')), Some(Tok::Word(m))) if eq_lower(m, "m") => {
            if eq_lower(w, "p") {
                Some(true)
            } else if eq_lower(w, "a") {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The long zone names (lowercase), tokenized, longest first.
struct LongZones {
    names: Vec<(Vec<Tok<'static>>, ZoneName)>,
    /// Names by the first character of their first token (a dozen characters: a linear scan
    /// is faster than hashing).
    by_first: Vec<(char, Vec<usize>)>,
}

fn long_zones() -> &'static LongZones {
    static ZONES: OnceLock<LongZones> = OnceLock::new();
    ZONES.get_or_init(|| {
        let mut names: Vec<(Vec<Tok<'static>>, ZoneName)> = LONG_TIME_ZONES
            .iter()
            .map(|&(name, zone)| (tokenize(name), zone))
            .collect();
        names.sort_by_key(|(toks, _)| std::cmp::Reverse(toks.len()));
        let mut by_first: Vec<(char, Vec<usize>)> = Vec::new();
        for (n, (toks, _)) in names.iter().enumerate() {
            if let Some(c) = toks.first().and_then(first_char) {
                match by_first.iter_mut().find(|(f, _)| *f == c) {
                    Some((_, v)) => v.push(n),
                    None => by_first.push((c, vec![n])),
                }
            }
        }
        LongZones { names, by_first }
    })
}

/// The first character of a token, lowercase (`None` for numbers).
fn first_char(t: &Tok<'_>) -> Option<char> {
    match t {
        Tok::Word(w) => w.chars().next().and_then(|c| c.to_lowercase().next()),
        Tok::Sep(c) => Some(*c),
        Tok::Num(..) => None,
    }
}

/// A long zone name (`Central European Standard Time`, `日本標準時`) starting at `t[i]`:
/// the zone and how many tokens it took.
fn long_zone_at(t: &[Tok<'_>], i: usize) -> Option<(ZoneName, usize)> {
    let zones = long_zones();
    let c = first_char(t.get(i)?)?;
    let (_, candidates) = zones.by_first.iter().find(|(f, _)| *f == c)?;
    candidates.iter().find_map(|&n| {
        let (name, zone) = &zones.names[n];
        let rest = t.get(i..i + name.len())?;
        let same = rest.iter().zip(name).all(|(a, b)| match (a, b) {
            (Tok::Word(a), Tok::Word(b)) => eq_lower(a, b),
            (a, b) => a == b,
        });
        same.then_some((*zone, name.len()))
    })
}

/// The zone after the time: `+0300`, `-05:00`, `GMT+3`, `UTC+01:00`, `(UTC+01:00)`, `CET`,
/// `Central European Standard Time`, `日本標準時`.
fn find_zone(t: &[Tok<'_>], from: usize, used: &mut [bool; MAX_TOKENS]) -> Option<ZoneName> {
    let mut i = from;
    while i < t.len() && i < from + 6 {
        // Long names may start with a separator token (`日本標準時`: `日` is one).
        if let Some((zone, len)) = long_zone_at(t, i) {
            for u in used.iter_mut().skip(i).take(len) {
                *u = true;
            }
            return Some(zone);
        }
        match t[i] {
            Tok::Sep(c @ ('+' | '-' | '−')) => {
                let sign = if c == '+' { 1 } else { -1 };
                if let Some((mins, consumed)) = offset_digits(t, i + 1) {
                    for u in used.iter_mut().skip(i).take(consumed + 1) {
                        *u = true;
                    }
                    return Some(ZoneName::Fixed(sign * mins));
                }
                return None;
            }
            Tok::Word(w) => {
                if let Some(&(_, base)) = TIME_ZONES.iter().find(|(k, _)| eq_lower(w, k)) {
                    used[i] = true;
                    if eq_lower(w, "gmt") || eq_lower(w, "utc") || eq_lower(w, "ut") {
                        if let Some(Tok::Sep(c @ ('+' | '-' | '−'))) = t.get(i + 1) {
                            let sign = if *c == '+' { 1 } else { -1 };
                            if let Some((mins, _)) = offset_digits(t, i + 2) {
                                return Some(ZoneName::Fixed(sign * mins));
                            }
                        }
                    }
                    return Some(ZoneName::Fixed(base));
                }
                // AM/PM and filler words may sit between the time and the zone.
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// `0300`, `3`, `03:00`, `5:30` → minutes, and how many tokens that took.
fn offset_digits(t: &[Tok<'_>], i: usize) -> Option<(i32, usize)> {
    match (t.get(i), t.get(i + 1), t.get(i + 2)) {
        (Some(&Tok::Num(v, 4)), _, _) => {
            let (h, m) = (v / 100, v % 100);
            (h <= 14 && m < 60).then_some(((h * 60 + m) as i32, 1))
        }
        (Some(&Tok::Num(h, 1..=2)), Some(Tok::Sep(':')), Some(&Tok::Num(m, 2))) => {
            (h <= 14 && m < 60).then_some(((h * 60 + m) as i32, 3))
        }
        (Some(&Tok::Num(h, 1..=2)), _, _) => (h <= 14).then_some(((h * 60) as i32, 1)),
        _ => None,
    }
}

fn find_date(
    t: &[Tok<'_>],
    used: &mut [bool; MAX_TOKENS],
    hint: LangSet,
) -> Option<(u32, u32, u32)> {
    let n = t.len();
    let free = |i: usize, used: &[bool; MAX_TOKENS]| i < n && !used[i];
    // y年m月d日
    for i in 0..n {
        if let (
            Some(&Tok::Num(y, 4)),
            Some(Tok::Sep('年')),
            Some(&Tok::Num(m, 1..=2)),
            Some(Tok::Sep('月')),
            Some(&Tok::Num(d, 1..=2)),
        ) = (
            t.get(i),
            t.get(i + 1),
            t.get(i + 2),
            t.get(i + 3),
            t.get(i + 4),
        ) {
            return Some((y, m, d));
        }
        // Japanese era years: 令和8年3月2日, 平成31年, 令和元年 (year 1).
        if let Some((y, k)) = era_year(t, i) {
            if let (Some(&Tok::Num(m, 1..=2)), Some(Tok::Sep('月')), Some(&Tok::Num(d, 1..=2))) =
                (t.get(k), t.get(k + 1), t.get(k + 2))
            {
                return Some((y, m, d));
            }
        }
    }
    // y-m-d, y/m/d, y. m. d.
    for i in 0..n {
        if !free(i, used) {
            continue;
        }
        if let (
            Some(&Tok::Num(y, 4)),
            Some(Tok::Sep(s1)),
            Some(&Tok::Num(m, 1..=2)),
            Some(Tok::Sep(s2)),
            Some(&Tok::Num(d, 1..=2)),
        ) = (
            t.get(i),
            t.get(i + 1),
            t.get(i + 2),
            t.get(i + 3),
            t.get(i + 4),
        ) {
            if s1 == s2 && matches!(s1, '-' | '/' | '.') && free(i + 4, used) {
                return Some((y, m, d));
            }
        }
    }
    // d.m.y, d-m-y, m/d/y or d/m/y
    for i in 0..n {
        if !free(i, used) {
            continue;
        }
        if let (
            Some(&Tok::Num(a, 1..=2)),
            Some(Tok::Sep(s1)),
            Some(&Tok::Num(b, 1..=2)),
            Some(Tok::Sep(s2)),
            Some(&Tok::Num(y, yl)),
        ) = (
            t.get(i),
            t.get(i + 1),
            t.get(i + 2),
            t.get(i + 3),
            t.get(i + 4),
        ) {
            if s1 != s2
                || !matches!(s1, '-' | '/' | '.')
                || !(yl == 2 || yl == 4)
                || !free(i + 4, used)
            {
                continue;
            }
            if *s1 == '/' {
                let month_first = if a > 12 {
                    false
                } else if b > 12 {
                    true
                } else {
                    hint.contains(Lang::En) && hint != LangSet::ALL
                };
                return Some(if month_first { (y, a, b) } else { (y, b, a) });
            }
            return Some((y, b, a));
        }
    }
    // Day, month name, year in any order.
    let mut month: Option<(usize, u8)> = None;
    let first_num = (0..n).find(|&i| matches!(t[i], Tok::Num(..)) && !used[i]);
    for i in 0..n {
        if used[i] {
            continue;
        }
        let Tok::Word(w) = t[i] else { continue };
        let Some(m) = month_of(w, hint) else { continue };
        // A month word before any number is usually a weekday that happens to match
        // (Spanish "mar." = martes); prefer one after the first number if there is one.
        let before_numbers = first_num.is_some_and(|f| i < f);
        match month {
            None => month = Some((i, m)),
            Some((j, _)) if first_num.is_some_and(|f| j < f) && !before_numbers => {
                month = Some((i, m))
            }
            _ => {}
        }
    }
    let (mi, m) = month?;
    used[mi] = true;
    let year_idx = (0..n)
        .find(|&i| !used[i] && matches!(t[i], Tok::Num(y, 4) if (1900..=2200).contains(&y)))?;
    used[year_idx] = true;
    let day_idx = (0..n)
        .find(|&i| !used[i] && matches!(t[i], Tok::Num(d, 1..=2) if (1..=31).contains(&d)))?;
    let (Tok::Num(y, _), Tok::Num(d, _)) = (t[year_idx], t[day_idx]) else {
        return None;
    };
    Some((y, m as u32, d))
}

/// `令和8年` / `令和元年` at `t[i]`: the Gregorian year and the index after `年`.
fn era_year(t: &[Tok<'_>], i: usize) -> Option<(u32, usize)> {
    let Tok::Word(w) = t[i] else { return None };
    // Every era starts with a CJK ideograph (3 UTF-8 bytes from 0xE4): skip other words fast.
    if w.as_bytes().first().is_none_or(|&b| b < 0xE4) {
        return None;
    }
    let (after, base) = JAPANESE_ERAS
        .iter()
        .find_map(|(era, base)| Some((w.strip_prefix(era)?, base)))?;
    match (after, t.get(i + 1), t.get(i + 2)) {
        ("元", Some(Tok::Sep('年')), _) => Some((base + 1, i + 2)),
        ("", Some(&Tok::Num(n, 1..=2)), Some(Tok::Sep('年'))) if n >= 1 => Some((base + n, i + 3)),
        _ => None,
    }
}

fn month_of(word: &str, hint: LangSet) -> Option<u8> {
    if word.len() > 40 {
        return None;
    }
    let readings = month_readings(&lowercase(word));
    if hint != LangSet::ALL {
        if let Some(&(m, _)) = readings
            .iter()
            .find(|(_, langs)| !langs.meet(hint).is_empty())
        {
            return Some(m);
        }
    }
    readings.first().map(|&(m, _)| m)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i64, mo: u32, d: u32, h: i64, mi: i64, off_min: i64) -> i64 {
        (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 - off_min * 60) * 1000
    }

    #[test]
    fn kanji_times() {
        let all = LangSet::ALL;
        assert_eq!(
            parse("2026年3月2日 9時30分", all),
            Some(ms(2026, 3, 2, 9, 30, 0))
        );
        assert_eq!(
            parse("2026年3月2日(月) 午後2時5分", all),
            Some(ms(2026, 3, 2, 14, 5, 0))
        );
        assert_eq!(
            parse("2026年3月2日 9時30分15秒", all),
            Some(ms(2026, 3, 2, 9, 30, 0) + 15_000)
        );
        assert_eq!(
            parse("2026年3月2日 9時", all),
            Some(ms(2026, 3, 2, 9, 0, 0))
        );
        assert_eq!(
            parse("2026年3月2日 星期一 上午9点30分", all),
            Some(ms(2026, 3, 2, 9, 30, 0))
        );
    }

    #[test]
    fn japanese_eras() {
        let all = LangSet::ALL;
        assert_eq!(
            parse("令和8年3月2日 9:30", all),
            Some(ms(2026, 3, 2, 9, 30, 0))
        );
        assert_eq!(parse("令和元年5月1日", all), Some(ms(2019, 5, 1, 0, 0, 0)));
        assert_eq!(
            parse("平成31年4月30日(火) 17:00", all),
            Some(ms(2019, 4, 30, 17, 0, 0))
        );
        assert_eq!(
            parse("令和8年3月2日 9時30分", all),
            Some(ms(2026, 3, 2, 9, 30, 0))
        );
        assert_eq!(parse("令和年3月2日", all), None);
    }

    #[test]
    fn long_zone_names() {
        let all = LangSet::ALL;
        let jst = Some(ms(2026, 3, 2, 9, 30, 540));
        assert_eq!(parse("2026年3月2日 9:30:00 日本標準時", all), jst);
        assert_eq!(
            parse("Monday, March 2, 2026 9:30 AM Tokyo Standard Time", all),
            jst
        );
        assert_eq!(
            parse("March 2, 2026 at 9:30:00 AM Japan Standard Time", all),
            jst
        );
        let cet = Some(ms(2026, 3, 2, 9, 30, 60));
        assert_eq!(
            parse(
                "2 marca 2026 09:30:00 czas środkowoeuropejski standardowy",
                all
            ),
            cet
        );
        assert_eq!(
            parse(
                "March 2, 2026 at 9:30:00 AM Central European Standard Time",
                all
            ),
            cet
        );
        assert_eq!(
            parse("2. März 2026 um 09:30:00 Mitteleuropäische Normalzeit", all),
            cet
        );
        assert_eq!(parse("2026年3月2日 9:30:00 中央ヨーロッパ標準時", all), cet);
        assert_eq!(
            parse("2 lipca 2026 09:30:00 czas środkowoeuropejski letni", all),
            Some(ms(2026, 7, 2, 9, 30, 120))
        );
        // Not "Central Standard Time" (-6 h) nor the generic name.
        assert_eq!(
            parse("July 2, 2026 at 9:30 AM Central Standard Time", all),
            Some(ms(2026, 7, 2, 9, 30, -360))
        );
        // The generic name follows EU summer time (29 March to 25 October in 2026).
        assert_eq!(
            parse("2 lipca 2026 09:30 czas środkowoeuropejski", all),
            Some(ms(2026, 7, 2, 9, 30, 120))
        );
        assert_eq!(
            parse("28 marca 2026 09:30 czas środkowoeuropejski", all),
            Some(ms(2026, 3, 28, 9, 30, 60))
        );
        assert_eq!(
            parse("29 marca 2026 09:30 czas środkowoeuropejski", all),
            Some(ms(2026, 3, 29, 9, 30, 120))
        );
        assert_eq!(
            parse("25 października 2026 09:30 czas środkowoeuropejski", all),
            Some(ms(2026, 10, 25, 9, 30, 60))
        );
        assert_eq!(
            parse_zoned("2026年3月2日 9:30:00 日本標準時", all).map(|z| z.1),
            Some(true)
        );
    }

    #[test]
    fn formats() {
        let all = LangSet::ALL;
        let t = ms(2021, 10, 25, 11, 17, 0);
        assert_eq!(parse("Mon, Oct 25, 2021 at 11:17 AM", all), Some(t));
        assert_eq!(parse("Monday, October 25, 2021 11:17 AM", all), Some(t));
        assert_eq!(parse("Montag, 25. Oktober 2021 11:17", all), Some(t));
        assert_eq!(parse("pon., 25 paź 2021 o 11:17", all), Some(t));
        assert_eq!(parse("2021年10月25日(月) 11:17", all), Some(t));
        assert_eq!(parse("2021年10月25日周一 上午11:17", all), Some(t));
        assert_eq!(
            parse("2021年10月25日 下午11:17", all),
            Some(ms(2021, 10, 25, 23, 17, 0))
        );
        assert_eq!(parse("25.10.2021 klo 11.17", all), Some(t));
        assert_eq!(parse("mar., 25 oct 2021 a las 11:17", all), Some(t));
        assert_eq!(parse("2021. október 25., hétfő 11:17", all), Some(t));
        assert_eq!(parse("25 октября 2021 г. 11:17", all), Some(t));
        assert_eq!(
            parse("Mon, 25 Oct 2021 11:17:00 +0300", all),
            Some(ms(2021, 10, 25, 11, 17, 180))
        );
        assert_eq!(
            parse("Monday, October 25, 2021, 11:17:00 AM GMT+3", all),
            Some(ms(2021, 10, 25, 11, 17, 180))
        );
        assert_eq!(
            parse("25 October 2021 at 11:17:00 CEST", all),
            Some(ms(2021, 10, 25, 11, 17, 120))
        );
        assert_eq!(
            parse("10/25/2021 11:17 PM", all),
            Some(ms(2021, 10, 25, 23, 17, 0))
        );
        assert_eq!(parse("2021-10-25 11:17", all), Some(t));
        assert_eq!(
            parse("25. listopada 2021 11:17", LangSet::of(Lang::Hr)),
            Some(ms(2021, 10, 25, 11, 17, 0))
        );
        assert_eq!(
            parse("25 listopada 2021 11:17", all),
            Some(ms(2021, 11, 25, 11, 17, 0))
        );
        assert_eq!(parse("yesterday", all), None);
        assert_eq!(parse("31.02.2021", all), None);
    }
}
