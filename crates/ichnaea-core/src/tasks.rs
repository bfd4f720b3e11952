//! The periodic task catalogue (`pipeline.md` §10.2) and the trigger format shared by the
//! scheduler, which pushes triggers, and the workers, which run them.
//!
//! Queue consumers (incoming reports, exports, stations, areas, datamap) do not need
//! triggers: workers poll their queues continuously. The scheduler only starts the
//! periodic tasks below, at the reference's cadence. A trigger carries an expiry, so a
//! backlog of triggers (workers down for a while) does not run the same task many times.

use serde::{Deserialize, Serialize};

/// When a periodic task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every this many seconds.
    Every(u64),
    /// Daily at this UTC hour and minute.
    Daily(u32, u32),
    /// Hourly at this minute.
    Hourly(u32),
}

/// A periodic task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodicTask {
    /// The task name (the reference's short name).
    pub name: &'static str,
    /// When it runs.
    pub schedule: Schedule,
    /// A trigger not started within this many seconds is discarded.
    pub expires: u64,
    /// What must be configured for it to be scheduled.
    pub requires: Requirement,
}

/// A configuration a task depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Always scheduled.
    Nothing,
    /// Only with the public cell exports enabled (`CELL_EXPORT_ENABLED`, on by default;
    /// the reference scheduled them only with an asset bucket).
    CellExports,
}

/// The catalogue, in the reference's order. Station, area, datamap and report export work
/// is not here: workers drain those queues continuously. The public cell exports are, and
/// run unless `CELL_EXPORT_ENABLED` is off (the reference ran them only with an asset bucket).
pub const CATALOGUE: &[PeriodicTask] = &[
    PeriodicTask {
        name: "data.update_statcounter",
        schedule: Schedule::Every(600),
        expires: 570,
        requires: Requirement::Nothing,
    },
    PeriodicTask {
        name: "data.cleanup_stat",
        schedule: Schedule::Daily(0, 23),
        expires: 18_000,
        requires: Requirement::Nothing,
    },
    PeriodicTask {
        name: "data.update_statregion",
        schedule: Schedule::Daily(0, 7),
        expires: 18_000,
        requires: Requirement::Nothing,
    },
    PeriodicTask {
        name: "data.cleanup_datamap",
        schedule: Schedule::Daily(0, 17),
        expires: 18_000,
        requires: Requirement::Nothing,
    },
    PeriodicTask {
        name: "data.cleanup_batch_markers",
        schedule: Schedule::Daily(0, 29),
        expires: 18_000,
        requires: Requirement::Nothing,
    },
    PeriodicTask {
        name: "data.cell_export_diff",
        schedule: Schedule::Hourly(3),
        expires: 2_700,
        requires: Requirement::CellExports,
    },
    PeriodicTask {
        name: "data.cell_export_full",
        schedule: Schedule::Daily(0, 37),
        expires: 39_600,
        requires: Requirement::CellExports,
    },
    PeriodicTask {
        name: "data.monitor_api_key_limits",
        schedule: Schedule::Every(600),
        expires: 570,
        requires: Requirement::Nothing,
    },
    PeriodicTask {
        name: "data.monitor_api_users",
        schedule: Schedule::Every(600),
        expires: 570,
        requires: Requirement::Nothing,
    },
    PeriodicTask {
        name: "data.monitor_queue_size_and_rate_control",
        schedule: Schedule::Every(60),
        expires: 57,
        requires: Requirement::Nothing,
    },
];

/// A trigger on the task queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The task name.
    pub task: String,
    /// When the trigger was pushed, Unix milliseconds.
    pub enqueued_ms: i64,
    /// After this time (Unix milliseconds) the trigger is discarded.
    pub expires_ms: i64,
}

impl Trigger {
    /// A trigger for `task` pushed at `now_ms`.
    pub fn new(task: &PeriodicTask, now_ms: i64) -> Trigger {
        Trigger {
            task: task.name.to_owned(),
            enqueued_ms: now_ms,
            expires_ms: now_ms.saturating_add(i64::try_from(task.expires).unwrap_or(0) * 1000),
        }
    }

    /// Whether the trigger is too old to run at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        now_ms > self.expires_ms
    }
}

/// The next time (Unix seconds) after `now` at which a schedule fires; `last` is the
/// previous firing for interval schedules (`None`: never ran, fire now).
pub fn next_run(schedule: Schedule, now: i64, last: Option<i64>) -> i64 {
    match schedule {
        Schedule::Every(secs) => last.map_or(now, |l| {
            l.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))
        }),
        Schedule::Daily(hour, minute) => {
            let offset = i64::from(hour) * 3600 + i64::from(minute) * 60;
            let day_start = now - now.rem_euclid(86_400);
            let today = day_start + offset;
            if today > now { today } else { today + 86_400 }
        }
        Schedule::Hourly(minute) => {
            let hour_start = now - now.rem_euclid(3600);
            let this_hour = hour_start + i64::from(minute) * 60;
            if this_hour > now {
                this_hour
            } else {
                this_hour + 3600
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let midnight = 1_705_017_600; // 2024-01-12T00:00:00Z
        assert_eq!(next_run(Schedule::Every(600), midnight, None), midnight);
        assert_eq!(
            next_run(Schedule::Every(600), midnight, Some(midnight)),
            midnight + 600
        );
        assert_eq!(
            next_run(Schedule::Daily(0, 23), midnight, None),
            midnight + 23 * 60
        );
        assert_eq!(
            next_run(Schedule::Daily(0, 23), midnight + 23 * 60, None),
            midnight + 86_400 + 23 * 60
        );
        assert_eq!(
            next_run(Schedule::Hourly(3), midnight + 100, None),
            midnight + 180
        );
        assert_eq!(
            next_run(Schedule::Hourly(3), midnight + 180, None),
            midnight + 3600 + 180
        );
    }

    #[test]
    fn triggers_expire() {
        let t = Trigger::new(&CATALOGUE[0], 1_000_000);
        assert!(!t.expired(1_000_000 + 570_000));
        assert!(t.expired(1_000_000 + 570_001));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Trigger>(&json).unwrap(), t);
    }

    #[test]
    fn cell_exports_run_at_the_reference_times_when_enabled() {
        let diff = CATALOGUE
            .iter()
            .find(|t| t.name == crate::cellcsv::ExportKind::Diff.task_name())
            .unwrap();
        assert_eq!(diff.schedule, Schedule::Hourly(3));
        assert_eq!(diff.expires, 2_700);
        let full = CATALOGUE
            .iter()
            .find(|t| t.name == crate::cellcsv::ExportKind::Full.task_name())
            .unwrap();
        assert_eq!(full.schedule, Schedule::Daily(0, 37));
        assert_eq!(full.expires, 39_600);
        let with_assets: Vec<_> = CATALOGUE
            .iter()
            .filter(|t| t.requires == Requirement::CellExports)
            .map(|t| t.name)
            .collect();
        assert_eq!(
            with_assets,
            ["data.cell_export_diff", "data.cell_export_full"]
        );
    }

    #[test]
    fn catalogue_names_are_unique() {
        let names: std::collections::HashSet<_> = CATALOGUE.iter().map(|t| t.name).collect();
        assert_eq!(names.len(), CATALOGUE.len());
    }
}
