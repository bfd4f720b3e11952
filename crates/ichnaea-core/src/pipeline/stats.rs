//! Statistics: daily Redis counters folded into running totals, and per-region station
//! counts (`pipeline.md` §8).
//!
//! Station updaters only `INCRBY` cheap daily counters (`statcounter_<key>_<YYYYMMDD>`,
//! [`stat_counter_key`]); a periodic job moves those deltas into the `stat` table, whose
//! values are **running totals** (total WiFi stations ever created up to that day, ...).
//! Moving a delta means adding it to the table and subtracting it from the counter, and
//! both must happen exactly once: [`fold_stat_counter`] returns the pair, and a replay is
//! harmless only because the first run decremented the counter to 0.
//!
//! Region statistics are recomputed from scratch ([`region_stats`], [`plan_region_stats`]),
//! which is idempotent.

use std::collections::BTreeMap;

use crate::enums::{Radio, StatKey};
use crate::pipeline::region::RegionCode;
use crate::time::Date;

/// Lifetime of a stat counter key, seconds (re-set on every increment and decrement).
pub const STAT_COUNTER_TTL_SECONDS: u64 = 172_800;
/// `cleanup_stat` keeps this many days of `stat` rows.
pub const STAT_MAX_AGE_DAYS: i32 = 730;
/// The website cache key `update_statregion` deletes after writing new region stats.
pub const STATS_REGIONS_CACHE_KEY: &str = "cache:stats_regions:4";
/// The order in which `update_statcounter` visits the keys (the enum order).
pub const STAT_KEY_ORDER: [StatKey; 6] = [
    StatKey::Cell,
    StatKey::UniqueCell,
    StatKey::Wifi,
    StatKey::UniqueWifi,
    StatKey::Blue,
    StatKey::UniqueBlue,
];

/// The Redis key of a daily stat counter, e.g. `statcounter_unique_wifi_20240112`.
pub fn stat_counter_key(key: StatKey, day: Date) -> String {
    let name: &'static str = key.into();
    format!("statcounter_{name}_{}", day.to_compact())
}

/// The days `update_statcounter` folds, in order: yesterday, then today.
pub fn stat_fold_days(today: Date) -> [Date; 2] {
    [today.add_days(-1), today]
}

/// `cleanup_stat`: rows with `time` before this day are deleted.
pub fn stat_cleanup_cutoff(today: Date) -> Date {
    today.add_days(-STAT_MAX_AGE_DAYS)
}

/// The write for one `(key, day)` of `update_statcounter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatWrite {
    /// Nothing to write (the row exists and the counter is 0).
    None,
    /// `UPDATE stat SET value = value + add WHERE key = ? AND time = day`.
    Add(i64),
    /// `INSERT (key, day, value) ON DUPLICATE KEY UPDATE value = value + add`: a new
    /// running total, carried forward from the most recent earlier row.
    Insert {
        /// The total to insert.
        value: u64,
        /// The delta to add instead if the row appeared concurrently.
        add: i64,
    },
}

/// What folding one counter into the `stat` table does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFold {
    /// The database write.
    pub write: StatWrite,
    /// The amount to `DECRBY` from the counter after the commit (then `EXPIRE`), if any.
    pub decrement: Option<i64>,
}

/// Folds the counter value of one `(key, day)` into the `stat` table.
///
/// * `row_exists`: a row for `(key, day)` exists;
/// * `previous_total`: value of the most recent row with `time < day` (`None`: no row);
/// * `counter`: the Redis counter (missing → 0).
///
/// An existing row gets the delta added (nothing when it is 0); otherwise a row with
/// `previous_total + counter` is inserted — also when the counter is 0, which carries the
/// total forward to days without activity.
pub fn fold_stat_counter(row_exists: bool, previous_total: Option<u64>, counter: i64) -> StatFold {
    if row_exists {
        if counter == 0 {
            return StatFold {
                write: StatWrite::None,
                decrement: None,
            };
        }
        return StatFold {
            write: StatWrite::Add(counter),
            decrement: Some(counter),
        };
    }
    StatFold {
        write: StatWrite::Insert {
            value: previous_total.unwrap_or(0).saturating_add_signed(counter),
            add: counter,
        },
        decrement: Some(counter),
    }
}

