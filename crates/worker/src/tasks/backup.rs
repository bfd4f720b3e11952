//! The `backup` (or reference name `s3`) exporter: raw reports, gzip-compressed JSON, to
//! an object store (`pipeline.md` §3.5).
//!
//! `export_config.url` is `s3://bucket/path-template` or `file:///path-template`; the
//! template may use `{source}`, `{api_key}` (`no_key` when anonymous), `{year}`, `{month}`
//! and `{day}`. Each (source, key) group of a batch becomes one object
//! `<template>/<batch id>-<group>.json.gz` holding `{"items": [report, …]}`.
//!
//! Two deliberate differences: month and day are zero-padded (`2024/01/05`, where the
//! reference writes `2024/1/5`, which does not sort), and object names come from the batch
//! id instead of a random UUID, so a redelivered batch overwrites its own objects instead
//! of duplicating them.

use std::io::Write;

use chrono::Datelike;
use ichnaea_db::export_config::ExportConfigRow;
use ichnaea_runtime::object_store::{Target, for_url};
use object_store::path::Path;
use object_store::{Attribute, Attributes, PutOptions, PutPayload};
use serde::Deserialize;
use serde_json::Value;

use crate::WorkerState;

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    source: Option<String>,
    report: Value,
}

/// The object path of one group.
pub fn object_path(
    template: &str,
    source: &str,
    api_key: Option<&str>,
    day: chrono::NaiveDate,
    batch_id: u64,
    group: usize,
) -> String {
    let dir = template
        .replace("{source}", source)
        .replace("{api_key}", api_key.unwrap_or("no_key"))
        .replace("{year}", &day.year().to_string())
        .replace("{month}", &format!("{:02}", day.month()))
        .replace("{day}", &format!("{:02}", day.day()));
    let dir = dir.trim_matches('/');
    if dir.is_empty() {
        format!("{batch_id}-{group}.json.gz")
    } else {
        format!("{dir}/{batch_id}-{group}.json.gz")
    }
}

/// Writes one batch of reports to the export's object store.
pub async fn send(
    state: &WorkerState,
    config: &ExportConfigRow,
    batch_id: u64,
    raw_items: &[Vec<u8>],
) -> anyhow::Result<()> {
    let url = config
        .url
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("backup export {:?} has no url", config.name))?;
    let target: Target = for_url(url, &state.assets)?;
    let groups = super::group_in_order(
        raw_items
            .iter()
            .filter_map(|raw| serde_json::from_slice::<Item>(raw).ok())
            .map(|item| {
                let key = (
                    item.source.unwrap_or_else(|| "gnss".to_owned()),
                    item.api_key,
                );
                (key, item.report)
            }),
    );
    let today = chrono::Utc::now().date_naive();
    for (index, ((source, api_key), reports)) in groups.into_iter().enumerate() {
        let path = object_path(
            &target.template,
            &source,
            api_key.as_deref(),
            today,
            batch_id,
            index,
        );
        let json = serde_json::to_vec(&serde_json::json!({ "items": reports }))?;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(7));
        encoder.write_all(&json)?;
        let body = encoder.finish()?;
        let mut options = PutOptions::default();
        if target.attributes {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, "application/json".into());
            attributes.insert(Attribute::ContentEncoding, "gzip".into());
            options.attributes = attributes;
        }
        target
            .store
            .put_opts(&Path::from(path), PutPayload::from(body), options)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_zero_padded_and_deterministic() {
        let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 5).unwrap();
        assert_eq!(
            object_path(
                "backups/{source}/{api_key}/{year}/{month}/{day}",
                "gnss",
                None,
                day,
                42,
                0
            ),
            "backups/gnss/no_key/2024/01/05/42-0.json.gz"
        );
        assert_eq!(
            object_path("", "query", Some("test"), day, 7, 3),
            "7-3.json.gz"
        );
    }
}
