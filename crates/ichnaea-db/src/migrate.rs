//! Schema migrations, embedded in the binary.
//!
//! Migrations are a deploy step run by `ichnaea-admin migrate`; no service applies them on
//! start, because several replicas starting at once would race. See
//! `migrations/README.md` for how they are written.
//!
//! diesel's migration harness is synchronous; it runs on a blocking thread that drives the
//! async MySQL connection through diesel-async's wrapper, so no C client library is needed.

use diesel::migration::MigrationSource;
use diesel::mysql::Mysql;
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncMysqlConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use secrecy::{ExposeSecret, SecretString};

use crate::error::DbError;
use crate::pool::normalize_url;

/// Every migration in `migrations/`, compiled in.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// One migration and whether the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's directory name, e.g. `2026-11-27-000001_baseline`.
    pub name: String,
    /// Its version (the directory name's timestamp digits).
    pub version: String,
    /// Whether it has been applied.
    pub applied: bool,
}

/// The names of every embedded migration, oldest first.
pub fn embedded() -> Result<Vec<(String, String)>, DbError> {
    let all = MigrationSource::<Mysql>::migrations(&MIGRATIONS)
        .map_err(|e| DbError::migration(e.to_string()))?;
    Ok(all
        .iter()
        .map(|m| (m.name().to_string(), m.name().version().to_string()))
        .collect())
}

async fn harness(
    url: &SecretString,
) -> Result<AsyncMigrationHarness<AsyncMysqlConnection>, DbError> {
    let url = normalize_url(url.expose_secret())?;
    let conn = AsyncMysqlConnection::establish(&url)
        .await
        .map_err(|e| DbError::unavailable(e.to_string()))?;
    Ok(AsyncMigrationHarness::new(conn))
}

/// Runs `f` with a migration harness on a blocking thread.
async fn with_harness<T: Send + 'static>(
    url: &SecretString,
    f: impl FnOnce(&mut AsyncMigrationHarness<AsyncMysqlConnection>) -> Result<T, DbError>
    + Send
    + 'static,
) -> Result<T, DbError> {
    let mut harness = harness(url).await?;
    tokio::task::spawn_blocking(move || f(&mut harness))
        .await
        .map_err(|e| DbError::migration(format!("migration task failed: {e}")))?
}

/// Creates the database named in `url` (character set utf8) if it does not exist; returns
/// whether it was created.
pub async fn create_database(url: &SecretString) -> Result<bool, DbError> {
    use diesel_async::SimpleAsyncConnection;
    let normalized = normalize_url(url.expose_secret())?;
    let mut parsed = url::Url::parse(&normalized)
        .map_err(|e| DbError::config(format!("invalid database URL: {e}")))?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DbError::config(
            "the database name may only contain letters, digits and underscores",
        ));
    }
    parsed.set_path("/");
    let mut conn = AsyncMysqlConnection::establish(parsed.as_str())
        .await
        .map_err(|e| DbError::unavailable(e.to_string()))?;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel_async::RunQueryDsl;
    let existing: Count = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind::<diesel::sql_types::Text, _>(&name)
    .get_result(&mut conn)
    .await?;
    if existing.n > 0 {
        return Ok(false);
    }
    conn.batch_execute(&format!(
        "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8"
    ))
    .await?;
    Ok(true)
}

/// Applies every pending migration, in order; returns the names of those applied (empty
/// when the schema was already current).
pub async fn run_pending(url: &SecretString) -> Result<Vec<String>, DbError> {
    with_harness(url, |h| {
        let pending = h
            .pending_migrations(MIGRATIONS)
            .map_err(|e| DbError::migration(e.to_string()))?;
        let mut applied = Vec::new();
        for migration in pending {
            let name = migration.name().to_string();
            h.run_migration(&*migration)
                .map_err(|e| DbError::migration(format!("{name}: {e}")))?;
            applied.push(name);
        }
        Ok(applied)
    })
    .await
}

/// Every embedded migration with whether it is applied, plus versions applied in the
/// database that this binary does not know (a newer release migrated it).
pub async fn status(url: &SecretString) -> Result<(Vec<MigrationState>, Vec<String>), DbError> {
    let known = embedded()?;
    with_harness(url, move |h| {
        let applied: Vec<String> = h
            .applied_migrations()
            .map_err(|e| DbError::migration(e.to_string()))?
            .into_iter()
            .map(|v| v.to_string())
            .collect();
        let states = known
            .iter()
            .map(|(name, version)| MigrationState {
                name: name.clone(),
                version: version.clone(),
                applied: applied.contains(version),
            })
            .collect();
        let unknown = applied
            .into_iter()
            .filter(|v| !known.iter().any(|(_, k)| k == v))
            .collect();
        Ok((states, unknown))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_embedded_in_order() {
        let names: Vec<String> = embedded().unwrap().into_iter().map(|(n, _)| n).collect();
        assert!(names.len() >= 4, "{names:?}");
        assert_eq!(names[0], "2026-11-27-000001_baseline");
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}
