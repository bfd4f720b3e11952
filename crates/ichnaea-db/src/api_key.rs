//! The `api_key` table: API keys with their permissions, limits and fallback settings.

use std::fmt;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::DbError;
use crate::schema::api_key;

/// One row of `api_key`. `Debug` hides the key text, which is a secret.
#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_key, check_for_backend(diesel::mysql::Mysql))]
pub struct ApiKeyRow {
    /// The key text.
    pub valid_key: String,
    /// Daily request limit per API path; `None` or 0 = unlimited.
    pub maxreq: Option<i32>,
    /// May use the external fallback provider.
    pub allow_fallback: Option<bool>,
    /// May call the locate API.
    pub allow_locate: Option<bool>,
    /// May call the region API.
    pub allow_region: Option<bool>,
    /// Fallback provider name.
    pub fallback_name: Option<String>,
    /// Fallback provider protocol (`ichnaea/v1`, `combain/v1`, `googlemaps/v1`, `unwiredlabs/v1`).
    pub fallback_schema: Option<String>,
    /// Fallback provider URL.
    pub fallback_url: Option<String>,
    /// Fallback requests per interval.
    pub fallback_ratelimit: Option<i32>,
    /// Fallback rate limit interval, seconds.
    pub fallback_ratelimit_interval: Option<i32>,
    /// Seconds to cache fallback answers.
    pub fallback_cache_expire: Option<i32>,
    /// Percentage (0–100) of locate queries fed to the pipeline.
    pub store_sample_locate: Option<i8>,
    /// Percentage (0–100) of submissions kept.
    pub store_sample_submit: Option<i8>,
}

impl ApiKeyRow {
    /// A new key with the reference's creation defaults (`apikey create`): 100 requests a
    /// day, locate and region allowed, no fallback, every locate query and submission kept.
    pub fn with_defaults(valid_key: impl Into<String>) -> ApiKeyRow {
        ApiKeyRow {
            valid_key: valid_key.into(),
            maxreq: Some(100),
            allow_fallback: Some(false),
            allow_locate: Some(true),
            allow_region: Some(true),
            fallback_name: None,
            fallback_schema: None,
            fallback_url: None,
            fallback_ratelimit: None,
            fallback_ratelimit_interval: None,
            fallback_cache_expire: None,
            store_sample_locate: Some(100),
            store_sample_submit: Some(100),
        }
    }
}

impl fmt::Debug for ApiKeyRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyRow")
            .field("valid_key", &"<redacted>")
            .field("maxreq", &self.maxreq)
            .field("allow_fallback", &self.allow_fallback)
            .field("allow_locate", &self.allow_locate)
            .field("allow_region", &self.allow_region)
            .field("fallback_name", &self.fallback_name)
            .field("fallback_schema", &self.fallback_schema)
            .field(
                "fallback_url",
                &self.fallback_url.as_ref().map(|_| "<redacted>"),
            )
            .field("fallback_ratelimit", &self.fallback_ratelimit)
            .field(
                "fallback_ratelimit_interval",
                &self.fallback_ratelimit_interval,
            )
            .field("fallback_cache_expire", &self.fallback_cache_expire)
            .field("store_sample_locate", &self.store_sample_locate)
            .field("store_sample_submit", &self.store_sample_submit)
            .finish()
    }
}

/// Changes to an existing key. `None` leaves a column alone; `Some(None)` sets it to NULL.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = api_key)]
pub struct ApiKeyChanges {
    /// New `maxreq`.
    pub maxreq: Option<Option<i32>>,
    /// New `allow_fallback`.
    pub allow_fallback: Option<Option<bool>>,
    /// New `allow_locate`.
    pub allow_locate: Option<Option<bool>>,
    /// New `allow_region`.
    pub allow_region: Option<Option<bool>>,
    /// New `fallback_name`.
    pub fallback_name: Option<Option<String>>,
    /// New `fallback_schema`.
    pub fallback_schema: Option<Option<String>>,
    /// New `fallback_url`.
    pub fallback_url: Option<Option<String>>,
    /// New `fallback_ratelimit`.
    pub fallback_ratelimit: Option<Option<i32>>,
    /// New `fallback_ratelimit_interval`.
    pub fallback_ratelimit_interval: Option<Option<i32>>,
    /// New `fallback_cache_expire`.
    pub fallback_cache_expire: Option<Option<i32>>,
    /// New `store_sample_locate`.
    pub store_sample_locate: Option<Option<i8>>,
    /// New `store_sample_submit`.
    pub store_sample_submit: Option<Option<i8>>,
}

impl ApiKeyChanges {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == ApiKeyChanges::default()
    }

    /// Applies the changes to a row in memory.
    pub fn apply_to(&self, row: &mut ApiKeyRow) {
        macro_rules! apply {
            ($($field:ident),*) => {
                $(if let Some(value) = &self.$field {
                    row.$field = value.clone();
                })*
            };
        }
        apply!(
            maxreq,
            allow_fallback,
            allow_locate,
            allow_region,
            fallback_name,
            fallback_schema,
            fallback_url,
            fallback_ratelimit,
            fallback_ratelimit_interval,
            fallback_cache_expire,
            store_sample_locate,
            store_sample_submit
        );
    }
}

/// Looks a key up by its text. MySQL's default collation makes the match
/// case-insensitive, as in the reference; the returned row carries the stored spelling.
pub async fn find<C>(conn: &mut C, key: &str) -> Result<Option<ApiKeyRow>, DbError>
where
    C: diesel_async::AsyncConnection<Backend = diesel::mysql::Mysql>,
{
    Ok(api_key::table
        .filter(api_key::valid_key.eq(key))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// All keys, ordered by key text.
pub async fn list<C>(conn: &mut C) -> Result<Vec<ApiKeyRow>, DbError>
where
    C: diesel_async::AsyncConnection<Backend = diesel::mysql::Mysql>,
{
    Ok(api_key::table
        .order(api_key::valid_key)
        .select(ApiKeyRow::as_select())
        .load(conn)
        .await?)
}

/// Inserts a new key; returns `false` if a key with that text already exists.
pub async fn insert<C>(conn: &mut C, row: &ApiKeyRow) -> Result<bool, DbError>
where
    C: diesel_async::AsyncConnection<Backend = diesel::mysql::Mysql>,
{
    match diesel::insert_into(api_key::table)
        .values(row)
        .execute(conn)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let err = DbError::from(e);
            if err.is_duplicate() {
                Ok(false)
            } else {
                Err(err)
            }
        }
    }
}

/// Applies changes to a key; returns `false` if the key does not exist.
pub async fn update<C>(conn: &mut C, key: &str, changes: &ApiKeyChanges) -> Result<bool, DbError>
where
    C: diesel_async::AsyncConnection<Backend = diesel::mysql::Mysql>,
{
    if changes.is_empty() {
        return Ok(find(conn, key).await?.is_some());
    }
    // Connections report matched rows (CLIENT_FOUND_ROWS), so an update that sets the
    // same values still counts the row.
    let n = diesel::update(api_key::table.filter(api_key::valid_key.eq(key)))
        .set(changes)
        .execute(conn)
        .await?;
    Ok(n > 0)
}

/// Deletes a key; returns `false` if it did not exist.
pub async fn delete<C>(conn: &mut C, key: &str) -> Result<bool, DbError>
where
    C: diesel_async::AsyncConnection<Backend = diesel::mysql::Mysql>,
{
    let n = diesel::delete(api_key::table.filter(api_key::valid_key.eq(key)))
        .execute(conn)
        .await?;
    Ok(n > 0)
}
