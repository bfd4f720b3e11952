//! How much a station or area row is trusted (`api.md` §8.5).
//!
//! A score combines three weights: recency (data changed this month counts fully,
//! older data by `1/sqrt(months + 1)`), collection span (seen over at least 10 days
//! counts fully, a single day counts 0.1) and volume (the number of samples on a log2
//! scale for stations, the number of cells on a sqrt scale for areas). Scores decide
//! which MAC networks form the position sample, weight the cell and initial MAC
//! positions, and are summed to rank competing answers and regions.
//!
//! Rows whose `created` or `modified` time is missing (never written so by the
//! pipeline; the reference would fail on them) use the other of the two, or `now`.

use super::station::{AreaStation, Station};
use crate::time::{Date, DateTime};

/// The score of a WiFi, Bluetooth or cell station at `now`.
pub fn station_score<I>(station: &Station<I>, now: DateTime) -> f64 {
    let (created, modified) = times(station.created, station.modified, now);
    // The creation date survives a move; only time at the current position counts.
    let created_date = match station.block_last {
        Some(block_last) => created.date().max(block_last),
        None => created.date(),
    };
    let samples = effective_count(station.samples, station.radius);
    // Python's math.log(n, 2) is ln(n) / ln(2), which differs from log2 in the last
    // bit; scores feed the weights, so the reference's form is kept.
    let sample_weight = (f64::from(samples.max(1)).ln() / 2f64.ln()).clamp(0.5, 10.0);
    score(
        now,
        modified,
        station.last_seen,
        created_date,
        sample_weight,
    )
}

/// The score of a cell area at `now`.
pub fn area_score(area: &AreaStation, now: DateTime) -> f64 {
    let (created, modified) = times(area.created, area.modified, now);
    let cells = effective_count(area.num_cells, area.radius);
    let sample_weight = f64::from(cells.max(1)).sqrt().min(10.0);
    score(now, modified, area.last_seen, created.date(), sample_weight)
}

/// The count used for the volume weight: a row seen many times but never with any
/// spread (radius 0 or missing) counts as one, as repeated identical observations add
/// no information.
fn effective_count(count: Option<u32>, radius: Option<u32>) -> u32 {
    let count = count.unwrap_or(0);
    if count > 1 && radius.unwrap_or(0) == 0 {
        1
    } else {
        count
    }
}

fn times(
    created: Option<DateTime>,
    modified: Option<DateTime>,
    now: DateTime,
) -> (DateTime, DateTime) {
    let created = created.or(modified).unwrap_or(now);
    let modified = modified.unwrap_or(created);
    (created, modified)
}

fn score(
    now: DateTime,
    modified: DateTime,
    last_seen: Option<Date>,
    created_date: Date,
    sample_weight: f64,
) -> f64 {
    let month_old = now.days_since(modified).max(0) / 30;
    let age_weight = 1.0 / ((month_old + 1) as f64).sqrt();
    let last_seen_date = match last_seen {
        Some(seen) => modified.date().max(seen),
        None => modified.date(),
    };
    let collected_over = last_seen_date.days_since(created_date).max(1);
    let collection_weight = (collected_over as f64 / 10.0).min(1.0);
    age_weight * collection_weight * sample_weight
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::Radio;
    use crate::ids::{CellAreaId, Mac};
    use crate::numeric::round_decimals;

    fn now() -> DateTime {
        DateTime::from_unix_seconds(1_705_000_000)
    }

    struct Row {
        created: i64,
        modified: i64,
        radius: u32,
        samples: u32,
        block_last: Option<i32>,
        last_seen: Option<i32>,
    }

    fn station(row: &Row) -> Station<Mac> {
        let mut s = Station::new(Mac::parse("a82066123456").unwrap(), 51.5, -0.1, now());
        s.created = Some(now().add_days(-row.created));
        s.modified = Some(now().add_days(-row.modified));
        s.radius = Some(row.radius);
        s.samples = Some(row.samples);
        s.block_last = row.block_last.map(|d| now().date().add_days(-d));
        s.last_seen = row.last_seen.map(|d| now().date().add_days(-d));
        s
    }

    #[test]
    fn station_scores_match_the_reference_table() {
        // api.md §8.5, rounded to 2 decimals; "now" = modified unless noted.
        let table = [
            (0, 0, 0, 1, None, None, 0.05),
            (1, 0, 10, 2, None, None, 0.1),
            (5, 0, 10, 2, None, None, 0.5),
            (10, 0, 10, 2, None, None, 1.0),
            (10, 0, 10, 64, None, None, 6.0),
            (10, 0, 10, 1024, None, None, 10.0),
            (10, 0, 0, 1024, None, None, 0.5),
            (70, 40, 10, 1024, None, None, 7.07),
            (190, 180, 10, 1024, None, None, 3.78),
            (190, 180, 10, 64, None, None, 2.27),
            (70, 60, 10, 64, Some(65), None, 1.73),
            (70, 60, 10, 64, Some(65), Some(58), 2.42),
        ];
        for (created, modified, radius, samples, block_last, last_seen, expected) in table {
            let row = Row {
                created,
                modified,
                radius,
                samples,
                block_last,
                last_seen,
            };
            let got = round_decimals(station_score(&station(&row), now()), 2);
            assert_eq!(got, expected, "created -{created}d samples {samples}");
        }
    }

    #[test]
    fn fresh_station_and_area_scores() {
        let fresh = Station::new(Mac::parse("a82066123456").unwrap(), 51.5, -0.1, now());
        assert!((station_score(&fresh, now()) - 0.05).abs() < 1e-12);
        let id = CellAreaId::new(Radio::Gsm, 234, 30, 1).unwrap();
        let area = AreaStation::new(id, 51.5, -0.1, now());
        assert!((area_score(&area, now()) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn area_scores_match_the_reference_table() {
        let id = CellAreaId::new(Radio::Gsm, 234, 30, 1).unwrap();
        let area = |radius: u32, cells: u32| AreaStation {
            radius: Some(radius),
            num_cells: Some(cells),
            ..AreaStation::new(id, 51.5, -0.1, now())
        };
        assert_eq!(round_decimals(area_score(&area(10, 4), now()), 2), 0.2);
        assert_eq!(round_decimals(area_score(&area(0, 100), now()), 2), 0.1);
        assert_eq!(round_decimals(area_score(&area(10, 100), now()), 2), 1.0);
        assert_eq!(round_decimals(area_score(&area(10, 1000), now()), 2), 1.0);
    }

    #[test]
    fn missing_times_and_samples_do_not_fail() {
        let mut s = Station::new(Mac::parse("a82066123456").unwrap(), 51.5, -0.1, now());
        s.created = None;
        s.modified = None;
        s.samples = None;
        s.last_seen = None;
        assert!((station_score(&s, now()) - 0.05).abs() < 1e-12);
        s.modified = Some(now().add_days(-20));
        // created falls back to modified: one day of collection, this month.
        assert!((station_score(&s, now()) - 0.05).abs() < 1e-12);
    }
}
