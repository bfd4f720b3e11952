//! `ichnaea-scheduler`: the single source of periodic triggers.
//!
//! Exactly one scheduler may be active, or periodic work would run twice. Any number of
//! scheduler processes can be started (for availability); they compete for a leader
//! lock in Redis, a key holding the holder's id with an expiry (the *lease*). The holder
//! renews the lease every third of its length; the others retry at the same pace, so when
//! the holder dies its lock expires and another process takes over within one lease
//! period. Renewal and release are compare-and-set scripts, so a process that lost the
//! lock (for example after a long pause) can never extend or delete the new holder's lock.
//!
//! While active, it pushes a trigger onto the `ichnaea_tasks` queue whenever a task of
//! the catalogue (`ichnaea_core::tasks::CATALOGUE`) is due; workers run them. Interval
//! tasks also run as soon as a scheduler becomes active, daily and hourly ones at their
//! UTC time. Work on the data queues needs no trigger: workers poll those.

use std::time::Duration;

use ichnaea_core::QueueName;
use ichnaea_core::tasks::{CATALOGUE, PeriodicTask, Requirement, Schedule, Trigger, next_run};
use ichnaea_runtime::{DataQueue, RedisClient, RedisError};
use redis::Script;

/// The Redis key of the leader lock.
pub const LOCK_KEY: &str = "ichnaea_scheduler_lock";

/// Renew only if we still hold the lock. KEYS: lock. ARGV: id, lease ms.
const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Release only if we still hold the lock. KEYS: lock. ARGV: id.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// A leader lock with a lease.
pub struct LeaderLock {
    redis: RedisClient,
    id: String,
    lease: Duration,
}

impl LeaderLock {
    /// A lock contender with a unique id.
    pub fn new(redis: RedisClient, lease: Duration) -> LeaderLock {
        let id = format!(
            "{}-{}-{:08x}",
            hostname(),
            std::process::id(),
            rand::random::<u32>()
        );
        LeaderLock { redis, id, lease }
    }

    /// This contender's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The lease length.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn lease_ms(&self) -> u64 {
        u64::try_from(self.lease.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Takes the lock if it is free, or extends it if we hold it; `true` when we hold it
    /// afterwards.
    pub async fn acquire_or_renew(&self) -> Result<bool, RedisError> {
        let mut conn = self.redis.get().await?;
        let renewed: i64 = Script::new(RENEW)
            .key(LOCK_KEY)
            .arg(&self.id)
            .arg(self.lease_ms())
            .invoke_async(&mut conn)
            .await?;
        if renewed == 1 {
            return Ok(true);
        }
        let set: Option<String> = redis::cmd("SET")
            .arg(LOCK_KEY)
            .arg(&self.id)
            .arg("NX")
            .arg("PX")
            .arg(self.lease_ms())
            .query_async(&mut conn)
            .await?;
        Ok(set.is_some())
    }

    /// Gives the lock up if we hold it, so a standby takes over at once.
    pub async fn release(&self) -> Result<(), RedisError> {
        let mut conn = self.redis.get().await?;
        let _: i64 = Script::new(RELEASE)
            .key(LOCK_KEY)
            .arg(&self.id)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned())
}

/// The tasks this installation schedules (the public cell exports only when
/// `cell_exports_enabled`), with interval overrides (task name → seconds,
/// `SCHEDULER_INTERVALS`) applied; an override naming no interval task is an error.
pub fn catalogue(
    cell_exports_enabled: bool,
    overrides: &[(String, u64)],
) -> Result<Vec<PeriodicTask>, String> {
    for (name, _) in overrides {
        let known = CATALOGUE
            .iter()
            .any(|t| t.name == name && matches!(t.schedule, Schedule::Every(_)));
        if !known {
            return Err(format!(
                "SCHEDULER_INTERVALS names {name:?}, which is not an interval task"
            ));
        }
    }
    Ok(CATALOGUE
        .iter()
        .filter(|t| match t.requires {
            Requirement::Nothing => true,
            Requirement::CellExports => cell_exports_enabled,
        })
        .map(|t| {
            let mut task = *t;
            if let Some((_, secs)) = overrides.iter().find(|(n, _)| n == t.name) {
                task.schedule = Schedule::Every(*secs);
            }
            task
        })
        .collect())
}

/// The due times of the catalogue, kept by the active scheduler.
pub struct Plan {
    tasks: Vec<(PeriodicTask, i64)>,
}

impl Plan {
    /// A plan starting at `now` (Unix seconds).
    pub fn new(tasks: Vec<PeriodicTask>, now: i64) -> Plan {
        Plan {
            tasks: tasks
                .into_iter()
                .map(|t| (t, next_run(t.schedule, now, None)))
                .collect(),
        }
    }

