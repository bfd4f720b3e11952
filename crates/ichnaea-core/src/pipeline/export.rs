//! The internal export: from queued reports to station observations and datamap cells
//! (`pipeline.md` §4).
//!
//! Reports arrive in the geosubmit v2 shape the API normalised them to (§3.4 (a), (b)).
//! Each one is
//!
//! 1. **transformed** to the internal field names, with network ages made relative to the
//!    GNSS fix ([`transform_report`], §4.1);
//! 2. **validated**: report-level fields, then each station entry ([`crate::pipeline::validate`],
//!    §4.2–§4.3);
//! 3. **split** into one observation per valid entry, de-duplicated per report and station
//!    with the reference's `better()` rule (§4.4).
//!
//! [`internal_export`] does all of it for one dequeued batch and returns the observations
//! (to push to their shard queues), the datamap grid cells and the per-API-key counters of
//! §4.5. It is a pure function of its input, so re-running it is harmless — but pushing its
//! output twice duplicates observations downstream.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::grid::Grid;
use crate::metrics::MetricName;
use crate::pipeline::StationKind;
use crate::pipeline::datamap::grids_by_shard;
use crate::pipeline::observation::{
    BlueObservation, CellObservation, Observation, StationObservation, WifiObservation,
};
use crate::pipeline::region::RegionLookup;
use crate::pipeline::station::StationKey;
use crate::pipeline::validate::{
    json_i64, validate_blue, validate_cell, validate_report, validate_wifi,
};
use crate::queue::QueueName;
use crate::shard::DataMapShard;

/// An item of an export queue: `{"api_key": ..., "report": ...}` (§3.4 (b)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportItem {
    /// The submitting API key, if it exists in `api_key`.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The geosubmit v2 report.
    #[serde(default)]
    pub report: Value,
}

/// A mapping of one source field to one internal field.
type FieldMap = &'static [(&'static str, &'static str)];

const POSITION_FIELDS: FieldMap = &[
    ("latitude", "lat"),
    ("longitude", "lon"),
    ("accuracy", "accuracy"),
    ("altitude", "altitude"),
    ("altitudeAccuracy", "altitude_accuracy"),
    ("heading", "heading"),
    ("pressure", "pressure"),
    ("speed", "speed"),
    ("source", "source"),
];

const BLUE_FIELDS: FieldMap = &[
    ("macAddress", "mac"),
    ("age", "age"),
    ("signalStrength", "signal"),
];

const CELL_FIELDS: FieldMap = &[
    ("radioType", "radio"),
    ("mobileCountryCode", "mcc"),
    ("mobileNetworkCode", "mnc"),
    ("locationAreaCode", "lac"),
    ("cellId", "cid"),
    ("age", "age"),
    ("asu", "asu"),
    ("primaryScramblingCode", "psc"),
    ("serving", "serving"),
    ("signalStrength", "signal"),
    ("timingAdvance", "ta"),
];

const WIFI_FIELDS: FieldMap = &[
    ("macAddress", "mac"),
    ("age", "age"),
    ("channel", "channel"),
    ("frequency", "frequency"),
    ("radioType", "radio"),
    ("signalToNoiseRatio", "snr"),
    ("signalStrength", "signal"),
];

/// The network sections: source list name, internal name, field map.
const SECTIONS: [(&str, &str, FieldMap); 3] = [
    ("bluetoothBeacons", "blue", BLUE_FIELDS),
    ("cellTowers", "cell", CELL_FIELDS),
    ("wifiAccessPoints", "wifi", WIFI_FIELDS),
];

/// Copies the mapped, non-null fields of `source`.
fn map_fields(source: &Map<String, Value>, fields: FieldMap) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|&(from, to)| match source.get(from) {
            None | Some(Value::Null) => None,
            Some(value) => Some((to.to_owned(), value.clone())),
        })
        .collect()
}

