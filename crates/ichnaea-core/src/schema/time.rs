//! Submission timestamps (`api.md` §5.1, §5.4).
//!
//! Reports carry milliseconds since the epoch. The reference only trusts values in the
//! open window (10^12, 10^13) ms (2001–2286) and replaces anything else by "now"; the
//! legacy `/v1/submit` API sends an ISO-8601 string instead, parsed by the Python
//! `iso8601` package. Both rules are reproduced here without reading a clock: callers
//! pass `now_ms`.
//!
//! **Quirk kept:** the ISO parser honours the *syntax* of a timezone offset (an offset of
//! 24 h or more makes the value unparsable) but then reads the wall-clock time as UTC,
//! because the reference converts with `timegm(dt.timetuple())`. So
//! `2016-04-07T03:33:20+02:00` is 1460000000000, like `...Z`. GeoClue ≤ 2.6 sends
//! hours-only offsets (`+01`), which parse.

/// Exclusive lower bound of accepted timestamps, in ms.
pub const MIN_TIMESTAMP_MS: i64 = 1_000_000_000_000;
/// Exclusive upper bound of accepted timestamps, in ms.
pub const MAX_TIMESTAMP_MS: i64 = 10_000_000_000_000;

/// The reference's `UnixTimeFromInteger`: a missing, zero or out-of-window value becomes
/// `now_ms`.
pub fn timestamp_or_now(value: Option<i64>, now_ms: i64) -> i64 {
    match value {
        Some(ms) if ms > MIN_TIMESTAMP_MS && ms < MAX_TIMESTAMP_MS => ms,
        _ => now_ms,
    }
}

/// The reference's `UnixTimeFromString`: an ISO-8601 date or date-time, read as UTC
/// wall-clock time and truncated to whole seconds; unparsable or out-of-window values
/// become `now_ms`.
pub fn iso_timestamp_or_now(value: Option<&str>, now_ms: i64) -> i64 {
    timestamp_or_now(value.and_then(parse_iso8601_ms), now_ms)
}

/// Parses an ISO-8601 string like `iso8601.parse_date` and converts it like
/// `timegm(dt.timetuple()) * 1000` (offset ignored, fraction truncated).
pub fn parse_iso8601_ms(text: &str) -> Option<i64> {
    let fields = match_iso8601(text.as_bytes())?;
    let valid = fields.year >= 1
        && (1..=12).contains(&fields.month)
        && fields.day >= 1
        && fields.day <= days_in_month(fields.year, fields.month)
        && fields.hour <= 23
        && fields.minute <= 59
        && fields.second <= 59
        && fields.offset_minutes < 24 * 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(fields.year, fields.month, fields.day);
    let seconds = days * 86_400
        + i64::from(fields.hour) * 3600
        + i64::from(fields.minute) * 60
        + i64::from(fields.second);
    Some(seconds * 1000)
}

#[derive(Debug, Clone, Copy, Default)]
struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Absolute size of the timezone offset, only used for validation.
    offset_minutes: u32,
}

/// `$` of Python's `re`: the end, or just before a final newline.
fn at_end(s: &[u8], pos: usize) -> bool {
    pos == s.len() || (pos + 1 == s.len() && s[pos] == b'\n')
}

fn digits(s: &[u8], pos: usize, n: usize) -> Option<u32> {
    let part = s.get(pos..pos + n)?;
    part.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// `-(\d{1,2})` (greedy) then, if `plain`, `(\d{2})`: the alternatives in the order
/// the regex engine tries them.
fn dash_or_plain(s: &[u8], pos: usize, forbid_end_after_plain: bool) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    if s.get(pos) == Some(&b'-') {
        if let Some(v) = digits(s, pos + 1, 2) {
            out.push((v, pos + 3));
        }
        if let Some(v) = digits(s, pos + 1, 1) {
            out.push((v, pos + 2));
        }
    }
    if let Some(v) = digits(s, pos, 2)
        && !(forbid_end_after_plain && at_end(s, pos + 2))
    {
        out.push((v, pos + 2));
    }
    out
}

/// The optional `(:?\d{2})` / `(:?\d{1,2}([.,]\d+)?)` groups.
fn colon_number(s: &[u8], pos: usize, widths: &[usize], fraction: bool) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    for colon in [true, false] {
        let start = if colon {
            if s.get(pos) != Some(&b':') {
                continue;
            }
            pos + 1
        } else {
            pos
        };
        for &w in widths {
            if let Some(v) = digits(s, start, w) {
                let mut end = start + w;
                if fraction
                    && matches!(s.get(end), Some(b'.' | b','))
                    && s.get(end + 1).is_some_and(u8::is_ascii_digit)
                {
                    end += 1;
                    while s.get(end).is_some_and(u8::is_ascii_digit) {
                        end += 1;
                    }
                }
                out.push((v, end));
            }
        }
    }
    out
}

/// `(Z|[-+]\d{2}:?(\d{2})?)?` alternatives: (offset minutes, end).
fn timezone(s: &[u8], pos: usize) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    match s.get(pos) {
        Some(b'Z') => out.push((0, pos + 1)),
        Some(b'+' | b'-') => {
            if let Some(h) = digits(s, pos + 1, 2) {
                let after = pos + 3;
                if s.get(after) == Some(&b':') {
                    if let Some(m) = digits(s, after + 1, 2) {
                        out.push((h * 60 + m, after + 3));
                    }
                    out.push((h * 60, after + 1));
                }
                if let Some(m) = digits(s, after, 2) {
                    out.push((h * 60 + m, after + 2));
                }
                out.push((h * 60, after));
            }
        }
        _ => {}
    }
    out.push((0, pos));
    out
}

