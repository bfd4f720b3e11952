//! The name of every statsd metric the service emits.
//!
//! Names are identical to the reference's (`pipeline.md` §16.1, `api.md` Appendix C) so
//! existing dashboards keep working; the `location.` prefix is added by the statsd client.
//! `docs/metrics.md` documents each one with its type and tags, and a test in this crate
//! fails if a variant is missing there.
//!
//! Tags must come from closed sets (API key labels, paths, status codes, shard ids), never
//! from hostnames, user agents, raw API keys or station identifiers: unbounded tag values
//! overload the metrics backend, and keys and identifiers are secrets or personal data.

use strum::{EnumIter, IntoStaticStr};

/// Every metric name, with its dotted wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, IntoStaticStr)]
pub enum MetricName {
    /// Gauge: today's request count per API key and path.
    #[strum(serialize = "api.limit")]
    ApiLimit,
    /// Counter: submit request whose data was kept.
    #[strum(serialize = "data.batch.upload")]
    DataBatchUpload,
    /// Counter: exported batch.
    #[strum(serialize = "data.export.batch")]
    DataExportBatch,
    /// Counter: export upload outcome.
    #[strum(serialize = "data.export.upload")]
    DataExportUpload,
    /// Timer: duration of one export send.
    #[strum(serialize = "data.export.upload.timing")]
    DataExportUploadTiming,
    /// Counter: malformed station entries dropped.
    #[strum(serialize = "data.observation.drop")]
    DataObservationDrop,
    /// Counter: observations processed by the station updaters.
    #[strum(serialize = "data.observation.insert")]
    DataObservationInsert,
    /// Counter: valid observations queued.
    #[strum(serialize = "data.observation.upload")]
    DataObservationUpload,
    /// Counter: reports without any valid observation.
    #[strum(serialize = "data.report.drop")]
    DataReportDrop,
    /// Counter: reports entering the internal export.
    #[strum(serialize = "data.report.upload")]
    DataReportUpload,
    /// Counter: stations blocked.
    #[strum(serialize = "data.station.blocklist")]
    DataStationBlocklist,
    /// Counter: stations confirmed, changed or replaced.
    #[strum(serialize = "data.station.confirm")]
    DataStationConfirm,
    /// Counter: retried database lock errors in station updates.
    #[strum(serialize = "data.station.dberror")]
    DataStationDberror,
    /// Counter: new stations.
    #[strum(serialize = "data.station.new")]
    DataStationNew,
    /// Counter: retried database lock errors in datamap updates.
    #[strum(serialize = "datamaps.dberror")]
    DatamapsDberror,
    /// Gauge: database pool connections (ichnaea-rs addition).
    #[strum(serialize = "db.pool")]
    DbPool,
    /// Counter: fallback cache outcome.
    #[strum(serialize = "locate.fallback.cache")]
    LocateFallbackCache,
    /// Counter: fallback provider HTTP status.
    #[strum(serialize = "locate.fallback.lookup")]
    LocateFallbackLookup,
    /// Timer: fallback provider request duration.
    #[strum(serialize = "locate.fallback.lookup.timing")]
    LocateFallbackLookupTiming,
    /// Counter: locate queries by network counts.
    #[strum(serialize = "locate.query")]
    LocateQuery,
    /// Counter: locate requests.
    #[strum(serialize = "locate.request")]
    LocateRequest,
    /// Counter: locate results.
    #[strum(serialize = "locate.result")]
    LocateResult,
    /// Counter: locate results per source.
    #[strum(serialize = "locate.source")]
    LocateSource,
    /// Gauge: unique locate users per key.
    #[strum(serialize = "locate.user")]
    LocateUser,
    /// Gauge: data queue lengths.
    #[strum(serialize = "queue")]
    Queue,
    /// Gauge: items parked in a queue's dead-letter list (ichnaea-rs addition).
    #[strum(serialize = "queue.dead")]
    QueueDead,
    /// Gauge: claimed, unacknowledged batches of a queue (ichnaea-rs addition).
    #[strum(serialize = "queue.inflight")]
    QueueInflight,
    /// Gauge: global locate sample rate.
    #[strum(serialize = "rate_control.locate")]
    RateControlLocate,
    /// Gauge: rate controller derivative term.
    #[strum(serialize = "rate_control.locate.dterm")]
    RateControlLocateDterm,
    /// Gauge: rate controller integral term.
    #[strum(serialize = "rate_control.locate.iterm")]
    RateControlLocateIterm,
    /// Gauge: rate controller derivative gain.
    #[strum(serialize = "rate_control.locate.kd")]
    RateControlLocateKd,
    /// Gauge: rate controller integral gain.
    #[strum(serialize = "rate_control.locate.ki")]
    RateControlLocateKi,
    /// Gauge: rate controller proportional gain.
    #[strum(serialize = "rate_control.locate.kp")]
    RateControlLocateKp,
    /// Gauge: rate controller proportional term.
    #[strum(serialize = "rate_control.locate.pterm")]
    RateControlLocatePterm,
    /// Gauge: rate controller target backlog.
    #[strum(serialize = "rate_control.locate.target")]
    RateControlLocateTarget,
    /// Counter: region queries by network counts.
    #[strum(serialize = "region.query")]
    RegionQuery,
    /// Counter: region requests.
    #[strum(serialize = "region.request")]
    RegionRequest,
    /// Counter: region results.
    #[strum(serialize = "region.result")]
    RegionResult,
    /// Counter: region results per source.
    #[strum(serialize = "region.source")]
    RegionSource,
    /// Counter: every non-static HTTP request.
    #[strum(serialize = "request")]
    Request,
    /// Timer: HTTP request duration.
    #[strum(serialize = "request.timing")]
    RequestTiming,
    /// Counter: submit requests.
    #[strum(serialize = "submit.request")]
    SubmitRequest,
    /// Gauge: unique submit users per key.
    #[strum(serialize = "submit.user")]
    SubmitUser,
    /// Timer: task duration.
    #[strum(serialize = "task")]
    Task,
    /// Gauge: InnoDB transaction history length.
    #[strum(serialize = "trx_history.length")]
    TrxHistoryLength,
    /// Gauge: rate controller history maximum.
    #[strum(serialize = "trx_history.max")]
    TrxHistoryMax,
    /// Gauge: rate controller history minimum.
    #[strum(serialize = "trx_history.min")]
    TrxHistoryMin,
    /// Gauge: rate controller purging mode.
    #[strum(serialize = "trx_history.purging")]
    TrxHistoryPurging,
}

impl MetricName {
    /// The dotted wire name, without the `location.` prefix.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_metric_is_documented() {
        let doc = include_str!("../../../docs/metrics.md");
        let missing: Vec<_> = MetricName::iter()
            .map(MetricName::as_str)
            .filter(|name| !doc.contains(&format!("| `{name}` |")))
            .collect();
        assert!(missing.is_empty(), "not in docs/metrics.md: {missing:?}");
    }

    #[test]
    fn names_are_unique() {
        let names: std::collections::HashSet<_> = MetricName::iter().map(|m| m.as_str()).collect();
        assert_eq!(names.len(), MetricName::iter().count());
    }
}
