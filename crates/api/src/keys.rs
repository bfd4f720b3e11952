//! API keys: parsing, the in-process cache, and what a key allows (`api.md` §1.3, §7).
//!
//! * The key comes from the `key` query parameter (the last one if repeated). Text that is
//!   not 4–40 letters, digits or dashes counts as no key at all.
//! * Lookups go through a per-process cache of at most 500 entries whose lifetime is
//!   300 s ± 30 s, chosen once per process so a fleet does not refresh in step. Unknown keys
//!   are cached too (a negative entry), so guessing keys costs no database queries; a key
//!   created meanwhile becomes usable when its negative entry expires. Database errors are
//!   not cached.
//! * When the database fails, the request proceeds with the default key: locate and region
//!   are served without limits or fallback, submissions are queued anonymously. A database
//!   outage must not take the public API down.
//!
//! Privacy: a key is a secret. Logs and metrics use [`key_label`], a short one-way digest,
//! never the key itself (the reference tags metrics with the raw key).

use std::sync::Arc;
use std::time::Duration;

use ichnaea_db::api_key::{self, ApiKeyRow};
use ichnaea_db::{DbError, DbPool, DbPools};

/// Which API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiType {
    /// `/v1/geolocate`.
    Locate,
    /// `/v1/country`.
    Region,
    /// The submit APIs.
    Submit,
}

impl ApiType {
    /// The name used in Redis keys and logs (`locate`, `region`, `submit`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiType::Locate => "locate",
            ApiType::Region => "region",
            ApiType::Submit => "submit",
        }
    }
}

/// The key text of a request, if it is syntactically valid (`3 < len < 41`, `[-0-9a-zA-Z]`).
pub fn key_from_query(query: &str) -> Option<String> {
    let mut found = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name == "key" {
            found = Some(value.into_owned());
        }
    }
    found.filter(|k| valid_key_text(k))
}

pub use ichnaea_core::apikey::{key_label, valid_key_text};

/// The key a request runs with.
#[derive(Debug, Clone)]
pub struct Key {
    /// The stored row; `None` for the default key (no key, unknown key on submit, or a
    /// database failure).
    pub row: Option<Arc<ApiKeyRow>>,
}

impl Key {
    /// The default key: locate and region allowed, nothing else.
    pub fn default_key() -> Key {
        Key { row: None }
    }

    /// The stored key text, `None` for the default key.
    pub fn valid_key(&self) -> Option<&str> {
        self.row.as_deref().map(|r| r.valid_key.as_str())
    }

    /// Whether the key may use an API (§7.4); the default key allows everything but has
    /// no fallback.
    pub fn allowed(&self, api: ApiType) -> bool {
        match (&self.row, api) {
            (_, ApiType::Submit) | (None, _) => true,
            (Some(r), ApiType::Locate) => r.allow_locate.unwrap_or(false),
            (Some(r), ApiType::Region) => r.allow_region.unwrap_or(false),
        }
    }

    /// The daily limit per path, if any (`maxreq` 0 or NULL: unlimited).
    pub fn maxreq(&self) -> Option<u64> {
        self.row
            .as_deref()
            .and_then(|r| r.maxreq)
            .and_then(|m| u64::try_from(m).ok())
            .filter(|&m| m > 0)
    }

    /// Whether the key may use the external fallback provider (§7.4 `can_fallback`).
    pub fn can_fallback(&self) -> bool {
        self.row.as_deref().is_some_and(|r| {
            r.allow_fallback.unwrap_or(false)
                && r.fallback_name.as_deref().is_some_and(|n| !n.is_empty())
                && r.fallback_url.as_deref().is_some_and(|u| !u.is_empty())
                && r.fallback_ratelimit.is_some()
                && r.fallback_ratelimit_interval.is_some_and(|i| i != 0)
        })
    }

    /// The sampling rate (0–1, possibly above 1) of an API's data for the pipeline
    /// (§7.4 `store_sample`); the default key keeps everything.
    pub fn sample_rate(&self, api: ApiType, global_rate: f64) -> f64 {
        let percent = |v: Option<i8>| f64::from(v.unwrap_or(0)) / 100.0;
        match api {
            ApiType::Locate => {
                let own = self
                    .row
                    .as_deref()
                    .map_or(1.0, |r| percent(r.store_sample_locate));
                own * global_rate / 100.0
            }
            ApiType::Submit => self
                .row
                .as_deref()
                .map_or(1.0, |r| percent(r.store_sample_submit)),
            ApiType::Region => 0.0,
        }
    }

    /// Whether this request's data is kept: `rate >= random()`, with `random` uniform in
    /// [0, 1), so a rate of 1 always keeps and 0 never does.
    pub fn sampled(&self, api: ApiType, global_rate: f64, random: f64) -> bool {
        let rate = self.sample_rate(api, global_rate);
        rate > 0.0 && rate >= random
    }

    /// The label for logs and metrics: the key's [`key_label`], or `none`.
    pub fn label(&self) -> String {
        self.valid_key()
            .map_or_else(|| "none".to_owned(), key_label)
    }
}

/// The outcome of a key lookup.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The key exists.
    Found(Arc<ApiKeyRow>),
    /// No such key.
    Unknown,
    /// The database could not be asked; proceed with the default key.
    DbFailed,
}