/// The time part `[ T]hh(:?mm)?(:?ss([.,]f+)?)?(tz)?` followed by the end, or `None`.
fn match_time(s: &[u8], pos: usize, mut f: Fields) -> Option<Fields> {
    if !matches!(s.get(pos), Some(b' ' | b'T')) {
        return None;
    }
    f.hour = digits(s, pos + 1, 2)?;
    let after_hour = pos + 3;
    let mut minutes = colon_number(s, after_hour, &[2], false);
    minutes.push((0, after_hour));
    for (minute, after_minute) in minutes {
        let mut seconds = colon_number(s, after_minute, &[2, 1], true);
        seconds.push((0, after_minute));
        for (second, after_second) in seconds {
            for (offset, end) in timezone(s, after_second) {
                if at_end(s, end) {
                    return Some(Fields {
                        minute,
                        second,
                        offset_minutes: offset,
                        ..f
                    });
                }
            }
        }
    }
    None
}

/// A backtracking matcher equivalent to the `iso8601` package's `ISO8601_REGEX`.
fn match_iso8601(s: &[u8]) -> Option<Fields> {
    let year = i64::from(digits(s, 0, 4)?);
    let base = Fields {
        year,
        month: 1,
        day: 1,
        ..Fields::default()
    };
    for (month, after_month) in dash_or_plain(s, 4, true) {
        for (day, after_day) in dash_or_plain(s, after_month, false) {
            let f = Fields { month, day, ..base };
            if let Some(found) = match_time(s, after_day, f) {
                return Some(found);
            }
            if at_end(s, after_day) {
                return Some(f);
            }
        }
        if at_end(s, after_month) {
            return Some(Fields { month, ..base });
        }
    }
    at_end(s, 4).then_some(base)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_123;

    #[test]
    fn integer_timestamps_use_the_open_window() {
        assert_eq!(
            timestamp_or_now(Some(146 * 10_i64.pow(10)), NOW),
            1_460_000_000_000
        );
        assert_eq!(timestamp_or_now(Some(146 * 10_i64.pow(9)), NOW), NOW);
        assert_eq!(timestamp_or_now(Some(10_i64.pow(12)), NOW), NOW);
        assert_eq!(
            timestamp_or_now(Some(10_i64.pow(12) + 1), NOW),
            10_i64.pow(12) + 1
        );
        assert_eq!(timestamp_or_now(Some(10_i64.pow(13)), NOW), NOW);
        assert_eq!(timestamp_or_now(Some(0), NOW), NOW);
        assert_eq!(timestamp_or_now(None, NOW), NOW);
    }

    #[test]
    fn iso_strings_ignore_the_offset() {
        for text in [
            "2016-04-07T03:33:20",
            "2016-04-07T03:33:20Z",
            "2016-04-07T03:33:20+02:00",
            "2016-04-07T03:33:20+02",
            "2016-04-07T03:33:20.999-0530",
            "2016-04-07 03:33:20",
            "20160407T033320",
            "2016-04-07T03:33:20\n",
        ] {
            assert_eq!(parse_iso8601_ms(text), Some(1_460_000_000_000), "{text}");
        }
        assert_eq!(parse_iso8601_ms("2016-04-07"), Some(1_459_987_200_000));
        assert_eq!(parse_iso8601_ms("2016-4-7"), Some(1_459_987_200_000));
        assert_eq!(parse_iso8601_ms("2016-04"), Some(1_459_468_800_000));
        assert_eq!(parse_iso8601_ms("2016"), Some(1_451_606_400_000));
        assert_eq!(parse_iso8601_ms("2016-04-07T03"), Some(1_459_998_000_000));
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00"), Some(0));
        assert_eq!(parse_iso8601_ms("1710-02-28"), Some(-8_199_792_000_000));
    }

    #[test]
    fn invalid_iso_strings() {
        for text in [
            "",
            "201604",
            "2016-13-01",
            "2016-02-30",
            "2016-04-07T24:00:00",
            "2016-04-07T03:60",
            "2016-04-07T03:33:60",
            "2016-04-07T03:33:20+24:00",
            "2016-04-07X03:33:20",
            "0000-01-01",
            "yesterday",
            " 2016-04-07",
            "2016-04-07 ",
        ] {
            assert_eq!(parse_iso8601_ms(text), None, "{text:?}");
        }
        assert_eq!(parse_iso8601_ms("2016-02-29"), Some(1_456_704_000_000));
    }

    #[test]
    fn iso_timestamps_fall_back_to_now() {
        assert_eq!(
            iso_timestamp_or_now(Some("2016-04-07T03:33:20"), NOW),
            1_460_000_000_000
        );
        assert_eq!(iso_timestamp_or_now(Some("1710-02-28"), NOW), NOW);
        assert_eq!(iso_timestamp_or_now(Some("garbage"), NOW), NOW);
        assert_eq!(iso_timestamp_or_now(None, NOW), NOW);
    }
}
