//! Datamap grid recording and cleanup (`pipeline.md` §7, §4.6).
//!
//! The coverage map only needs to know *where* contributions happened, at roughly 100 m
//! resolution, and since *when* (to age out old areas). So each report position that
//! produced an observation is reduced to its 1/1000° [`Grid`] cell; a row per cell keeps the
//! day it was first and last seen. Nothing else about the report is kept.
//!
//! [`plan_datamap_update`] is idempotent: a second run on the same day finds every cell
//! already modified today and plans nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::grid::Grid;
use crate::shard::DataMapShard;
use crate::time::Date;

/// How many days a grid cell stays on the map without new data.
pub const DATAMAP_MAX_AGE_DAYS: i32 = 365;

/// The unique grid cells of report positions, grouped by quadrant (what the internal
/// export pushes to the `update_datamap_*` queues).
pub fn grids_by_shard(positions: &[(f64, f64)]) -> BTreeMap<DataMapShard, BTreeSet<Grid>> {
    let mut out: BTreeMap<DataMapShard, BTreeSet<Grid>> = BTreeMap::new();
    for &(lat, lon) in positions {
        let grid = Grid::from_position(lat, lon);
        out.entry(grid.shard()).or_default().insert(grid);
    }
    out
}

/// A `datamap_<shard>` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataMapRow {
    /// The grid cell (primary key).
    pub grid: Grid,
    /// First day seen.
    pub created: Date,
    /// Last day seen.
    pub modified: Date,
}

/// The writes of one `update_datamap` run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatamapPlan {
    /// Rows to `INSERT IGNORE` with `created = modified = today`.
    pub insert: Vec<DataMapRow>,
    /// Existing cells to `UPDATE … SET modified = today`.
    pub touch: Vec<Grid>,
    /// Existing cells already modified today (no write).
    pub unchanged: Vec<Grid>,
}

/// Plans the writes for dequeued grid cells, given the `modified` day of those that exist
/// (as locked by `SELECT grid, modified … FOR UPDATE`). Duplicates are merged; the order
/// of first appearance is kept.
pub fn plan_datamap_update(
    queued: &[Grid],
    existing: &HashMap<Grid, Date>,
    today: Date,
) -> DatamapPlan {
    let mut seen = BTreeSet::new();
    let mut plan = DatamapPlan::default();
    for &grid in queued {
        if !seen.insert(grid) {
            continue;
        }
        match existing.get(&grid) {
            Some(&modified) if modified == today => plan.unchanged.push(grid),
            Some(_) => plan.touch.push(grid),
            None => plan.insert.push(DataMapRow {
                grid,
                created: today,
                modified: today,
            }),
        }
    }
    plan
}

/// `cleanup_datamap`: rows with `modified` before this day are deleted.
pub fn datamap_cleanup_cutoff(today: Date) -> Date {
    today.add_days(-DATAMAP_MAX_AGE_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::from_ymd(2024, 1, 12).unwrap()
    }

    /// Applies plans to an in-memory table, as the worker does to MySQL.
    fn run(table: &mut BTreeMap<Grid, DataMapRow>, positions: &[(f64, f64)], today: Date) {
        for grids in grids_by_shard(positions).values() {
            let queued: Vec<Grid> = grids.iter().copied().collect();
            let existing: HashMap<Grid, Date> =
                table.values().map(|r| (r.grid, r.modified)).collect();
            let plan = plan_datamap_update(&queued, &existing, today);
            for row in plan.insert {
                table.entry(row.grid).or_insert(row);
            }
            for grid in plan.touch {
                if let Some(row) = table.get_mut(&grid) {
                    row.modified = today;
                }
            }
        }
    }

    fn row(lat: f64, lon: f64, created: Date, modified: Date) -> (Grid, DataMapRow) {
        let grid = Grid::from_position(lat, lon);
        (
            grid,
            DataMapRow {
                grid,
                created,
                modified,
            },
        )
    }

    #[test]
    fn update_one() {
        let mut table = BTreeMap::new();
        run(&mut table, &[(1.234567, 2.345678)], today());
        let rows: Vec<_> = table.values().collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].grid.lat_scaled(), rows[0].grid.lon_scaled()),
            (1235, 2346)
        );
        assert_eq!((rows[0].created, rows[0].modified), (today(), today()));
    }

    #[test]
    fn update_existing_keeps_created() {
        let yesterday = today().add_days(-1);
        let mut table: BTreeMap<_, _> = [row(1.0, 2.0, yesterday, yesterday)].into();
        run(&mut table, &[(1.0, 2.0)], today());
        let only = table.values().next().unwrap();
        assert_eq!((only.created, only.modified), (yesterday, today()));
    }

    #[test]
    fn update_multiple() {
        let yesterday = today().add_days(-1);
        let mut table: BTreeMap<_, _> = [
            row(0.0, 1.0, today(), today()),
            row(1.0, 2.0, yesterday, yesterday),
            row(-10.0, 40.0, yesterday, yesterday),
        ]
        .into();
        let positions = [
            (0.0, 1.0),
            (1.0, 2.0),
            (1.0, 2.0),
            (1.0, 2.0),
            (40.0011, 3.0011),
            (40.0012, 3.0012),
            (40.0013, 3.0013),
            (0.0, 0.0),
            (1.00001, 2.00001),
        ];
        run(&mut table, &positions, today());
        let grids: BTreeSet<(i32, i32)> = table
            .keys()
            .map(|g| (g.lat_scaled(), g.lon_scaled()))
            .collect();
        let expected: BTreeSet<(i32, i32)> = [
            (0, 0),
            (0, 1000),
            (1000, 2000),
            (-10_000, 40_000),
            (40_001, 3001),
        ]
        .into();
        assert_eq!(grids, expected);
        let created: BTreeSet<Date> = table.values().map(|r| r.created).collect();
        assert_eq!(created, [today(), yesterday].into());
        let untouched = table[&Grid::from_position(-10.0, 40.0)];
        assert_eq!(untouched.modified, yesterday);
        assert_eq!(table[&Grid::from_position(1.0, 2.0)].modified, today());
    }

    #[test]
    fn second_run_is_a_no_op() {
        let queued = [Grid::from_position(1.0, 2.0), Grid::from_position(1.0, 2.0)];
        let existing: HashMap<Grid, Date> = [(queued[0], today())].into();
        let plan = plan_datamap_update(&queued, &existing, today());
        assert_eq!(plan.unchanged, vec![queued[0]]);
        assert!(plan.insert.is_empty() && plan.touch.is_empty());
        assert_eq!(
            plan_datamap_update(&[], &existing, today()),
            DatamapPlan::default()
        );
    }

    #[test]
    fn grouping_by_quadrant() {
        let grids = grids_by_shard(&[(50.0, 10.0), (20.0, -10.0), (20.0, -10.0)]);
        assert_eq!(grids.len(), 2);
        assert_eq!(grids[&DataMapShard::Ne].len(), 1);
        assert_eq!(grids[&DataMapShard::Sw].len(), 1);
    }

    #[test]
    fn cleanup_keeps_one_year() {
        let cutoff = datamap_cleanup_cutoff(today());
        let recent = today().add_days(-365);
        let old = today().add_days(-366);
        assert!(recent >= cutoff, "kept");
        assert!(old < cutoff, "deleted");
        // One recent and one old row per shard → each shard keeps one.
        let rows: Vec<Date> = DataMapShard::ALL
            .iter()
            .flat_map(|_| [today(), old])
            .collect();
        assert_eq!(rows.len(), 8);
        assert_eq!(rows.iter().filter(|&&d| d >= cutoff).count(), 4);
    }
}
