//! The database part of the `/__heartbeat__` check.

use diesel::QueryableByName;
use diesel::sql_types::{Nullable, Text};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};

use crate::error::DbError;
use crate::pool::DbPool;

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Nullable<Text>)]
    version: Option<String>,
}

/// Checks that the database answers and reports the newest applied migration version
/// (`None` when the schema was never migrated).
///
/// The reference reports its Alembic revision here; we report the version of the newest
/// embedded migration that the database has applied.
pub async fn check(pool: &DbPool) -> Result<Option<String>, DbError> {
    let mut conn = pool.get().await?;
    let result = schema_version(&mut conn).await;
    DbPool::release(conn, result)
}

async fn schema_version(conn: &mut AsyncMysqlConnection) -> Result<Option<String>, DbError> {
    diesel::sql_query("SELECT now()").execute(conn).await?;
    let result =
        diesel::sql_query("SELECT MAX(version) AS version FROM __diesel_schema_migrations")
            .get_result::<Version>(conn)
            .await;
    match result {
        Ok(v) => Ok(v.version),
        // 1146: table doesn't exist, i.e. the database was never migrated.
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("doesn't exist") =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