/// Per-region station counts (`region_stat` columns; `nr` is our 5G addition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionStatCounts {
    /// GSM cells.
    pub gsm: u64,
    /// WCDMA cells.
    pub wcdma: u64,
    /// LTE cells.
    pub lte: u64,
    /// NR cells.
    pub nr: u64,
    /// Bluetooth beacons.
    pub blue: u64,
    /// WiFi access points.
    pub wifi: u64,
}

impl RegionStatCounts {
    fn cells_mut(&mut self, radio: Radio) -> &mut u64 {
        match radio {
            Radio::Gsm => &mut self.gsm,
            Radio::Wcdma => &mut self.wcdma,
            Radio::Lte => &mut self.lte,
            Radio::Nr => &mut self.nr,
        }
    }
}

/// An existing `region_stat` row (`None` is SQL `NULL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionStatRow {
    /// `gsm`.
    pub gsm: Option<u64>,
    /// `wcdma`.
    pub wcdma: Option<u64>,
    /// `lte`.
    pub lte: Option<u64>,
    /// `nr`.
    pub nr: Option<u64>,
    /// `blue`.
    pub blue: Option<u64>,
    /// `wifi`.
    pub wifi: Option<u64>,
}

impl RegionStatRow {
    /// Whether the row already holds exactly these counts.
    pub fn matches(&self, counts: &RegionStatCounts) -> bool {
        self.gsm == Some(counts.gsm)
            && self.wcdma == Some(counts.wcdma)
            && self.lte == Some(counts.lte)
            && self.nr == Some(counts.nr)
            && self.blue == Some(counts.blue)
            && self.wifi == Some(counts.wifi)
    }
}

/// Sums the gathered counts per region (`update_statregion` step 1).
///
/// * `cell_areas`: `(region, radio, num_cells)` of `cell_area` rows or of their
///   `SUM(num_cells) … GROUP BY region, radio`;
/// * `blue`, `wifi`: `(region, count)` per shard table.
///
/// Rows without region are ignored.
pub fn region_stats(
    cell_areas: impl IntoIterator<Item = (Option<RegionCode>, Radio, u64)>,
    blue: impl IntoIterator<Item = (Option<RegionCode>, u64)>,
    wifi: impl IntoIterator<Item = (Option<RegionCode>, u64)>,
) -> BTreeMap<RegionCode, RegionStatCounts> {
    let mut out: BTreeMap<RegionCode, RegionStatCounts> = BTreeMap::new();
    for (region, radio, n) in cell_areas {
        if let Some(region) = region {
            *out.entry(region).or_default().cells_mut(radio) += n;
        }
    }
    for (region, n) in blue {
        if let Some(region) = region {
            out.entry(region).or_default().blue += n;
        }
    }
    for (region, n) in wifi {
        if let Some(region) = region {
            out.entry(region).or_default().wifi += n;
        }
    }
    out
}

/// The writes of `update_statregion`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionStatPlan {
    /// Rows to insert or update (only those whose stored values differ).
    pub upsert: Vec<(RegionCode, RegionStatCounts)>,
    /// Regions to delete (no longer present).
    pub delete: Vec<RegionCode>,
}

