//! The Dockerflow monitoring endpoints (`api.md` §6).
//!
//! * `/__heartbeat__` checks the database (read pool: `SELECT now()` plus the schema
//!   version), GeoIP and Redis, concurrently, each bounded by a timeout; `200` when all are
//!   up, `503` otherwise, with the same JSON body either way. The database entry also shows
//!   the pool state (an ichnaea-rs addition; the three top-level keys are unchanged).
//! * `/__lbheartbeat__` always answers `200 {"status": "OK"}` without touching a backend:
//!   a load balancer must not pull every instance when a shared backend is down.
//! * `/__version__` serves `version.json`; `/contribute.json` the project description.

use std::future::Future;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::state::AppState;

/// How long one heartbeat check may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The project description served at `/contribute.json`.
pub const CONTRIBUTE_JSON: &str = include_str!("../../../contribute.json");

/// Runs a check, timing it; a check that fails or times out is reported as down with
/// time 0, as the reference does.
async fn timed<T, E>(check: impl Future<Output = Result<T, E>>) -> (Option<T>, u64) {
    let started = Instant::now();
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(value)) => (
            Some(value),
            started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
        ),
        _ => (None, 0),
    }
}

/// `/__heartbeat__`.
pub async fn heartbeat(state: web::Data<AppState>) -> HttpResponse {
    let database = async {
        let pool = state.db.read().map_err(|_| ())?;
        ichnaea_db::health::check(pool).await.map_err(|e| {
            tracing::warn!(error = %e, "heartbeat: database is down");
        })
    };
    let redis = async {
        state.redis.ping().await.map_err(|e| {
            tracing::warn!(error = %e, "heartbeat: Redis is down");
        })
    };
    let ((db_version, db_time), (redis_ok, redis_time)) =
        tokio::join!(timed(database), timed(redis));
    let geoip = state.geoip.status(chrono::Utc::now());

    let db_up = db_version.is_some();
    let pool = state
        .db
        .read()
        .map(|p| serde_json::to_value(p.status()).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let database = json!({
        "up": db_up,
        "time": db_time,
        "alembic_version": match db_version {
            Some(Some(v)) => v,
            Some(None) => String::new(),
            None => "unknown".to_owned(),
        },
        "pool": pool,
    });
    let geoip_json = json!({
        "up": geoip.up,
        "time": 0,
        "age_in_days": geoip.age_in_days,
        "version": geoip.version,
    });
    let redis_up = redis_ok.is_some();
    let redis_json = json!({"up": redis_up, "time": redis_time});
    let status = if db_up && redis_up && geoip.up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status).json(json!({
        "database": database,
        "geoip": geoip_json,
        "redis": redis_json,
    }))
}

/// `/__lbheartbeat__`.
pub async fn lbheartbeat() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "OK"}))
}

/// `/__version__`.
pub async fn version(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.version.as_ref())
}

/// `/contribute.json`.
pub async fn contribute() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(CONTRIBUTE_JSON)
}
