//! Names of the Redis data queues (`pipeline.md` §3.3).
//!
//! Every producer and consumer derives its Redis key from a [`QueueName`], so the api,
//! the worker and the admin tools cannot disagree about where data lives. Station queues
//! are derived from the shard types; export queues carry the export name (and, for
//! object-store backups, the source and API key partition).

use std::borrow::Cow;

use crate::shard::{BlueShard, CellShard, DataMapShard, WifiShard};

/// A named data queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// Raw reports from the submit APIs and sampled locate queries.
    UpdateIncoming,
    /// Reports waiting for one export target (`queue_export_<name>`, optionally
    /// partitioned as `queue_export_<name>:<source>:<api key or no_key>`).
    Export {
        /// The `export_config.name`.
        name: String,
        /// The partition suffix (`<source>:<api key or no_key>`), for object-store exports.
        partition: Option<String>,
    },
    /// Bluetooth observations for one shard.
    UpdateBlue(BlueShard),
    /// WiFi observations for one shard.
    UpdateWifi(WifiShard),
    /// Cell observations for one radio.
    UpdateCell(CellShard),
    /// Cell area ids whose aggregates must be recomputed.
    UpdateCellArea,
    /// Datamap grid cells to record in one quadrant.
    UpdateDatamap(DataMapShard),
    /// Triggers of periodic tasks, pushed by the scheduler (an ichnaea-rs queue; the
    /// reference uses Celery's lists for this).
    Tasks,
}

impl QueueName {
    /// The Redis key of the queue's list.
    pub fn key(&self) -> Cow<'static, str> {
        match self {
            QueueName::UpdateIncoming => Cow::Borrowed("update_incoming"),
            QueueName::Export {
                name,
                partition: None,
            } => Cow::Owned(format!("queue_export_{name}")),
            QueueName::Export {
                name,
                partition: Some(partition),
            } => Cow::Owned(format!("queue_export_{name}:{partition}")),
            QueueName::UpdateBlue(shard) => Cow::Borrowed(shard.queue_key()),
            QueueName::UpdateWifi(shard) => Cow::Borrowed(shard.queue_key()),
            QueueName::UpdateCell(shard) => Cow::Borrowed(shard.queue_key()),
            QueueName::UpdateCellArea => Cow::Borrowed("update_cellarea"),
            QueueName::UpdateDatamap(shard) => Cow::Borrowed(shard.queue_key()),
            QueueName::Tasks => Cow::Borrowed("ichnaea_tasks"),
        }
    }

    /// The `data_type` metric tag of the queue.
    pub fn data_type(&self) -> &'static str {
        match self {
            QueueName::UpdateIncoming => "report",
            QueueName::Export { .. } => "exports",
            QueueName::UpdateBlue(_) => "bluetooth",
            QueueName::UpdateWifi(_) => "wifi",
            QueueName::UpdateCell(_) => "cell",
            QueueName::UpdateCellArea => "cellarea",
            QueueName::UpdateDatamap(_) => "datamap",
            QueueName::Tasks => "task",
        }
    }

    /// Every fixed (non-export) data queue: the ones the monitor reports on.
    pub fn all_fixed() -> Vec<QueueName> {
        let mut all = vec![QueueName::UpdateIncoming, QueueName::UpdateCellArea];
        all.extend(BlueShard::ALL.map(QueueName::UpdateBlue));
        all.extend(WifiShard::ALL.map(QueueName::UpdateWifi));
        all.extend(CellShard::ALL.map(QueueName::UpdateCell));
        all.extend(DataMapShard::ALL.map(QueueName::UpdateDatamap));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_reference_names() {
        assert_eq!(QueueName::UpdateIncoming.key(), "update_incoming");
        assert_eq!(QueueName::UpdateCellArea.key(), "update_cellarea");
        assert_eq!(
            QueueName::UpdateWifi(WifiShard::ALL[10]).key(),
            "update_wifi_a"
        );
        assert_eq!(
            QueueName::UpdateDatamap(DataMapShard::Sw).key(),
            "update_datamap_sw"
        );
        let backup = QueueName::Export {
            name: "backup".into(),
            partition: Some("gnss:no_key".into()),
        };
        assert_eq!(backup.key(), "queue_export_backup:gnss:no_key");
        let internal = QueueName::Export {
            name: "internal".into(),
            partition: None,
        };
        assert_eq!(internal.key(), "queue_export_internal");
        assert_eq!(internal.data_type(), "exports");
    }

    #[test]
    fn fixed_queues_are_unique() {
        let all = QueueName::all_fixed();
        let keys: std::collections::HashSet<_> = all.iter().map(QueueName::key).collect();
        assert_eq!(keys.len(), all.len());
        assert_eq!(all.len(), 2 + 16 + 16 + 4 + 4);
    }
}