/// Plans the `region_stat` writes from freshly gathered counts and the existing rows.
/// `None` if nothing was gathered: then nothing is written or deleted (and the
/// [`STATS_REGIONS_CACHE_KEY`] is left alone); otherwise the caller also deletes that key.
pub fn plan_region_stats(
    counts: &BTreeMap<RegionCode, RegionStatCounts>,
    existing: &BTreeMap<RegionCode, RegionStatRow>,
) -> Option<RegionStatPlan> {
    if counts.is_empty() {
        return None;
    }
    let upsert = counts
        .iter()
        .filter(|(region, c)| !existing.get(region).is_some_and(|row| row.matches(c)))
        .map(|(region, c)| (*region, *c))
        .collect();
    let delete = existing
        .keys()
        .filter(|region| !counts.contains_key(region))
        .copied()
        .collect();
    Some(RegionStatPlan { upsert, delete })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn today() -> Date {
        Date::from_ymd(2024, 1, 12).unwrap()
    }

    /// The `stat` table and the Redis counters, with `update_statcounter` applied to them.
    #[derive(Default)]
    struct World {
        stat: BTreeMap<(StatKey, Date), u64>,
        counters: HashMap<(StatKey, Date), i64>,
    }

    impl World {
        fn run(&mut self, today: Date) {
            for key in STAT_KEY_ORDER {
                for day in stat_fold_days(today) {
                    let counter = self.counters.get(&(key, day)).copied().unwrap_or(0);
                    let exists = self.stat.contains_key(&(key, day));
                    let previous = self
                        .stat
                        .range((key, Date::from_days(i32::MIN))..(key, day))
                        .next_back()
                        .map(|(_, v)| *v);
                    let fold = fold_stat_counter(exists, previous, counter);
                    match fold.write {
                        StatWrite::None => {}
                        StatWrite::Add(add) => {
                            let v = self.stat.entry((key, day)).or_default();
                            *v = v.saturating_add_signed(add);
                        }
                        StatWrite::Insert { value, add } => match self.stat.get_mut(&(key, day)) {
                            Some(v) => *v = v.saturating_add_signed(add),
                            None => {
                                self.stat.insert((key, day), value);
                            }
                        },
                    }
                    if let Some(dec) = fold.decrement {
                        *self.counters.entry((key, day)).or_default() -= dec;
                    }
                }
            }
        }

        fn value(&self, key: StatKey, day: Date) -> Option<u64> {
            self.stat.get(&(key, day)).copied()
        }
    }

    #[test]
    fn counter_key_names() {
        assert_eq!(
            stat_counter_key(StatKey::UniqueWifi, today()),
            "statcounter_unique_wifi_20240112"
        );
        assert_eq!(
            stat_counter_key(StatKey::Cell, today()),
            "statcounter_cell_20240112"
        );
    }

    #[test]
    fn first_day() {
        let mut w = World::default();
        w.counters.insert((StatKey::UniqueCell, today()), 3);
        w.run(today());
        assert_eq!(w.value(StatKey::UniqueCell, today()), Some(3));
        assert_eq!(w.counters[&(StatKey::UniqueCell, today())], 0);
    }

    #[test]
    fn adds_to_yesterday() {
        let mut w = World::default();
        let yesterday = today().add_days(-1);
        w.stat.insert((StatKey::UniqueCell, yesterday), 2);
        w.counters.insert((StatKey::UniqueCell, today()), 4);
        w.run(today());
        assert_eq!(w.value(StatKey::UniqueCell, today()), Some(6));
        assert_eq!(w.value(StatKey::UniqueCell, yesterday), Some(2));
    }

    #[test]
    fn second_run_adds_only_the_new_delta() {
        let mut w = World::default();
        w.stat
            .insert((StatKey::UniqueCell, today().add_days(-1)), 5);
        w.counters.insert((StatKey::UniqueCell, today()), 4);
        w.run(today());
        assert_eq!(w.value(StatKey::UniqueCell, today()), Some(9));
        *w.counters
            .entry((StatKey::UniqueCell, today()))
            .or_default() += 3;
        w.run(today());
        assert_eq!(w.value(StatKey::UniqueCell, today()), Some(12));
        w.run(today());
        assert_eq!(
            w.value(StatKey::UniqueCell, today()),
            Some(12),
            "replay is harmless"
        );
    }

    #[test]
    fn carries_forward_over_gaps() {
        let mut w = World::default();
        w.stat
            .insert((StatKey::UniqueCell, today().add_days(-7)), 7);
        w.counters.insert((StatKey::UniqueCell, today()), 3);
        w.run(today());
        assert_eq!(w.value(StatKey::UniqueCell, today()), Some(10));
        assert_eq!(w.value(StatKey::UniqueCell, today().add_days(-1)), Some(7));
    }

    #[test]
    fn yesterday_and_today() {
        let mut w = World::default();
        let yesterday = today().add_days(-1);
        w.stat
            .insert((StatKey::UniqueCell, today().add_days(-2)), 1);
        w.stat.insert((StatKey::UniqueCell, yesterday), 3);
        w.counters.insert((StatKey::UniqueCell, yesterday), 5);
        w.counters.insert((StatKey::UniqueCell, today()), 7);
        w.run(today());
        assert_eq!(w.value(StatKey::UniqueCell, yesterday), Some(8));
        assert_eq!(w.value(StatKey::UniqueCell, today()), Some(15));
    }

    #[test]
    fn all_keys() {
        let mut w = World::default();
        let yesterday = today().add_days(-1);
        for (key, old, new) in [
            (StatKey::Blue, 8, 1),
            (StatKey::Cell, 9, 2),
            (StatKey::Wifi, 10, 3),
        ] {
            w.stat.insert((key, yesterday), old);
            w.counters.insert((key, today()), new);
        }
        for (key, new) in [
            (StatKey::UniqueBlue, 4),
            (StatKey::UniqueCell, 5),
            (StatKey::UniqueWifi, 6),
        ] {
            w.counters.insert((key, today()), new);
        }
        w.run(today());
        let got: Vec<_> = [
            StatKey::Blue,
            StatKey::Cell,
            StatKey::Wifi,
            StatKey::UniqueBlue,
            StatKey::UniqueCell,
            StatKey::UniqueWifi,
        ]
        .iter()
        .map(|&k| w.value(k, today()).unwrap())
        .collect();
        assert_eq!(got, [9, 11, 13, 4, 5, 6]);
    }

    #[test]
    fn cleanup_keeps_two_years() {
        let cutoff = stat_cleanup_cutoff(today());
        let days = [0, 1, 365, 729, 730, 731, 800, 1000];
        let kept = days
            .iter()
            .filter(|&&d| today().add_days(-d) >= cutoff)
            .count();
        assert_eq!(kept, 5);
    }

    fn code(text: &str) -> Option<RegionCode> {
        RegionCode::new(text)
    }

    fn example_counts() -> BTreeMap<RegionCode, RegionStatCounts> {
        region_stats(
            [
                (code("DE"), Radio::Gsm, 1),
                (code("DE"), Radio::Gsm, 2),
                (code("CA"), Radio::Gsm, 2),
                (code("DE"), Radio::Wcdma, 3),
                (code("CA"), Radio::Lte, 4),
                (None, Radio::Lte, 9),
            ],
            [(code("CA"), 2), (code("GB"), 3)],
            [(code("DE"), 5), (code("US"), 6), (None, 4)],
        )
    }

    fn counts(gsm: u64, wcdma: u64, lte: u64, blue: u64, wifi: u64) -> RegionStatCounts {
        RegionStatCounts {
            gsm,
            wcdma,
            lte,
            nr: 0,
            blue,
            wifi,
        }
    }

    #[test]
    fn region_stats_example() {
        let got = example_counts();
        let want: BTreeMap<RegionCode, RegionStatCounts> = [
            ("CA", counts(2, 0, 4, 2, 0)),
            ("DE", counts(3, 3, 0, 0, 5)),
            ("GB", counts(0, 0, 0, 3, 0)),
            ("US", counts(0, 0, 0, 0, 6)),
        ]
        .into_iter()
        .map(|(r, c)| (RegionCode::new(r).unwrap(), c))
        .collect();
        assert_eq!(got, want);
        let plan = plan_region_stats(&got, &BTreeMap::new()).unwrap();
        assert_eq!(plan.upsert.len(), 4);
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn region_stats_without_data_change_nothing() {
        let existing: BTreeMap<_, _> =
            [(RegionCode::new("XX").unwrap(), RegionStatRow::default())].into();
        assert_eq!(
            plan_region_stats(&region_stats([], [], [(None, 3)]), &existing),
            None
        );
    }

    #[test]
    fn region_stats_update_correct_and_delete() {
        let stored = |c: RegionStatCounts| RegionStatRow {
            gsm: Some(c.gsm),
            wcdma: Some(c.wcdma),
            lte: Some(c.lte),
            nr: Some(c.nr),
            blue: Some(c.blue),
            wifi: Some(c.wifi),
        };
        let de = RegionCode::new("DE").unwrap();
        let ca = RegionCode::new("CA").unwrap();
        let xx = RegionCode::new("XX").unwrap();
        let existing: BTreeMap<_, _> = [
            (de, stored(counts(3, 3, 0, 666, 5))),
            (ca, stored(counts(2, 0, 4, 2, 0))),
            (xx, stored(counts(1, 1, 1, 1, 1))),
        ]
        .into();
        let plan = plan_region_stats(&example_counts(), &existing).unwrap();
        let upserted: Vec<_> = plan.upsert.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            upserted,
            ["DE", "GB", "US"],
            "CA is accurate and left alone"
        );
        assert_eq!(plan.upsert[0].1.blue, 0, "DE blue 666 corrected");
        assert_eq!(plan.delete, vec![xx]);
    }

    #[test]
    fn nr_cells_have_their_own_column() {
        let got = region_stats([(code("US"), Radio::Nr, 7)], [], []);
        assert_eq!(got[&RegionCode::new("US").unwrap()].nr, 7);
    }
}
