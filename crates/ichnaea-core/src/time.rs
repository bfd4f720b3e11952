//! UTC dates and timestamps, as plain integers.
//!
//! The pipeline and the locate rules compare days ("blocked until the day after tomorrow", "not modified for a
//! year") and stamps rows with second-precision times. MySQL stores `DATE` and naive UTC
//! `DATETIME` columns (`pipeline.md` §2.1, quirk 23). ichnaea-core has no date library, and
//! none is needed: a day is a count of days since 1970-01-01 and a time is a count of
//! seconds since the Unix epoch, both in UTC, so there is no time zone to get wrong. The
//! conversions to and from year-month-day are exact (proleptic Gregorian calendar, Howard
//! Hinnant's `days_from_civil` / `civil_from_days` algorithms).
//!
//! Every pure function (locate and pipeline) receives "now" as a [`DateTime`] and derives
//! "today" with [`DateTime::date`], so results are deterministic. The database layer
//! converts its `DATE`/`DATETIME` columns into these types. Whole seconds are enough: the
//! stored times have second precision, so flooring "now" to a second gives the same
//! whole-day differences as the reference's microsecond clock.

use std::fmt;

/// Seconds in one day.
const SECONDS_PER_DAY: i64 = 86_400;

/// A UTC calendar day, stored as days since 1970-01-01 (negative before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(i32);

impl Date {
    /// 1970-01-01.
    pub const EPOCH: Date = Date(0);

    /// The day `days` days after 1970-01-01.
    pub const fn from_days(days: i32) -> Date {
        Date(days)
    }

    /// Days since 1970-01-01.
    pub const fn days(self) -> i32 {
        self.0
    }

    /// The day of a proleptic Gregorian date; `None` for impossible dates (month 13,
    /// February 30, ...) or years outside ±5 000 000.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(-5_000_000..=5_000_000).contains(&year)
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
        {
            return None;
        }
        let days = days_from_civil(i64::from(year), month, day);
        i32::try_from(days).ok().map(Date)
    }

    /// Year, month (1–12) and day (1–31).
    pub fn to_ymd(self) -> (i32, u32, u32) {
        civil_from_days(i64::from(self.0))
    }

    /// The day `days` days later (earlier for negative values); saturates at the ends of the
    /// representable range.
    pub const fn add_days(self, days: i32) -> Date {
        Date(self.0.saturating_add(days))
    }

    /// Whole days from `earlier` to `self` (negative if `earlier` is later).
    pub const fn days_since(self, earlier: Date) -> i64 {
        self.0 as i64 - earlier.0 as i64
    }

    /// `YYYYMMDD`, as used in the `statcounter_*` Redis keys.
    pub fn to_compact(self) -> String {
        let (y, m, d) = self.to_ymd();
        format!("{y:04}{m:02}{d:02}")
    }

    /// Midnight at the start of this day.
    pub fn start(self) -> DateTime {
        DateTime(i64::from(self.0) * SECONDS_PER_DAY)
    }
}

