//! The `export_config` table: where incoming reports are copied to (`pipeline.md` §3.5).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::DbError;
use crate::schema::export_config;

/// One export target.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = export_config, check_for_backend(diesel::mysql::Mysql))]
pub struct ExportConfigRow {
    /// Export name (part of its queue key).
    pub name: String,
    /// Batch size.
    pub batch: Option<i32>,
    /// Exporter kind: `internal`, `dummy`, `geosubmit` or `s3`.
    pub schema: Option<String>,
    /// Target URL (`geosubmit`: the endpoint; `s3`: `s3://bucket/path-template`).
    pub url: Option<String>,
    /// Comma-separated API keys whose reports are not exported here.
    pub skip_keys: Option<String>,
    /// Comma-separated sources (`gnss`, `fused`, `fixed`, `query`) not exported here.
    pub skip_sources: Option<String>,
}

impl ExportConfigRow {
    /// Whether a report from `api_key` (None: anonymous) with `source` goes to this export.
    /// An anonymous report is never skipped by key.
    pub fn allowed(&self, api_key: Option<&str>, source: &str) -> bool {
        let listed = |list: &Option<String>, value: &str| {
            list.as_deref()
                .is_some_and(|l| l.split(',').any(|v| !v.is_empty() && v == value))
        };
        !api_key.is_some_and(|k| listed(&self.skip_keys, k)) && !listed(&self.skip_sources, source)
    }

    /// The batch size; a missing or non-positive value (which the reference does not guard
    /// against) counts as 1.
    pub fn batch_size(&self) -> usize {
        self.batch
            .and_then(|b| usize::try_from(b).ok())
            .filter(|&b| b > 0)
            .unwrap_or(1)
    }
}

/// All export targets, by name.
pub async fn list<C>(conn: &mut C) -> Result<Vec<ExportConfigRow>, DbError>
where
    C: diesel_async::AsyncConnection<Backend = diesel::mysql::Mysql>,
{
    Ok(export_config::table
        .order(export_config::name)
        .select(ExportConfigRow::as_select())
        .load(conn)
        .await?)
}

/// Adds or replaces an export target.
pub async fn upsert<C>(conn: &mut C, row: &ExportConfigRow) -> Result<(), DbError>
where
    C: diesel_async::AsyncConnection<Backend = diesel::mysql::Mysql>,
{
    diesel::replace_into(export_config::table)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(skip_keys: Option<&str>, skip_sources: Option<&str>) -> ExportConfigRow {
        ExportConfigRow {
            name: "x".into(),
            batch: Some(100),
            schema: Some("dummy".into()),
            url: None,
            skip_keys: skip_keys.map(Into::into),
            skip_sources: skip_sources.map(Into::into),
        }
    }

    #[test]
    fn skip_rules() {
        let r = row(Some("test,other"), Some("query"));
        assert!(!r.allowed(Some("test"), "gnss"));
        assert!(r.allowed(Some("third"), "gnss"));
        assert!(r.allowed(None, "gnss"), "anonymous is never skipped by key");
        assert!(!r.allowed(None, "query"));
        assert!(row(Some(""), Some("")).allowed(Some("test"), "gnss"));
        assert!(row(None, None).allowed(Some("test"), "query"));
    }

    #[test]
    fn batch_sizes() {
        assert_eq!(row(None, None).batch_size(), 100);
        let mut r = row(None, None);
        r.batch = None;
        assert_eq!(r.batch_size(), 1);
        r.batch = Some(-5);
        assert_eq!(r.batch_size(), 1);
    }
}
