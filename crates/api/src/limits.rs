//! Daily request limits and unique-user counting in Redis (`api.md` §7.5).
//!
//! For every locate or submit request with a known, allowed key, one atomic Redis
//! transaction:
//!
//! 1. `PFADD apiuser:<api type>:<key>:<YYYY-MM-DD> <client ip>` (a HyperLogLog of users),
//!    kept 8 days;
//! 2. `INCR apilimit:<key>:<path>:<YYYYMMDD>` (today's count for that path), kept 25 hours.
//!
//! The request is over its limit when the count exceeds `maxreq`. The names and expiries
//! are the reference's, so its monitoring keeps working. Redis failures fail open: a Redis
//! outage must not lock every client out.
//!
//! These keys are Redis keys, not logs, so they hold the key text as the reference's do.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ichnaea_runtime::{RedisClient, RedisError};

use crate::keys::ApiType;

/// Lifetime of a unique-user counter: 8 days.
const USER_TTL_SECS: u64 = 691_200;
/// Lifetime of a daily request counter: 25 hours.
const LIMIT_TTL_SECS: u64 = 90_000;

/// The Redis key of the unique-user counter.
pub fn user_key(api: ApiType, valid_key: &str, now: DateTime<Utc>) -> String {
    format!(
        "apiuser:{}:{valid_key}:{}",
        api.as_str(),
        now.format("%Y-%m-%d")
    )
}

/// The Redis key of the daily request counter of one path (`v1.geolocate`, …).
pub fn limit_key(valid_key: &str, path: &str, now: DateTime<Utc>) -> String {
    format!("apilimit:{valid_key}:{path}:{}", now.format("%Y%m%d"))
}

/// Records a request (unique user and daily count) and returns today's count for the
/// path, this request included.
pub async fn record_request(
    redis: &RedisClient,
    api: ApiType,
    valid_key: &str,
    path: &str,
    client_ip: Option<IpAddr>,
    now: DateTime<Utc>,
) -> Result<u64, RedisError> {
    // A missing or unusable address is counted as 127.0.0.1, as the reference does.
    let ip = client_ip.map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string());
    let users = user_key(api, valid_key, now);
    let limit = limit_key(valid_key, path, now);
    let mut conn = redis.shared().await?;
    let (count,): (u64,) = redis::pipe()
        .atomic()
        .cmd("PFADD")
        .arg(&users)
        .arg(ip)
        .ignore()
        .cmd("EXPIRE")
        .arg(&users)
        .arg(USER_TTL_SECS)
        .ignore()
        .cmd("INCR")
        .arg(&limit)
        .cmd("EXPIRE")
        .arg(&limit)
        .arg(LIMIT_TTL_SECS)
        .ignore()
        .query_async(&mut conn)
        .await?;
    Ok(count)
}

/// Seconds until the next UTC midnight, when daily limits reset (for `Retry-After`).
pub fn seconds_until_reset(now: DateTime<Utc>) -> u64 {
    let seconds_today = now.timestamp().rem_euclid(86_400);
    u64::try_from(86_400 - seconds_today).unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_follow_the_reference() {
        let now = DateTime::parse_from_rfc3339("2024-01-05T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            user_key(ApiType::Locate, "test", now),
            "apiuser:locate:test:2024-01-05"
        );
        assert_eq!(
            limit_key("test", "v1.geolocate", now),
            "apilimit:test:v1.geolocate:20240105"
        );
        assert_eq!(seconds_until_reset(now), 14 * 3600);
    }
}