/// Transforms a geosubmit v2 report to the internal names (`InternalTransform`, §4.1).
///
/// Null values are omitted, list entries that map to nothing are dropped and empty
/// sections are omitted. With `gps_age = position.age` (default 0): a truthy `timestamp`
/// becomes `timestamp − gps_age` (the GNSS fix time), and if `gps_age ≠ 0` every network
/// entry gets `age = (age or 0) − gps_age`. Returns `None` when no Bluetooth, cell or WiFi
/// entry remains (the item is skipped without metrics).
///
/// Values the reference would crash on (a non-object entry, a non-list section, a
/// non-numeric age) are skipped or treated as missing.
pub fn transform_report(report: &Value) -> Option<Map<String, Value>> {
    let report = report.as_object()?;
    let position = report.get("position").and_then(Value::as_object);
    let mut out = position.map_or_else(Map::new, |p| map_fields(p, POSITION_FIELDS));

    let mut any = false;
    for (source, target, fields) in SECTIONS {
        let entries: Vec<Value> = report
            .get(source)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|entry| map_fields(entry, fields))
            .filter(|entry| !entry.is_empty())
            .map(Value::Object)
            .collect();
        if !entries.is_empty() {
            any = true;
            out.insert(target.to_owned(), Value::Array(entries));
        }
    }

    let gps_age = position.and_then(|p| json_i64(p.get("age"))).unwrap_or(0);
    if let Some(timestamp) = json_i64(report.get("timestamp")).filter(|&t| t != 0) {
        out.insert("timestamp".to_owned(), Value::from(timestamp - gps_age));
    }
    if gps_age != 0 {
        for (_, target, _) in SECTIONS {
            if let Some(Value::Array(entries)) = out.get_mut(target) {
                for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                    let age = json_i64(entry.get("age")).unwrap_or(0);
                    entry.insert("age".to_owned(), Value::from(age - gps_age));
                }
            }
        }
    }
    any.then_some(out)
}

/// The internal export counters of one API key (§4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportCounts {
    /// `data.report.upload`: non-empty transformed reports, valid or not.
    pub report_upload: u64,
    /// `data.report.drop`: reports without any valid observation.
    pub report_drop: u64,
    /// `data.observation.upload` by kind (blue, wifi, cell): valid de-duplicated
    /// observations.
    pub observation_upload: [u64; 3],
    /// `data.observation.drop` by kind: malformed entries of valid reports.
    pub observation_drop: [u64; 3],
}

fn kind_index(kind: StationKind) -> usize {
    match kind {
        StationKind::Blue => 0,
        StationKind::Wifi => 1,
        StationKind::Cell => 2,
    }
}

impl ExportCounts {
    /// Valid observations of `kind`.
    pub fn uploaded(&self, kind: StationKind) -> u64 {
        self.observation_upload[kind_index(kind)]
    }

    /// Malformed entries of `kind`.
    pub fn dropped(&self, kind: StationKind) -> u64 {
        self.observation_drop[kind_index(kind)]
    }

    /// The statsd counters to emit: `(metric, type tag, value)`, zero values left out.
    /// The caller adds the tag `key:<api_key>` if the key exists in `api_key`.
    pub fn metrics(&self) -> Vec<(MetricName, Option<&'static str>, u64)> {
        let mut out = vec![
            (MetricName::DataReportUpload, None, self.report_upload),
            (MetricName::DataReportDrop, None, self.report_drop),
        ];
        for kind in StationKind::ALL {
            out.push((
                MetricName::DataObservationUpload,
                Some(kind.tag()),
                self.uploaded(kind),
            ));
            out.push((
                MetricName::DataObservationDrop,
                Some(kind.tag()),
                self.dropped(kind),
            ));
        }
        out.retain(|&(_, _, n)| n > 0);
        out
    }
}

/// The result of one internal export batch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InternalExport {
    /// Bluetooth observations, in report order.
    pub blue: Vec<BlueObservation>,
    /// WiFi observations, in report order.
    pub wifi: Vec<WifiObservation>,
    /// Cell observations, in report order.
    pub cell: Vec<CellObservation>,
    /// Unique grid cells of the reports with at least one valid observation, by quadrant;
    /// empty unless the datamap is recorded.
    pub datamap: BTreeMap<DataMapShard, BTreeSet<Grid>>,
    /// Counters per API key as found in the items (`None`: no key).
    pub counts: BTreeMap<Option<String>, ExportCounts>,
}