    /// The tasks due at `now`; their next time is moved on.
    pub fn due(&mut self, now: i64) -> Vec<PeriodicTask> {
        let mut due = Vec::new();
        for (task, at) in &mut self.tasks {
            if *at <= now {
                due.push(*task);
                *at = next_run(task.schedule, now, Some(now));
            }
        }
        due
    }
}

/// Pushes triggers for tasks.
pub async fn trigger(
    queue: &DataQueue,
    tasks: &[PeriodicTask],
    now_ms: i64,
) -> Result<(), RedisError> {
    let items: Vec<Vec<u8>> = tasks
        .iter()
        .filter_map(|t| serde_json::to_vec(&Trigger::new(t, now_ms)).ok())
        .collect();
    queue.push(&items).await.map(|_| ())
}

/// Runs the scheduler until `shutdown` resolves: competes for the lock and, while leader,
/// triggers due tasks. Releases the lock on the way out.
pub async fn run(
    lock: LeaderLock,
    tasks: Vec<PeriodicTask>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let queue = DataQueue::new(lock.redis.clone(), &QueueName::Tasks);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let renew_every = (lock.lease() / 3).as_secs().max(1);
    tokio::pin!(shutdown);
    let mut leader = false;
    let mut plan: Option<Plan> = None;
    let mut seconds = 0u64;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        seconds += 1;
        if leader && let Some(plan) = plan.as_mut() {
            let now = chrono::Utc::now();
            let due = plan.due(now.timestamp());
            if !due.is_empty() {
                match trigger(&queue, &due, now.timestamp_millis()).await {
                    Ok(()) => {
                        for task in &due {
                            tracing::info!(task = task.name, "triggered a periodic task");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot trigger periodic tasks"),
                }
            }
        }
        if leader && seconds % renew_every != 1 {
            continue;
        }
        match lock.acquire_or_renew().await {
            Ok(now_leader) => {
                if now_leader != leader {
                    if now_leader {
                        tracing::info!(scheduler.id = lock.id(), "became the active scheduler");
                        plan = Some(Plan::new(tasks.clone(), chrono::Utc::now().timestamp()));
                    } else {
                        tracing::warn!(
                            scheduler.id = lock.id(),
                            "lost the scheduler lock; standing by"
                        );
                    }
                    leader = now_leader;
                }
            }
            Err(e) => {
                if leader {
                    tracing::warn!(error = %e, "cannot renew the scheduler lock; standing by");
                }
                leader = false;
            }
        }
    }
    if leader {
        if let Err(e) = lock.release().await {
            tracing::warn!(error = %e, "cannot release the scheduler lock; it expires by itself");
        } else {
            tracing::info!("released the scheduler lock");
        }
    }
}

/// Pushes one trigger for each named task now, without the leader lock, and returns: what
/// `ichnaea-scheduler --trigger TASK` does, for an operator who wants an export (or any
/// periodic task) at once. Only tasks this installation schedules can be triggered.
pub async fn trigger_now(
    settings: &ichnaea_runtime::Settings,
    names: &[String],
) -> Result<(), String> {
    let redis = redis_client(settings)?;
    let tasks = catalogue(
        settings.assets.cell_exports,
        &settings.worker.scheduler_intervals,
    )?;
    let mut chosen = Vec::with_capacity(names.len());
    for name in names {
        match tasks.iter().find(|t| t.name == name) {
            Some(task) => chosen.push(*task),
            None => {
                let known: Vec<&str> = tasks.iter().map(|t| t.name).collect();
                return Err(format!(
                    "{name:?} is not a periodic task of this installation; known: {}",
                    known.join(", ")
                ));
            }
        }
    }
    let queue = DataQueue::new(redis, &QueueName::Tasks);
    trigger(&queue, &chosen, chrono::Utc::now().timestamp_millis())
        .await
        .map_err(|e| format!("cannot push the triggers: {e}"))?;
    for task in &chosen {
        tracing::info!(task = task.name, "triggered a periodic task by hand");
    }
    Ok(())
}

/// The Redis client of the settings (`REDIS_URI` is required).
fn redis_client(settings: &ichnaea_runtime::Settings) -> Result<RedisClient, String> {
    let uri = settings
        .redis
        .uri
        .as_ref()
        .ok_or_else(|| "REDIS_URI must be set".to_owned())?;
    RedisClient::new(uri, settings.redis.pool_max_size, settings.redis.timeout)
        .map_err(|e| e.to_string())
}

/// Runs a scheduler process from its settings until `shutdown` resolves.
pub async fn run_from_settings(
    settings: &ichnaea_runtime::Settings,
    lease: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let redis = redis_client(settings)?;
    let tasks = catalogue(
        settings.assets.cell_exports,
        &settings.worker.scheduler_intervals,
    )?;
    let lock = LeaderLock::new(redis, lease);
    tracing::info!(scheduler.id = lock.id(), "ichnaea-scheduler started");
    run(lock, tasks, shutdown).await;
    tracing::info!("ichnaea-scheduler stopped");
    Ok(())
}