impl fmt::Display for Date {
    /// ISO 8601 `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.to_ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// A UTC instant with second precision, stored as seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(i64);

impl DateTime {
    /// The instant `seconds` after 1970-01-01T00:00:00Z.
    pub const fn from_unix_seconds(seconds: i64) -> DateTime {
        DateTime(seconds)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix_seconds(self) -> i64 {
        self.0
    }

    /// The instant of a UTC calendar date and wall-clock time; `None` for impossible values.
    pub fn from_ymd_hms(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Option<DateTime> {
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let date = Date::from_ymd(year, month, day)?;
        let seconds = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        Some(DateTime(date.start().0 + seconds))
    }

    /// Calendar date and wall-clock time: `(year, month, day, hour, minute, second)`.
    pub fn to_ymd_hms(self) -> (i32, u32, u32, u32, u32, u32) {
        let (y, m, d) = self.date().to_ymd();
        let rest = self.0.rem_euclid(SECONDS_PER_DAY);
        let (hour, minute, second) = (rest / 3600, rest % 3600 / 60, rest % 60);
        (y, m, d, hour as u32, minute as u32, second as u32)
    }

    /// The UTC day of this instant (what Python's `datetime.date()` gives for a UTC value).
    pub fn date(self) -> Date {
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        Date(days.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }

    /// The instant `seconds` later (earlier for negative values), saturating.
    pub const fn add_seconds(self, seconds: i64) -> DateTime {
        DateTime(self.0.saturating_add(seconds))
    }

    /// The instant `days` whole days later (earlier for negative values), saturating.
    pub const fn add_days(self, days: i64) -> DateTime {
        DateTime(self.0.saturating_add(days.saturating_mul(SECONDS_PER_DAY)))
    }

    /// Whole days from `earlier` to `self`, floored like Python's `timedelta.days` (23 hours
    /// is 0 days; minus one hour is −1 day).
    pub const fn days_since(self, earlier: DateTime) -> i64 {
        (self.0 - earlier.0).div_euclid(SECONDS_PER_DAY)
    }
}

impl fmt::Display for DateTime {
    /// ISO 8601 `YYYY-MM-DDTHH:MM:SSZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s) = self.to_ymd_hms();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant, `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count (Hinnant, `civil_from_days`).
fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(Date::from_ymd(1970, 1, 1), Some(Date::EPOCH));
        assert_eq!(Date::from_ymd(2000, 3, 1).unwrap().days(), 11_017);
        assert_eq!(Date::from_ymd(2024, 1, 12).unwrap().days(), 19_734);
        assert_eq!(Date::from_ymd(1969, 12, 31).unwrap().days(), -1);
        assert_eq!(Date::from_days(19_734).to_ymd(), (2024, 1, 12));
        assert_eq!(Date::from_days(-719_468).to_ymd(), (0, 3, 1));
    }

    #[test]
    fn impossible_dates_are_rejected() {
        assert_eq!(Date::from_ymd(2023, 2, 29), None);
        assert!(Date::from_ymd(2024, 2, 29).is_some());
        assert_eq!(Date::from_ymd(1900, 2, 29), None);
        assert!(Date::from_ymd(2000, 2, 29).is_some());
        assert_eq!(Date::from_ymd(2024, 13, 1), None);
        assert_eq!(Date::from_ymd(2024, 4, 31), None);
        assert_eq!(Date::from_ymd(2024, 4, 0), None);
        assert_eq!(DateTime::from_ymd_hms(2024, 1, 1, 24, 0, 0), None);
    }

    #[test]
    fn every_day_round_trips_over_a_wide_range() {
        let mut previous: Option<(i32, u32, u32)> = None;
        for days in -800_000..800_000 {
            let date = Date::from_days(days);
            let (y, m, d) = date.to_ymd();
            assert_eq!(Date::from_ymd(y, m, d), Some(date));
            if let Some(prev) = previous {
                assert!((y, m, d) > prev, "calendar must be strictly increasing");
            }
            previous = Some((y, m, d));
        }
    }

    #[test]
    fn formatting_and_arithmetic() {
        let day = Date::from_ymd(2024, 1, 5).unwrap();
        assert_eq!(day.to_string(), "2024-01-05");
        assert_eq!(day.to_compact(), "20240105");
        assert_eq!(day.add_days(-5).to_string(), "2023-12-31");
        assert_eq!(day.days_since(day.add_days(-45)), 45);
        let t = DateTime::from_ymd_hms(2024, 1, 5, 23, 59, 59).unwrap();
        assert_eq!(t.date(), day);
        assert_eq!(t.add_seconds(1).date(), day.add_days(1));
        assert_eq!(t.to_string(), "2024-01-05T23:59:59Z");
        assert_eq!(t.add_days(-1).to_ymd_hms(), (2024, 1, 4, 23, 59, 59));
        assert_eq!(DateTime::from_unix_seconds(-1).date(), Date::from_days(-1));
        assert_eq!(DateTime::from_unix_seconds(1_704_412_800).date(), day);
        assert_eq!(day.start().unix_seconds(), 1_704_412_800);
    }
}