/// The per-process key cache.
#[derive(Clone)]
pub struct KeyCache {
    cache: moka::future::Cache<String, Option<Arc<ApiKeyRow>>>,
}

impl KeyCache {
    /// A cache with the reference's size and a lifetime of 300 s ± 30 s.
    pub fn new() -> KeyCache {
        let jitter = rand::random_range(-30..=30_i64);
        KeyCache::with_ttl(Duration::from_secs(300_u64.saturating_add_signed(jitter)))
    }

    /// A cache with an explicit lifetime (tests).
    pub fn with_ttl(ttl: Duration) -> KeyCache {
        KeyCache {
            cache: moka::future::Cache::builder()
                .max_capacity(500)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Looks a key up, through the cache.
    pub async fn lookup(&self, db: &DbPools, key: &str) -> Lookup {
        let result = self
            .cache
            .try_get_with(key.to_owned(), async {
                let pool = db.read()?;
                let mut conn = pool.get().await?;
                let found = api_key::find(&mut conn, key).await;
                Ok::<_, DbError>(DbPool::release(conn, found)?.map(Arc::new))
            })
            .await;
        match result {
            Ok(Some(row)) => Lookup::Found(row),
            Ok(None) => Lookup::Unknown,
            Err(e) => {
                tracing::warn!(error = %e, "API key lookup failed; using the default key");
                Lookup::DbFailed
            }
        }
    }
}

impl Default for KeyCache {
    fn default() -> KeyCache {
        KeyCache::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(f: impl FnOnce(&mut ApiKeyRow)) -> Key {
        let mut row = ApiKeyRow::with_defaults("test-key");
        f(&mut row);
        Key {
            row: Some(Arc::new(row)),
        }
    }

    #[test]
    fn key_text_from_the_query_string() {
        assert_eq!(key_from_query("key=test"), Some("test".into()));
        assert_eq!(key_from_query("key=a&key=second"), Some("second".into()));
        assert_eq!(key_from_query("key=invalid_key"), None);
        assert_eq!(key_from_query("key=abc"), None);
        assert_eq!(key_from_query(&format!("key={}", "a".repeat(41))), None);
        assert_eq!(key_from_query(""), None);
        assert_eq!(key_from_query("other=1"), None);
    }

    #[test]
    fn permissions() {
        let k = key(|r| r.allow_locate = Some(false));
        assert!(!k.allowed(ApiType::Locate));
        assert!(k.allowed(ApiType::Region));
        assert!(k.allowed(ApiType::Submit));
        let k = key(|r| r.allow_region = None);
        assert!(!k.allowed(ApiType::Region), "NULL is not allowed");
        assert!(Key::default_key().allowed(ApiType::Locate));
        assert!(!Key::default_key().can_fallback());
    }

    #[test]
    fn limits_and_fallback() {
        assert_eq!(key(|r| r.maxreq = Some(0)).maxreq(), None);
        assert_eq!(key(|r| r.maxreq = None).maxreq(), None);
        assert_eq!(key(|r| r.maxreq = Some(5)).maxreq(), Some(5));
        let full = |r: &mut ApiKeyRow| {
            r.allow_fallback = Some(true);
            r.fallback_name = Some("fall".into());
            r.fallback_url = Some("http://127.0.0.1:9/?api".into());
            r.fallback_ratelimit = Some(0);
            r.fallback_ratelimit_interval = Some(60);
        };
        assert!(key(full).can_fallback(), "a rate limit of 0 is allowed");
        assert!(
            !key(|r| {
                full(r);
                r.fallback_ratelimit_interval = Some(0);
            })
            .can_fallback()
        );
        assert!(
            !key(|r| {
                full(r);
                r.fallback_ratelimit = None;
            })
            .can_fallback()
        );
    }

    #[test]
    fn sampling_matches_the_reference_examples() {
        let half = key(|r| r.store_sample_submit = Some(50));
        assert!(half.sampled(ApiType::Submit, 100.0, 0.1));
        assert!(half.sampled(ApiType::Submit, 100.0, 0.5));
        assert!(!half.sampled(ApiType::Submit, 100.0, 0.51));
        let none = key(|r| r.store_sample_locate = Some(0));
        assert!(!none.sampled(ApiType::Locate, 100.0, 0.0));
        let all = key(|_| {});
        assert!(all.sampled(ApiType::Locate, 100.0, 0.999));
        assert!(
            !all.sampled(ApiType::Locate, 0.0, 0.0),
            "a global rate of 0 stops export"
        );
        assert!(all.sampled(ApiType::Locate, 50.0, 0.49));
        assert!(!all.sampled(ApiType::Region, 100.0, 0.0));
    }

    #[test]
    fn labels_hide_the_key() {
        let label = key_label("0123e4567-e89b-12d3-a456-426614174000");
        assert_eq!(label.len(), 9);
        assert!(label.starts_with('k'));
        assert!(!"0123e4567-e89b-12d3-a456-426614174000".contains(&label[1..]));
        assert_eq!(label, key_label("0123e4567-e89b-12d3-a456-426614174000"));
        assert_eq!(Key::default_key().label(), "none");
    }
}