impl InternalExport {
    /// All observations as one list: Bluetooth, then cells, then WiFi.
    pub fn observations(&self) -> Vec<Observation> {
        self.blue
            .iter()
            .cloned()
            .map(Observation::Blue)
            .chain(self.cell.iter().cloned().map(Observation::Cell))
            .chain(self.wifi.iter().cloned().map(Observation::Wifi))
            .collect()
    }

    /// The JSON payloads to push, grouped by station queue (first appearance order, batch
    /// order within a queue).
    pub fn queue_payloads(&self) -> serde_json::Result<Vec<(QueueName, Vec<String>)>> {
        let mut index: HashMap<QueueName, usize> = HashMap::new();
        let mut out: Vec<(QueueName, Vec<String>)> = Vec::new();
        for obs in self.observations() {
            let queue = obs.queue();
            let json = obs.to_json()?;
            match index.get(&queue) {
                Some(&i) => out[i].1.push(json),
                None => {
                    index.insert(queue.clone(), out.len());
                    out.push((queue, vec![json]));
                }
            }
        }
        Ok(out)
    }
}

/// De-duplicates entries of one report by station: a repeated station replaces the kept
/// entry unless the kept one is `better_than` it; the position in the output stays that of
/// the station's first entry (as a Python dict update does).
fn dedup<O: StationObservation>(observations: impl IntoIterator<Item = O>) -> Vec<O> {
    let mut index: HashMap<StationKey, usize> = HashMap::new();
    let mut out: Vec<O> = Vec::new();
    for obs in observations {
        let key = obs.station_key();
        match index.get(&key) {
            Some(&i) => {
                if !out[i].better_than(&obs) {
                    out[i] = obs;
                }
            }
            None => {
                index.insert(key, out.len());
                out.push(obs);
            }
        }
    }
    out
}

fn entries<'a>(
    report: &'a Map<String, Value>,
    section: &str,
) -> impl Iterator<Item = &'a Map<String, Value>> {
    report
        .get(section)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// Validates and splits one batch of export items (`InternalExporter.send`).
///
/// `record_datamap` gates the datamap output: pass the same condition that enables the
/// datamap consumers (a Mapbox token), so grid cells are not queued where nobody drains
/// them (quirk 1, fixed).
pub fn internal_export(
    items: &[ExportItem],
    regions: &dyn RegionLookup,
    record_datamap: bool,
) -> InternalExport {
    let mut result = InternalExport::default();
    let mut positions = Vec::new();
    for item in items {
        let Some(report) = transform_report(&item.report) else {
            continue;
        };
        let counts = result.counts.entry(item.api_key.clone()).or_default();
        counts.report_upload += 1;
        let Some(base) = validate_report(&report, regions) else {
            counts.report_drop += 1;
            continue;
        };

        let mut malformed = [0u64; 3];
        let blue = dedup(entries(&report, "blue").filter_map(|e| {
            let obs = validate_blue(&base, e);
            malformed[0] += u64::from(obs.is_none());
            obs
        }));
        let cell = dedup(entries(&report, "cell").filter_map(|e| {
            let obs = validate_cell(&base, e);
            malformed[2] += u64::from(obs.is_none());
            obs
        }));
        let wifi = dedup(entries(&report, "wifi").filter_map(|e| {
            let obs = validate_wifi(&base, e);
            malformed[1] += u64::from(obs.is_none());
            obs
        }));

        for (i, n) in malformed.iter().enumerate() {
            counts.observation_drop[i] += n;
        }
        counts.observation_upload[kind_index(StationKind::Blue)] += blue.len() as u64;
        counts.observation_upload[kind_index(StationKind::Wifi)] += wifi.len() as u64;
        counts.observation_upload[kind_index(StationKind::Cell)] += cell.len() as u64;
        if blue.is_empty() && wifi.is_empty() && cell.is_empty() {
            counts.report_drop += 1;
        } else {
            positions.push((base.lat, base.lon));
        }
        result.blue.extend(blue);
        result.cell.extend(cell);
        result.wifi.extend(wifi);
    }
    if record_datamap {
        result.datamap = grids_by_shard(&positions);
    }
    result
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::enums::{Radio, ReportSource};
    use crate::pipeline::batch::StationBatch;
    use crate::pipeline::region::fake::FakeRegions;
    use crate::time::DateTime;

    fn transformed(report: Value) -> Value {
        transform_report(&report).map_or(Value::Null, Value::Object)
    }

    #[test]
    fn transform_empty() {
        assert_eq!(transformed(json!({})), Value::Null);
        assert_eq!(transformed(json!(null)), Value::Null);
        assert_eq!(
            transformed(json!({"position": {"latitude": 1.0}})),
            Value::Null
        );
        assert_eq!(
            transformed(json!({"wifiAccessPoints": [{}, {"ssid": "x"}]})),
            Value::Null
        );
    }

    #[test]
    fn transform_position_and_timestamp() {
        let t = 1_460_700_010_000_i64;
        let out = transformed(json!({
            "timestamp": t,
            "position": {
                "latitude": 1.0, "longitude": 2.0, "accuracy": 30.1, "altitude": 1100.3,
                "altitudeAccuracy": 50.7, "age": 6001, "heading": 270.1, "speed": 2.5,
                "pressure": 1020.2, "source": "gnss"
            },
            "wifiAccessPoints": [{"macAddress": "3680873e9b83"}]
        }));
        assert_eq!(
            out,
            json!({
                "lat": 1.0, "lon": 2.0, "accuracy": 30.1, "altitude": 1100.3,
                "altitude_accuracy": 50.7, "heading": 270.1, "speed": 2.5,
                "pressure": 1020.2, "source": "gnss", "timestamp": t - 6001,
                "wifi": [{"mac": "3680873e9b83", "age": -6001}]
            })
        );
    }

    #[test]
    fn transform_makes_ages_relative_to_the_fix() {
        let out = transformed(json!({
            "position": {"latitude": 1.0, "longitude": 2.0, "age": 1000},
            "bluetoothBeacons": [{"macAddress": "a", "age": 2000}, {"macAddress": "b"}],
            "wifiAccessPoints": [{"macAddress": "c", "age": -500}, {"macAddress": "d", "age": 1500}]
        }));
        assert_eq!(
            out["blue"],
            json!([{"mac": "a", "age": 1000}, {"mac": "b", "age": -1000}])
        );
        assert_eq!(
            out["wifi"],
            json!([{"mac": "c", "age": -1500}, {"mac": "d", "age": 500}])
        );

        let out = transformed(json!({
            "position": null,
            "bluetoothBeacons": [{"macAddress": "a", "age": 2000}, {"macAddress": "b"}],
        }));
        assert_eq!(
            out,
            json!({"blue": [{"mac": "a", "age": 2000}, {"mac": "b"}]})
        );

        let out = transformed(json!({
            "timestamp": 1_460_700_010_000_i64,
            "position": {"age": 2000},
            "cellTowers": [{"radioType": "gsm"}],
            "wifiAccessPoints": [{"macAddress": "c"}]
        }));
        assert_eq!(out["timestamp"], 1_460_700_008_000_i64);
        assert_eq!(out["cell"][0]["age"], -2000);
        assert_eq!(out["wifi"][0]["age"], -2000);
    }

    #[test]
    fn transform_maps_every_field() {
        let out = transformed(json!({
            "bluetoothBeacons": [{
                "macAddress": "3680873e9b83", "age": 3, "name": "beacon", "signalStrength": -90
            }],
            "cellTowers": [{
                "radioType": "lte", "mobileCountryCode": 262, "mobileNetworkCode": 1,
                "locationAreaCode": 123, "cellId": 12345, "age": 3, "asu": 31,
                "primaryScramblingCode": 5, "serving": 1, "signalStrength": -51,
                "timingAdvance": 1
            }],
            "wifiAccessPoints": [{
                "macAddress": "3680873e9b83", "age": 3, "channel": 5, "frequency": 2432,
                "radioType": "802.11n", "signalStrength": -90, "signalToNoiseRatio": 5,
                "ssid": "wifi"
            }]
        }));
        assert_eq!(
            out["blue"],
            json!([{"mac": "3680873e9b83", "age": 3, "signal": -90}])
        );
        assert_eq!(
            out["cell"],
            json!([{
                "radio": "lte", "mcc": 262, "mnc": 1, "lac": 123, "cid": 12345, "age": 3,
                "asu": 31, "psc": 5, "serving": 1, "signal": -51, "ta": 1
            }])
        );
        assert_eq!(
            out["wifi"],
            json!([{
                "mac": "3680873e9b83", "age": 3, "channel": 5, "frequency": 2432,
                "radio": "802.11n", "signal": -90, "snr": 5
            }])
        );
    }

    fn item(api_key: Option<&str>, report: Value) -> ExportItem {
        ExportItem {
            api_key: api_key.map(str::to_owned),
            report,
        }
    }

    fn position(lat: f64, lon: f64) -> Value {
        json!({"latitude": lat, "longitude": lon, "accuracy": 10.0})
    }

    fn export(items: &[ExportItem]) -> InternalExport {
        internal_export(items, &FakeRegions::world(), true)
    }

    #[test]
    fn internal_metrics_and_station_counts() {
        let mut items = Vec::new();
        let mut n = 0u32;
        let mut next = |key: Option<&str>, source: &str| {
            n += 1;
            let mac = |i: u32| format!("a820{:08x}", n * 10 + i);
            item(
                key,
                json!({
                    "timestamp": 1_460_700_010_000_i64,
                    "position": {
                        "latitude": 51.5 + f64::from(n) * 0.01, "longitude": -0.1,
                        "accuracy": 10.0, "source": source
                    },
                    "cellTowers": [{
                        "radioType": "gsm", "mobileCountryCode": 234, "mobileNetworkCode": 30,
                        "locationAreaCode": 1, "cellId": n, "signalStrength": -95
                    }],
                    "wifiAccessPoints": [
                        {"macAddress": mac(1), "signalStrength": -80},
                        {"macAddress": mac(2), "signalStrength": -80}
                    ]
                }),
            )
        };
        for _ in 0..3 {
            items.push(next(Some("test"), "gnss"));
            items.push(next(Some("e5444-794"), "gnss"));
            items.push(next(Some("e5444-794"), "fused"));
            items.push(next(None, "gnss"));
        }
        let out = export(&items);
        let counts = |key: Option<&str>| out.counts[&key.map(str::to_owned)];
        assert_eq!(counts(None).uploaded(StationKind::Cell), 3);
        assert_eq!(counts(Some("e5444-794")).uploaded(StationKind::Cell), 6);
        assert_eq!(counts(Some("test")).uploaded(StationKind::Cell), 3);
        assert_eq!(counts(None).uploaded(StationKind::Wifi), 6);
        assert_eq!(counts(Some("e5444-794")).uploaded(StationKind::Wifi), 12);
        assert_eq!(counts(Some("test")).uploaded(StationKind::Wifi), 6);
        assert_eq!(counts(Some("e5444-794")).report_upload, 6);
        assert_eq!(counts(Some("test")).report_drop, 0);
        assert_eq!(
            counts(Some("test")).metrics(),
            vec![
                (MetricName::DataReportUpload, None, 3),
                (MetricName::DataObservationUpload, Some("wifi"), 6),
                (MetricName::DataObservationUpload, Some("cell"), 3),
            ]
        );

        // Feed the station updaters as the queues would.
        let now = DateTime::from_ymd_hms(2024, 1, 12, 10, 0, 0).unwrap();
        let regions = FakeRegions::world();
        let cells = StationBatch::new(out.cell.clone()).apply(&HashMap::new(), now, &regions);
        assert_eq!((cells.counters.observations, cells.counters.new), (12, 12));
        let wifis = StationBatch::new(out.wifi.clone()).apply(&HashMap::new(), now, &regions);
        assert_eq!((wifis.counters.observations, wifis.counters.new), (24, 24));
        let fused = out
            .cell
            .iter()
            .filter(|o| o.report.source == Some(ReportSource::Fused));
        assert_eq!(fused.count(), 3);
    }

    #[test]
    fn single_station_reports() {
        let out = export(&[
            item(
                None,
                json!({"position": position(51.5, -0.1),
                "bluetoothBeacons": [{"macAddress": "a82066123456"}]}),
            ),
            item(
                None,
                json!({"position": position(51.5, -0.1),
                "cellTowers": [{"radioType": "wcdma", "mobileCountryCode": 234,
                    "mobileNetworkCode": 30, "locationAreaCode": 2, "cellId": 3,
                    "primaryScramblingCode": 4}]}),
            ),
            item(
                None,
                json!({"position": position(51.5, -0.1),
                "wifiAccessPoints": [{"macAddress": "a82066654321"}]}),
            ),
        ]);
        assert_eq!((out.blue.len(), out.cell.len(), out.wifi.len()), (1, 1, 1));
        let cell = &out.cell[0];
        assert_eq!(
            cell.cell,
            crate::ids::CellId::new(Radio::Wcdma, 234, 30, 2, 3).unwrap()
        );
        assert_eq!(cell.psc, Some(4));
        assert_eq!((cell.report.lat, cell.report.lon), (51.5, -0.1));
        let queues: Vec<_> = out
            .queue_payloads()
            .unwrap()
            .into_iter()
            .map(|(q, items)| (q.key().into_owned(), items.len()))
            .collect();
        assert_eq!(
            queues,
            [
                ("update_blue_6".to_owned(), 1),
                ("update_cell_wcdma".to_owned(), 1),
                ("update_wifi_6".to_owned(), 1)
            ]
        );
        let payload: Value = serde_json::from_str(&out.queue_payloads().unwrap()[1].1[0]).unwrap();
        assert_eq!(
            payload,
            json!({"lat": 51.5, "lon": -0.1, "accuracy": 10.0, "radio": 2, "mcc": 234,
                   "mnc": 30, "lac": 2, "cid": 3, "psc": 4})
        );
    }

    #[test]
    fn duplicated_networks_in_one_report() {
        let wifi = |signal: i32| json!({"macAddress": "a82066123456", "signalStrength": signal});
        let out = export(&[item(
            None,
            json!({"position": position(51.5, -0.1),
                   "wifiAccessPoints": [wifi(-80), wifi(-78), wifi(-82)]}),
        )]);
        assert_eq!(out.wifi.len(), 1);
        assert_eq!(out.wifi[0].signal, Some(-78), "the strongest survives");
        let cell = |signal: i32, ta: i32| {
            json!({"radioType": "gsm", "mobileCountryCode": 234, "mobileNetworkCode": 30,
                   "locationAreaCode": 1, "cellId": 2, "signalStrength": signal,
                   "timingAdvance": ta})
        };
        let out = export(&[item(
            None,
            json!({"position": position(51.5, -0.1),
                   "cellTowers": [cell(-60, 5), cell(-90, 1), cell(-70, 9)]}),
        )]);
        assert_eq!(out.cell.len(), 1);
        assert_eq!(
            (out.cell[0].signal, out.cell[0].ta),
            (Some(-60), Some(5)),
            "the first entry loses on ta to the second but wins on signal, so it is kept \
             (quirk 6), and it beats the third on ta"
        );
        assert_eq!(out.counts[&None].uploaded(StationKind::Cell), 1);
    }

    #[test]
    fn invalid_entries_and_reports() {
        let out = export(&[item(
            Some("test"),
            json!({"position": position(51.5, -0.1), "bluetoothBeacons": [{"macAddress": "abcd"}]}),
        )]);
        assert!(out.blue.is_empty());
        assert_eq!(
            out.counts[&Some("test".to_owned())].dropped(StationKind::Blue),
            1
        );

        for report in [
            json!({"position": position(51.5, -0.1), "cellTowers": [{"radioType": "gsm",
                "mobileCountryCode": -2, "mobileNetworkCode": 30, "locationAreaCode": 1,
                "cellId": 2}]}),
            json!({"position": position(51.5, -0.1), "wifiAccessPoints": [{"macAddress": "abcd"}]}),
        ] {
            let out = export(&[item(Some("test"), report)]);
            let counts = out.counts[&Some("test".to_owned())];
            assert_eq!((counts.report_upload, counts.report_drop), (1, 1));
            assert_eq!(counts.observation_drop.iter().sum::<u64>(), 1);
            assert!(out.datamap.is_empty());
        }

        let wifi = json!([{"macAddress": "a82066123456"}]);
        let out = export(&[
            item(
                None,
                json!({"position": position(-90.1, -0.1), "wifiAccessPoints": wifi}),
            ),
            item(
                None,
                json!({"position": position(51.5, -0.1), "wifiAccessPoints": wifi}),
            ),
        ]);
        let counts = out.counts[&None];
        assert_eq!((counts.report_upload, counts.report_drop), (2, 1));
        assert_eq!(counts.uploaded(StationKind::Wifi), 1);
        assert_eq!(
            counts.dropped(StationKind::Wifi),
            0,
            "entries of invalid reports are not counted"
        );
        assert_eq!(out.wifi.len(), 1);

        let out = export(&[
            item(None, json!({"position": position(51.5, -0.1)})),
            item(None, json!({"wifiAccessPoints": wifi})),
        ]);
        let counts = out.counts[&None];
        assert_eq!(
            (counts.report_upload, counts.report_drop),
            (1, 1),
            "the empty report is skipped"
        );
    }

    #[test]
    fn datamap_cells() {
        let wifi = json!([{"macAddress": "a82066123456"}]);
        let items = [
            item(
                None,
                json!({"position": position(50.0, 10.0), "wifiAccessPoints": wifi}),
            ),
            item(
                None,
                json!({"position": position(20.0, -10.0), "wifiAccessPoints": wifi}),
            ),
            item(
                None,
                json!({"position": position(20.0, -10.0), "wifiAccessPoints": wifi}),
            ),
        ];
        let out = export(&items);
        assert_eq!(out.datamap.len(), 2);
        assert_eq!(out.datamap[&DataMapShard::Ne].len(), 1);
        assert_eq!(out.datamap[&DataMapShard::Sw].len(), 1);
        let gated = internal_export(&items, &FakeRegions::world(), false);
        assert!(gated.datamap.is_empty());
        assert_eq!(gated.wifi.len(), 3);
    }

    #[test]
    fn query_reports_keep_their_source() {
        let out = export(&[item(
            None,
            json!({"position": {"latitude": 51.5, "longitude": -0.1, "accuracy": 20.0,
                                "source": "query"},
                   "wifiAccessPoints": [{"macAddress": "a82066123456"}]}),
        )]);
        assert_eq!(out.wifi[0].report.source, Some(ReportSource::Query));
        let payload = &out.queue_payloads().unwrap()[0].1[0];
        assert!(payload.contains("\"source\":9"), "{payload}");
    }

    #[test]
    fn export_items_deserialize() {
        let item: ExportItem =
            serde_json::from_str(r#"{"api_key": null, "report": {"timestamp": 1}}"#).unwrap();
        assert_eq!(item.api_key, None);
        assert_eq!(item.report["timestamp"], 1);
    }

    #[test]
    fn nr_cells_are_exported() {
        let out = export(&[item(
            None,
            json!({"position": position(40.0, -100.0),
                   "cellTowers": [{"radioType": "nr", "mobileCountryCode": 310,
                       "mobileNetworkCode": 260, "locationAreaCode": 16_777_000,
                       "cellId": 68_719_476_000_i64, "primaryScramblingCode": 900}]}),
        )]);
        assert_eq!(out.cell.len(), 1);
        assert_eq!(out.cell[0].cell.radio(), Radio::Nr);
        let (queue, payloads) = &out.queue_payloads().unwrap()[0];
        assert_eq!(queue.key(), "update_cell_nr");
        let back: CellObservation = serde_json::from_str(&payloads[0]).unwrap();
        assert_eq!(back, out.cell[0]);
    }
}
