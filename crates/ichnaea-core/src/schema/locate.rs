//! The `/v1/geolocate` and `/v1/country` request schema (`api.md` §3.1–§3.3, §4, §8.2).
//!
//! Both endpoints share one body format, a superset of Google's Geolocation API. The
//! outer stage only checks JSON types (a type error is a 400 with colander-style
//! details); everything semantic is then lenient, because locate clients are many and
//! sloppy: bad optional values become null, bad entries are dropped, and the request
//! always yields a [`LocateRequest`] — possibly with no usable network at all, which
//! then means a GeoIP-only lookup.
//!
//! What a lookup must satisfy (per-network validation, §3.3):
//!
//! * WiFi / Bluetooth: a valid MAC (see [`Mac::parse`]); out-of-range optional fields are
//!   nulled; WiFi channel and frequency are derived from each other. At least two
//!   distinct networks of a kind are required, else the list is emptied — a single
//!   real network must never be locatable by pairing it with a fake one.
//! * Cells: radio `gsm`/`wcdma`/`lte` (`cdma` and unknown radios drop the entry), a
//!   valid MCC, MNC 0..=999, area code and cell id in range. Each cell entry also yields
//!   a location-area lookup, which needs no cell id.
//! * Duplicates are merged with the reference's `better()` rule.
//!
//! **5G NR extension** (not in the reference): `radioType: "nr"` is accepted in the
//! outer schema; the NR cell identity may come as Google's `newRadioCellId` (preferred)
//! or as `cellId` (NeoStumbler). NR ranges: TAC 1..=16777215, NCI 1..=2^36−1,
//! PCI 0..=1007, timing advance 0..=3846, ASU 0..=97, signal (SS-RSRP) −140..=−44 dBm,
//! signal from ASU = ASU − 140. NR cells produce NR areas as well.
//!
//! **Reference quirks kept:**
//! * `psc` is accepted but overwritten by `primaryScramblingCode`'s default, so only
//!   `primaryScramblingCode` is effective;
//! * a GSM cell with a cell id above 65535 becomes WCDMA, but its area stays GSM;
//! * `better()` keeps the existing entry as soon as *any* comparable field favours it;
//! * the outer `radioType` error message lists `gsm, cdma, wcdma, lte` (not `nr`).
//!
//! The WiFi opt-out rule of [`super::ssid_opted_out`] applies here too.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use serde_json::{Map, Value, json};

use super::colander::{
    Errors, int_field, join, mapping, sequence_field, set_index_path, str_field, to_bool,
};
use super::{ValidationError, ssid_opted_out};
use crate::enums::Radio;
use crate::ids::{CellAreaId, CellId, Mac};
use crate::json::JsonValue;
use crate::ranges::{
    CellRanges, channel_frequency, frequency_channel, is_valid_mcc, signal_from_asu,
};

/// The radio names the outer schema accepts (the reference's four plus `nr`).
const OUTER_RADIOS: [&str; 5] = ["gsm", "cdma", "wcdma", "lte", "nr"];
/// The choices quoted in the outer `radioType` error, as in the reference.
const OUTER_RADIOS_MESSAGE: &str = "gsm, cdma, wcdma, lte";

/// Minimum distinct Bluetooth beacons for the list to be used.
pub const MIN_BLUES_IN_QUERY: usize = 2;
/// Minimum distinct WiFi networks for the list to be used.
pub const MIN_WIFIS_IN_QUERY: usize = 2;

/// Age range of every observation, in ms.
const AGE: (i64, i64) = (-3_600_000, 3_600_000);

fn in_range(value: Option<i64>, (min, max): (i64, i64)) -> Option<i64> {
    value.filter(|v| (min..=max).contains(v))
}

fn to_i32(value: Option<i64>) -> Option<i32> {
    value.and_then(|v| i32::try_from(v).ok())
}

/// The validated lookups are the locate algorithm's own query types: the schema builds
/// exactly what the sources consume, so there is no second copy to keep in step.
pub use crate::locate::query::{
    AreaObservation as AreaLookup, BlueObservation as BlueLookup, CellObservation as CellLookup,
    FallbackFlags as Fallbacks, WifiObservation as WifiLookup,
};

/// Entries per list as sent, after the outer type checks but before any entry was
/// dropped (the `blue` / `cell` / `wifi` log fields and query metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawCounts {
    /// `bluetoothBeacons` entries.
    pub blue: usize,
    /// `cellTowers` entries.
    pub cell: usize,
    /// `wifiAccessPoints` entries.
    pub wifi: usize,
}

/// The raw fields of a Bluetooth entry, as typed by the outer schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlueInput {
    /// `macAddress`.
    pub mac: Option<String>,
    /// `age`.
    pub age: Option<i64>,
    /// `signalStrength`.
    pub signal: Option<i64>,
    /// `name`.
    pub name: Option<String>,
}

impl BlueLookup {
    /// Validates one entry; `None` drops it (invalid or missing MAC).
    pub fn build(input: &BlueInput) -> Option<BlueLookup> {
        let mac = Mac::parse(input.mac.as_deref()?).ok()?;
        Some(BlueLookup {
            mac,
            age: to_i32(in_range(input.age, AGE)),
            signal: to_i32(in_range(input.signal, (-127, 0))),
            name: input.name.clone().filter(|n| !n.is_empty()),
        })
    }

    /// The reference's `better()`: signal higher, then age lower.
    fn better(&self, other: &BlueLookup) -> bool {
        any_better(&[
            (self.signal, other.signal, Better::Higher),
            (self.age, other.age, Better::Lower),
        ])
    }
}

/// The raw fields of a WiFi entry, as typed by the outer schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WifiInput {
    /// `macAddress`.
    pub mac: Option<String>,
    /// `age`.
    pub age: Option<i64>,
    /// `channel`.
    pub channel: Option<i64>,
    /// `frequency`.
    pub frequency: Option<i64>,
    /// `signalStrength`.
    pub signal: Option<i64>,
    /// `signalToNoiseRatio`.
    pub snr: Option<i64>,
    /// `ssid`.
    pub ssid: Option<String>,
}

impl WifiLookup {
    /// Validates one entry; `None` drops it (invalid MAC, or an opted-out SSID).
    pub fn build(input: &WifiInput) -> Option<WifiLookup> {
        let mac = Mac::parse(input.mac.as_deref()?).ok()?;
        let ssid = input.ssid.clone().filter(|s| !s.is_empty());
        if ssid.as_deref().is_some_and(ssid_opted_out) {
            return None;
        }
        let mut channel = in_range(input.channel, (1, 199));
        let mut frequency = in_range(input.frequency, (2400, 5999));
        match (channel, frequency) {
            (Some(c), None) => frequency = channel_frequency(c),
            (None, Some(f)) => channel = frequency_channel(f),
            _ => {}
        }
        Some(WifiLookup {
            mac,
            age: to_i32(in_range(input.age, AGE)),
            channel: to_i32(channel),
            frequency: to_i32(frequency),
            signal: to_i32(in_range(input.signal, (-100, -10))),
            snr: to_i32(in_range(input.snr, (1, 100))),
            ssid,
        })
    }

    /// The reference's `better()`: signal higher, then SNR higher, then age lower.
    fn better(&self, other: &WifiLookup) -> bool {
        any_better(&[
            (self.signal, other.signal, Better::Higher),
            (self.snr, other.snr, Better::Higher),
            (self.age, other.age, Better::Lower),
        ])
    }
}

/// The raw fields of a cell entry, as typed by the outer schema, after the top-level
/// `radioType` was copied in and an NR `newRadioCellId` folded into `cid`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CellInput {
    /// Radio name (`gsm`, `wcdma`, `lte`, `nr`; anything else drops the entry).
    pub radio: Option<String>,
    /// `mobileCountryCode`.
    pub mcc: Option<i64>,
    /// `mobileNetworkCode`.
    pub mnc: Option<i64>,
    /// `locationAreaCode` (TAC for LTE and NR).
    pub lac: Option<i64>,
    /// `cellId` (NR: the NR cell identity).
    pub cid: Option<i64>,
    /// `primaryScramblingCode` (LTE/NR: physical cell id).
    pub psc: Option<i64>,
    /// `age`.
    pub age: Option<i64>,
    /// `asu` (never sent through `/v1/geolocate`, kept for the shared rules).
    pub asu: Option<i64>,
    /// `signalStrength`.
    pub signal: Option<i64>,
    /// `timingAdvance`.
    pub ta: Option<i64>,
}

/// The radio of a cell lookup: `cdma` and unknown names drop the entry.
fn lookup_radio(name: Option<&str>) -> Option<Radio> {
    match name? {
        "gsm" => Some(Radio::Gsm),
        "wcdma" => Some(Radio::Wcdma),
        "lte" => Some(Radio::Lte),
        "nr" => Some(Radio::Nr),
        _ => None,
    }
}

/// The validated signal fields shared by cells and areas.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Signal {
    age: Option<i32>,
    asu: Option<i32>,
    signal: Option<i32>,
    ta: Option<i32>,
}

/// The reference's `ValidCellSignalSchema`: ASU/signal swap, generic ranges, then the
/// radio's ranges, no timing advance for WCDMA, and a signal derived from the ASU.
fn cell_signal(radio: Radio, input: &CellInput) -> Signal {
    let mut asu = input.asu;
    let mut signal = input.signal;
    // Some clients swap the two fields.
    if asu.is_some_and(|a| a < -5) && signal.is_none_or(|s| s >= 0) {
        signal = asu;
        asu = None;
    }
    let ranges = CellRanges::for_radio(radio);
    let age = in_range(input.age, AGE);
    let asu = in_range(in_range(asu, (-5, 97)), ranges.asu);
    let mut signal = in_range(in_range(signal, (-140, -25)), ranges.signal);
    let generic_ta = match (radio, ranges.ta) {
        (Radio::Nr, Some(ta)) => ta,
        _ => (0, 63),
    };
    let ta = in_range(input.ta, generic_ta).filter(|_| radio != Radio::Wcdma);
    if signal.is_none()
        && let Some(asu) = asu
    {
        signal = Some(signal_from_asu(radio, asu));
    }
    Signal {
        age: to_i32(age),
        asu: to_i32(asu),
        signal: to_i32(signal),
        ta: to_i32(ta),
    }
}

/// Valid MCC and MNC as the `u16`s of the id types, or `None` to drop the entry.
fn network(input: &CellInput) -> Option<(u16, u16)> {
    let mcc = input.mcc.filter(|&m| is_valid_mcc(m))?;
    let mnc = input.mnc.filter(|m| (0..=999).contains(m))?;
    Some((u16::try_from(mcc).ok()?, u16::try_from(mnc).ok()?))
}

impl CellLookup {
    /// Validates one entry as a complete cell; `None` drops it.
    pub fn build(input: &CellInput) -> Option<CellLookup> {
        let mut radio = lookup_radio(input.radio.as_deref())?;
        if radio == Radio::Gsm && input.cid.is_some_and(|c| c > 65535) {
            radio = Radio::Wcdma;
        }
        let mut psc = input.psc;
        if radio == Radio::Lte && psc.is_some_and(|p| p > 503) {
            psc = None;
        }
        let (mcc, mnc) = network(input)?;
        let ranges = CellRanges::for_radio(radio);
        let lac = u32::try_from(in_range(input.lac, ranges.lac)?).ok()?;
        let cid = u64::try_from(in_range(input.cid, ranges.cid)?).ok()?;
        let id = CellId::new(radio, mcc, mnc, lac, cid).ok()?;
        let signal = cell_signal(radio, input);
        Some(CellLookup {
            id,
            psc: to_i32(in_range(psc, ranges.psc)),
            age: signal.age,
            asu: signal.asu,
            signal: signal.signal,
            ta: signal.ta,
        })
    }

    fn better(&self, other: &CellLookup) -> bool {
        signal_better(
            (self.ta, self.signal, self.asu, self.age),
            (other.ta, other.signal, other.asu, other.age),
        )
    }
}

impl AreaLookup {
    /// Validates one entry as a location area (no cell id needed); `None` drops it.
    /// Unlike [`CellLookup::build`], a GSM entry stays GSM whatever its cell id.
    pub fn build(input: &CellInput) -> Option<AreaLookup> {
        let radio = lookup_radio(input.radio.as_deref())?;
        let (mcc, mnc) = network(input)?;
        let lac = u32::try_from(in_range(input.lac, CellRanges::for_radio(radio).lac)?).ok()?;
        let id = CellAreaId::new(radio, mcc, mnc, lac).ok()?;
        let signal = cell_signal(radio, input);
        Some(AreaLookup {
            id,
            age: signal.age,
            asu: signal.asu,
            signal: signal.signal,
            ta: signal.ta,
        })
    }

    fn better(&self, other: &AreaLookup) -> bool {
        signal_better(
            (self.ta, self.signal, self.asu, self.age),
            (other.ta, other.signal, other.asu, other.age),
        )
    }
}

#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

/// The reference's `better()`: true as soon as any comparator with both values present
/// favours the existing entry (it does not stop at one favouring the new entry).
fn any_better(comparators: &[(Option<i32>, Option<i32>, Better)]) -> bool {
    comparators.iter().any(|&(old, new, how)| match (old, new) {
        (Some(old), Some(new)) => match how {
            Better::Higher => old > new,
            Better::Lower => old < new,
        },
        _ => false,
    })
}

type SignalKey = (Option<i32>, Option<i32>, Option<i32>, Option<i32>);

/// Cells and areas: timing advance lower, signal higher, ASU higher, age lower.
fn signal_better(old: SignalKey, new: SignalKey) -> bool {
    any_better(&[
        (old.0, new.0, Better::Lower),
        (old.1, new.1, Better::Higher),
        (old.2, new.2, Better::Higher),
        (old.3, new.3, Better::Lower),
    ])
}

/// Insertion-ordered de-duplication: a repeated key replaces the kept entry in place
/// unless the kept one is `better` (a Python dict assignment keeps the key's position).
fn dedup<T, K: Hash + Eq>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
    better: impl Fn(&T, &T) -> bool,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    let mut index: HashMap<K, usize> = HashMap::new();
    for item in items {
        match index.entry(key(&item)) {
            Entry::Occupied(slot) => {
                let existing = &mut out[*slot.get()];
                if !better(existing, &item) {
                    *existing = item;
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(item);
            }
        }
    }
    out
}

/// A validated `/v1/geolocate` or `/v1/country` request: what the query model of
/// `api.md` §8.2 is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct LocateRequest {
    /// `carrier` (validated, unused).
    pub carrier: Option<String>,
    /// `considerIp` (default true); already folded into `fallbacks.ipf`.
    pub consider_ip: bool,
    /// `homeMobileCountryCode` (validated, unused).
    pub home_mobile_country_code: Option<i64>,
    /// `homeMobileNetworkCode` (validated, unused).
    pub home_mobile_network_code: Option<i64>,
    /// The fallback flags.
    pub fallbacks: Fallbacks,
    /// Bluetooth lookups: empty, or at least two distinct beacons.
    pub blue: Vec<BlueLookup>,
    /// Complete cells, de-duplicated.
    pub cell: Vec<CellLookup>,
    /// Cell areas from every cell entry, de-duplicated; empty when `lacf` is false.
    pub area: Vec<AreaLookup>,
    /// WiFi lookups: empty, or at least two distinct networks.
    pub wifi: Vec<WifiLookup>,
    /// Entries as sent, for logs and metrics.
    pub raw_counts: RawCounts,
}

impl Default for LocateRequest {
    /// The request `{}` (or an empty body): an IP-only lookup with both fallbacks.
    fn default() -> LocateRequest {
        LocateRequest {
            carrier: None,
            consider_ip: true,
            home_mobile_country_code: None,
            home_mobile_network_code: None,
            fallbacks: Fallbacks::default(),
            blue: Vec::new(),
            cell: Vec::new(),
            area: Vec::new(),
            wifi: Vec::new(),
            raw_counts: RawCounts::default(),
        }
    }
}

impl LocateRequest {
    /// The locate algorithm's query for this request: the validated networks with the
    /// client's IP facts (whether it has a usable IP, and its GeoIP record if any).
    pub fn to_query(
        &self,
        api_type: crate::locate::ApiType,
        has_ip: bool,
        geoip: Option<crate::locate::geoip::GeoIpInfo>,
    ) -> crate::locate::LocateQuery {
        crate::locate::LocateQuery::new(crate::locate::QueryInput {
            api_type,
            fallback: self.fallbacks,
            has_ip,
            geoip,
            blue: self.blue.clone(),
            wifi: self.wifi.clone(),
            cell: self.cell.clone(),
            cell_area: self.area.clone(),
        })
    }

    /// Builds the request from already-typed entries: validates, de-duplicates and
    /// applies the minimum counts and the `lacf` rule. `raw_counts` is set from the
    /// input lengths.
    pub fn from_inputs(
        fallbacks: Fallbacks,
        blue: &[BlueInput],
        cell: &[CellInput],
        wifi: &[WifiInput],
    ) -> LocateRequest {
        let mut blues = dedup(
            blue.iter().filter_map(BlueLookup::build),
            |b| b.mac,
            BlueLookup::better,
        );
        if blues.len() < MIN_BLUES_IN_QUERY {
            blues.clear();
        }
        let mut wifis = dedup(
            wifi.iter().filter_map(WifiLookup::build),
            |w| w.mac,
            WifiLookup::better,
        );
        if wifis.len() < MIN_WIFIS_IN_QUERY {
            wifis.clear();
        }
        let cells = dedup(
            cell.iter().filter_map(CellLookup::build),
            |c| c.id,
            CellLookup::better,
        );
        let areas = if fallbacks.lacf {
            dedup(
                cell.iter().filter_map(AreaLookup::build),
                |a| a.id,
                AreaLookup::better,
            )
        } else {
            Vec::new()
        };
        LocateRequest {
            fallbacks,
            blue: blues,
            cell: cells,
            area: areas,
            wifi: wifis,
            raw_counts: RawCounts {
                blue: blue.len(),
                cell: cell.len(),
                wifi: wifi.len(),
            },
            ..LocateRequest::default()
        }
    }

    /// Whether any network list is non-empty after validation.
    pub fn has_networks(&self) -> bool {
        !(self.blue.is_empty()
            && self.cell.is_empty()
            && self.area.is_empty()
            && self.wifi.is_empty())
    }

    /// The query report of `api.md` §8.2 (`Query.json()`), used for the export to the
    /// data pipeline and the external fallback request: each list only if non-empty
    /// (`cellTowers` lists complete cells only), entries with their non-null fields,
    /// and `fallbacks` always.
    pub fn query_report(&self) -> Value {
        fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
            if let Some(v) = value {
                map.insert(key.to_owned(), v.into());
            }
        }
        let mut report = Map::new();
        if !self.blue.is_empty() {
            let list = self.blue.iter().map(|b| {
                let mut m = Map::new();
                m.insert("macAddress".to_owned(), b.mac.to_hex().into());
                put(&mut m, "age", b.age);
                put(&mut m, "signalStrength", b.signal);
                put(&mut m, "name", b.name.clone());
                Value::Object(m)
            });
            report.insert("bluetoothBeacons".to_owned(), list.collect());
        }
        if !self.cell.is_empty() {
            let list = self.cell.iter().map(|c| {
                let mut m = Map::new();
                let radio: &'static str = c.id.radio().into();
                m.insert("radioType".to_owned(), radio.into());
                m.insert("mobileCountryCode".to_owned(), c.id.mcc().into());
                m.insert("mobileNetworkCode".to_owned(), c.id.mnc().into());
                m.insert("locationAreaCode".to_owned(), c.id.lac().into());
                m.insert("cellId".to_owned(), c.id.cid().into());
                put(&mut m, "primaryScramblingCode", c.psc);
                put(&mut m, "age", c.age);
                put(&mut m, "asu", c.asu);
                put(&mut m, "signalStrength", c.signal);
                put(&mut m, "timingAdvance", c.ta);
                Value::Object(m)
            });
            report.insert("cellTowers".to_owned(), list.collect());
        }
        if !self.wifi.is_empty() {
            let list = self.wifi.iter().map(|w| {
                let mut m = Map::new();
                m.insert("macAddress".to_owned(), w.mac.to_hex().into());
                put(&mut m, "age", w.age);
                put(&mut m, "channel", w.channel);
                put(&mut m, "frequency", w.frequency);
                put(&mut m, "signalStrength", w.signal);
                put(&mut m, "signalToNoiseRatio", w.snr);
                put(&mut m, "ssid", w.ssid.clone());
                Value::Object(m)
            });
            report.insert("wifiAccessPoints".to_owned(), list.collect());
        }
        report.insert(
            "fallbacks".to_owned(),
            json!({"ipf": self.fallbacks.ipf, "lacf": self.fallbacks.lacf}),
        );
        Value::Object(report)
    }
}

/// The outer `radioType` check: a string in [`OUTER_RADIOS`], case-sensitive; empty
/// and other falsy values count as absent.
fn radio_field(
    obj: &crate::json::JsonObject,
    name: &str,
    path: &str,
    errors: &mut Errors,
) -> Option<String> {
    let value = str_field(obj, name, path, errors)?;
    if OUTER_RADIOS.contains(&value.as_str()) {
        Some(value)
    } else {
        errors.add(
            &join(path, name),
            format!("\"{value}\" is not one of {OUTER_RADIOS_MESSAGE}"),
        );
        None
    }
}

/// Runs `entry` over the objects of an optional array field, collecting errors;
/// non-object elements are errors too.
fn entries<T>(
    obj: &crate::json::JsonObject,
    name: &str,
    errors: &mut Errors,
    entry: impl Fn(&crate::json::JsonObject, &str, &mut Errors) -> T,
) -> Vec<T> {
    let Some(items) = sequence_field(obj, name, "", errors) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    let mut path = String::with_capacity(name.len() + 6);
    for (i, item) in items.iter().enumerate() {
        set_index_path(&mut path, name, i);
        if let Some(item) = mapping(item, &path, errors) {
            out.push(entry(item, &path, errors));
        }
    }
    out
}

/// Parses and validates a locate (or region) body. Pass an empty object for an empty
/// body. Type errors anywhere reject the request with every failing field; everything
/// else is normalised into a [`LocateRequest`].
pub fn parse_locate(body: &JsonValue) -> Result<LocateRequest, ValidationError> {
    let mut errors = Errors::default();
    let Some(root) = mapping(body, "", &mut errors) else {
        return Err(ValidationError::new(errors.entries));
    };
    let carrier = str_field(root, "carrier", "", &mut errors);
    let consider_ip = root.get("considerIp").is_none_or(to_bool);
    let home_mcc = int_field(root, "homeMobileCountryCode", "", &mut errors);
    let home_mnc = int_field(root, "homeMobileNetworkCode", "", &mut errors);
    let top_radio = radio_field(root, "radioType", "", &mut errors);

    let blue = entries(root, "bluetoothBeacons", &mut errors, |o, p, e| BlueInput {
        mac: str_field(o, "macAddress", p, e),
        age: int_field(o, "age", p, e),
        signal: int_field(o, "signalStrength", p, e),
        name: str_field(o, "name", p, e),
    });
    let cell = entries(root, "cellTowers", &mut errors, |o, p, e| {
        let radio = radio_field(o, "radioType", p, e);
        let mcc = int_field(o, "mobileCountryCode", p, e);
        let mnc = int_field(o, "mobileNetworkCode", p, e);
        let lac = int_field(o, "locationAreaCode", p, e);
        let cid = int_field(o, "cellId", p, e);
        let nr_cid = int_field(o, "newRadioCellId", p, e);
        let age = int_field(o, "age", p, e);
        // Quirk: `psc` is type-checked, then overwritten by primaryScramblingCode.
        let _psc = int_field(o, "psc", p, e);
        let psc = int_field(o, "primaryScramblingCode", p, e);
        let signal = int_field(o, "signalStrength", p, e);
        let ta = int_field(o, "timingAdvance", p, e);
        (
            CellInput {
                radio,
                mcc,
                mnc,
                lac,
                cid,
                psc,
                age,
                asu: None,
                signal,
                ta,
            },
            nr_cid,
        )
    });
    let wifi = entries(root, "wifiAccessPoints", &mut errors, |o, p, e| WifiInput {
        mac: str_field(o, "macAddress", p, e),
        age: int_field(o, "age", p, e),
        channel: int_field(o, "channel", p, e),
        frequency: int_field(o, "frequency", p, e),
        signal: int_field(o, "signalStrength", p, e),
        snr: int_field(o, "signalToNoiseRatio", p, e),
        ssid: str_field(o, "ssid", p, e),
    });
    let fallbacks = match root.get("fallbacks") {
        None => Fallbacks {
            ipf: consider_ip,
            lacf: true,
        },
        Some(value) => match mapping(value, "fallbacks", &mut errors) {
            Some(f) => Fallbacks {
                ipf: f.get("ipf").is_none_or(to_bool),
                lacf: f.get("lacf").is_none_or(to_bool),
            },
            None => Fallbacks::default(),
        },
    };
    if !errors.is_empty() {
        return Err(ValidationError::new(errors.entries));
    }

    // §3.1.2: the top-level radio fills cells without their own; then NR ids.
    let cell: Vec<CellInput> = cell
        .into_iter()
        .map(|(mut c, nr_cid)| {
            if c.radio.is_none() {
                c.radio.clone_from(&top_radio);
            }
            if c.radio.as_deref() == Some("nr") && nr_cid.is_some() {
                c.cid = nr_cid;
            }
            c
        })
        .collect();
    Ok(LocateRequest {
        carrier,
        consider_ip,
        home_mobile_country_code: home_mcc,
        home_mobile_network_code: home_mnc,
        ..LocateRequest::from_inputs(fallbacks, &blue, &cell, &wifi)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn locate(text: &str) -> LocateRequest {
        parse_locate(&parse(text).unwrap()).unwrap()
    }

    fn invalid(text: &str) -> Vec<(String, String)> {
        parse_locate(&parse(text).unwrap())
            .unwrap_err()
            .entries()
            .to_vec()
    }

    fn pair(path: &str, msg: &str) -> (String, String) {
        (path.to_owned(), msg.to_owned())
    }

    const MAC1: &str = "a82066000001";
    const MAC2: &str = "a82066000002";

    fn lte(extra: &str) -> String {
        format!(
            r#"{{"radioType": "lte", "mobileCountryCode": 262, "mobileNetworkCode": 1,
                "locationAreaCode": 2, "cellId": 3{extra}}}"#
        )
    }

    fn cell_input(radio: &str) -> CellInput {
        CellInput {
            radio: Some(radio.to_owned()),
            mcc: Some(262),
            mnc: Some(1),
            lac: Some(2),
            cid: Some(3),
            ..CellInput::default()
        }
    }

    fn wifi(channel: Option<i64>, frequency: Option<i64>) -> (Option<i32>, Option<i32>) {
        let w = WifiLookup::build(&WifiInput {
            mac: Some(MAC1.to_owned()),
            channel,
            frequency,
            ..WifiInput::default()
        })
        .unwrap();
        (w.channel, w.frequency)
    }

    #[test]
    fn empty_body_defaults() {
        let req = locate("{}");
        assert_eq!(req, LocateRequest::default());
        assert_eq!(
            req.fallbacks,
            Fallbacks {
                ipf: true,
                lacf: true
            }
        );
        assert!(!req.has_networks());
        assert_eq!(
            req.query_report(),
            json!({"fallbacks": {"ipf": true, "lacf": true}})
        );
        assert_eq!(locate(r#"{"invalid": 0}"#), LocateRequest::default());
    }

    #[test]
    fn consider_ip_and_fallbacks() {
        assert!(!locate(r#"{"considerIp": false}"#).fallbacks.ipf);
        assert!(!locate(r#"{"considerIp": "false"}"#).fallbacks.ipf);
        assert!(locate(r#"{"considerIp": "true"}"#).fallbacks.ipf);
        assert!(locate(r#"{"considerIp": null}"#).fallbacks.ipf);
        assert!(
            locate(r#"{"considerIp": false, "fallbacks": {}}"#)
                .fallbacks
                .ipf
        );
        assert_eq!(
            locate(r#"{"fallbacks": {"ipf": 0}}"#).fallbacks,
            Fallbacks {
                ipf: false,
                lacf: true
            }
        );
        assert_eq!(
            locate(r#"{"fallbacks": {"lacf": false, "ipf": false}}"#).fallbacks,
            Fallbacks {
                ipf: false,
                lacf: false
            }
        );
        assert_eq!(
            invalid(r#"{"fallbacks": null}"#),
            vec![pair(
                "fallbacks",
                "\"None\" is not a mapping type: Does not implement dict-like functionality."
            )]
        );
        assert_eq!(invalid(r#"{"fallbacks": 1}"#).len(), 1);
    }

    #[test]
    fn outer_type_errors_reject_the_request() {
        assert_eq!(
            invalid("[1]"),
            vec![pair(
                "",
                "\"[1]\" is not a mapping type: Does not implement dict-like functionality."
            )]
        );
        assert_eq!(
            invalid(r#"{"cellTowers": [{"radioType": "umts"}]}"#),
            vec![pair(
                "cellTowers.0.radioType",
                "\"umts\" is not one of gsm, cdma, wcdma, lte"
            )]
        );
        assert_eq!(
            invalid(r#"{"radioType": "GSM"}"#),
            vec![pair(
                "radioType",
                "\"GSM\" is not one of gsm, cdma, wcdma, lte"
            )]
        );
        assert_eq!(
            invalid(r#"{"wifiAccessPoints": [{"macAddress": 10}, null, 5]}"#),
            vec![
                pair(
                    "wifiAccessPoints.0.macAddress",
                    "10 is not a string: {'macAddress': ''}"
                ),
                pair(
                    "wifiAccessPoints.1",
                    "\"None\" is not a mapping type: Does not implement dict-like functionality."
                ),
                pair(
                    "wifiAccessPoints.2",
                    "\"5\" is not a mapping type: Does not implement dict-like functionality."
                ),
            ]
        );
        assert_eq!(
            invalid(r#"{"bluetoothBeacons": null, "cellTowers": [{"signalStrength": NaN}]}"#),
            vec![
                pair("bluetoothBeacons", "\"None\" is not iterable"),
                pair("cellTowers.0.signalStrength", "\"nan\" is not a number"),
            ]
        );
        assert_eq!(
            invalid(r#"{"homeMobileCountryCode": "x", "carrier": ["a"]}"#),
            vec![
                pair("carrier", "['a'] is not a string: {'carrier': ''}"),
                pair("homeMobileCountryCode", "\"x\" is not a number"),
            ]
        );
    }

    #[test]
    fn empty_radio_type_counts_as_absent() {
        let req = locate(
            r#"{"radioType": "", "cellTowers": [{"radioType": "", "mobileCountryCode": 262,
                "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 3}]}"#,
        );
        assert!(req.cell.is_empty());
    }

    #[test]
    fn radio_alias_is_ignored_and_top_level_radio_fills_cells() {
        let req = locate(
            r#"{"cellTowers": [{"radio": "gsm", "radioType": "wcdma", "mobileCountryCode": 262,
                "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 3}]}"#,
        );
        assert_eq!(req.cell[0].id.radio(), Radio::Wcdma);
        let req = locate(
            r#"{"radioType": "lte", "cellTowers": [
                {"mobileCountryCode": 262, "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 3},
                {"radioType": "gsm", "mobileCountryCode": 262, "mobileNetworkCode": 1,
                 "locationAreaCode": 2, "cellId": 4}]}"#,
        );
        assert_eq!(req.cell[0].id.radio(), Radio::Lte);
        assert_eq!(req.cell[1].id.radio(), Radio::Gsm);
    }

    #[test]
    fn psc_quirk() {
        let req = locate(&format!(r#"{{"cellTowers": [{}]}}"#, lte(r#", "psc": 3"#)));
        assert_eq!(req.cell[0].psc, None);
        let req = locate(&format!(
            r#"{{"cellTowers": [{}]}}"#,
            lte(r#", "psc": 3, "primaryScramblingCode": 4"#)
        ));
        assert_eq!(req.cell[0].psc, Some(4));
    }

    #[test]
    fn mcc_and_mnc_as_strings() {
        let req = locate(
            r#"{"cellTowers": [{"radioType": "gsm", "mobileCountryCode": "234",
                "mobileNetworkCode": "01", "locationAreaCode": 2, "cellId": 3}]}"#,
        );
        assert_eq!(req.cell[0].id.mcc(), 234);
        assert_eq!(req.cell[0].id.mnc(), 1);
    }

    #[test]
    fn mac_normalisation() {
        for text in ["01:23:45:67:89:AB", "01-23-45-67-89-ab", "0123.4567.89ab"] {
            let b = BlueLookup::build(&BlueInput {
                mac: Some(text.to_owned()),
                ..BlueInput::default()
            })
            .unwrap();
            assert_eq!(b.mac.to_hex(), "0123456789ab");
        }
        for text in [
            " 0123456789ab",
            "0123456789abc",
            "0123456789ag",
            "000000000000",
            "ffffffffffff",
            "01005E901000",
        ] {
            let input = WifiInput {
                mac: Some(text.to_owned()),
                ..WifiInput::default()
            };
            assert!(WifiLookup::build(&input).is_none(), "{text}");
        }
    }

    #[test]
    fn blue_and_wifi_ranges() {
        let b = BlueLookup::build(&BlueInput {
            mac: Some(MAC1.to_owned()),
            age: Some(3_600_001),
            signal: Some(-128),
            name: Some(String::new()),
        })
        .unwrap();
        assert_eq!((b.age, b.signal, b.name), (None, None, None));
        let b = BlueLookup::build(&BlueInput {
            mac: Some(MAC1.to_owned()),
            age: Some(-3_600_000),
            signal: Some(0),
            name: Some("b".to_owned()),
        })
        .unwrap();
        assert_eq!(b.age, Some(-3_600_000));
        assert_eq!(b.signal, Some(0));
        let w = WifiLookup::build(&WifiInput {
            mac: Some(MAC1.to_owned()),
            signal: Some(-9),
            snr: Some(101),
            ..WifiInput::default()
        })
        .unwrap();
        assert_eq!((w.signal, w.snr), (None, None));
        let w = WifiLookup::build(&WifiInput {
            mac: Some(MAC1.to_owned()),
            signal: Some(-100),
            snr: Some(1),
            ..WifiInput::default()
        })
        .unwrap();
        assert_eq!((w.signal, w.snr), (Some(-100), Some(1)));
    }

    #[test]
    fn wifi_channel_frequency_table() {
        let cases = [
            ((Some(0), None), (None, None)),
            ((Some(1), None), (Some(1), Some(2412))),
            ((Some(13), None), (Some(13), Some(2472))),
            ((Some(14), None), (Some(14), Some(2484))),
            ((Some(36), None), (Some(36), Some(5180))),
            ((Some(186), None), (Some(186), Some(4930))),
            ((Some(200), None), (None, None)),
            ((Some(4), None), (Some(4), Some(2427))),
            ((None, Some(2412)), (Some(1), Some(2412))),
            ((Some(3), Some(2412)), (Some(3), Some(2412))),
            ((None, Some(2399)), (None, None)),
            ((None, Some(2484)), (Some(14), Some(2484))),
            ((None, Some(4915)), (Some(183), Some(4915))),
            ((None, Some(5180)), (Some(36), Some(5180))),
            ((None, Some(6000)), (None, None)),
            ((None, Some(2411)), (None, Some(2411))),
            ((None, Some(5825)), (Some(165), Some(5825))),
        ];
        for ((c, f), expected) in cases {
            assert_eq!(wifi(c, f), expected, "{c:?} {f:?}");
        }
    }

    #[test]
    fn cell_lookup_schema_catalogue() {
        // §12.8, base: lte, mcc 262, mnc 1, lac 2, cid 3.
        for radio in ["gsm", "wcdma", "lte"] {
            assert!(AreaLookup::build(&cell_input(radio)).is_some());
        }
        assert!(AreaLookup::build(&cell_input("GSM")).is_none());
        assert!(AreaLookup::build(&cell_input("cdma")).is_none());
        let with = |f: &dyn Fn(&mut CellInput), radio: &str| {
            let mut c = cell_input(radio);
            f(&mut c);
            c
        };
        assert!(AreaLookup::build(&with(&|c| c.mcc = Some(101), "lte")).is_none());
        assert!(AreaLookup::build(&with(&|c| c.mnc = Some(999), "lte")).is_some());
        assert!(AreaLookup::build(&with(&|c| c.mnc = Some(1000), "lte")).is_none());
        let area =
            |f: &dyn Fn(&mut CellInput), radio: &str| AreaLookup::build(&with(f, radio)).unwrap();
        assert_eq!(area(&|c| c.asu = Some(97), "gsm").asu, None);
        assert_eq!(area(&|c| c.asu = Some(97), "lte").asu, Some(97));
        assert_eq!(area(&|c| c.asu = Some(15), "gsm").signal, Some(-83));
        assert_eq!(area(&|c| c.asu = Some(15), "wcdma").signal, Some(-101));
        assert_eq!(area(&|c| c.asu = Some(15), "lte").signal, Some(-125));
        assert_eq!(area(&|c| c.signal = Some(-80), "lte").signal, Some(-80));
        let swapped = area(&|c| c.asu = Some(-80), "lte");
        assert_eq!((swapped.asu, swapped.signal), (None, Some(-80)));
        assert_eq!(area(&|c| c.signal = Some(-43), "gsm").signal, None);
        assert_eq!(area(&|c| c.signal = Some(-43), "lte").signal, Some(-43));
        // Full cells.
        let cell = CellLookup::build(&with(&|c| c.cid = Some(65536), "gsm")).unwrap();
        assert_eq!(cell.id.radio(), Radio::Wcdma);
        assert_eq!(cell.id.cid(), 65536);
        let area_of_it = AreaLookup::build(&with(&|c| c.cid = Some(65536), "gsm")).unwrap();
        assert_eq!(area_of_it.id.radio(), Radio::Gsm, "quirk: areas stay gsm");
        let psc = |p| {
            CellLookup::build(&with(&|c| c.psc = Some(p), "lte"))
                .unwrap()
                .psc
        };
        assert_eq!(psc(503), Some(503));
        assert_eq!(psc(504), None);
        let gsm_psc = CellLookup::build(&with(&|c| c.psc = Some(511), "gsm")).unwrap();
        assert_eq!(gsm_psc.psc, Some(511));
        let wcdma_ta = CellLookup::build(&with(&|c| c.ta = Some(5), "wcdma")).unwrap();
        assert_eq!(wcdma_ta.ta, None);
        let gsm_ta = CellLookup::build(&with(&|c| c.ta = Some(5), "gsm")).unwrap();
        assert_eq!(gsm_ta.ta, Some(5));
    }

    #[test]
    fn cell_identifier_ranges() {
        let build = |lac, cid| {
            let mut c = cell_input("wcdma");
            c.lac = lac;
            c.cid = cid;
            (
                CellLookup::build(&c).is_some(),
                AreaLookup::build(&c).is_some(),
            )
        };
        assert_eq!(build(Some(1), Some(1)), (true, true));
        assert_eq!(build(Some(65533), Some((1 << 28) - 1)), (true, true));
        assert_eq!(build(Some(0), Some(1)), (false, false));
        assert_eq!(build(Some(65534), Some(1)), (false, false));
        assert_eq!(build(Some(2), None), (false, true));
        assert_eq!(build(Some(2), Some(1 << 28)), (false, true));
        assert_eq!(build(None, Some(1)), (false, false));
        for mcc in [1, 101, 999, 99_999] {
            let mut c = cell_input("lte");
            c.mcc = Some(mcc);
            assert!(CellLookup::build(&c).is_none(), "{mcc}");
        }
    }

    #[test]
    fn nr_cells() {
        let req = locate(
            r#"{"cellTowers": [
                {"radioType": "nr", "mobileCountryCode": 310, "mobileNetworkCode": 260,
                 "locationAreaCode": 16777213, "newRadioCellId": 68719476735,
                 "primaryScramblingCode": 1007, "signalStrength": -100},
                {"radioType": "nr", "mobileCountryCode": 262, "mobileNetworkCode": 1,
                 "locationAreaCode": 70000, "cellId": 5000000000, "timingAdvance": 1000}]}"#,
        );
        assert_eq!(req.cell.len(), 2);
        assert_eq!(req.area.len(), 2);
        let first = &req.cell[0];
        assert_eq!(first.id.radio(), Radio::Nr);
        assert_eq!(first.id.lac(), 16_777_213);
        assert_eq!(first.id.cid(), (1 << 36) - 1);
        assert_eq!(first.psc, Some(1007));
        assert_eq!(first.signal, Some(-100));
        assert_eq!(req.cell[1].id.cid(), 5_000_000_000);
        assert_eq!(req.cell[1].ta, Some(1000));
        assert_eq!(req.area[0].id.radio(), Radio::Nr);
        assert_eq!(
            req.query_report()["cellTowers"][0]["radioType"],
            json!("nr")
        );
        // newRadioCellId wins over cellId; out-of-range NR values.
        let mut c = cell_input("nr");
        c.cid = Some(1 << 36);
        assert!(CellLookup::build(&c).is_none());
        c.cid = Some(1);
        c.lac = Some(16_777_214);
        assert!(CellLookup::build(&c).is_none(), "reserved like LTE's 65534");
        c.lac = Some(1);
        c.psc = Some(1008);
        c.asu = Some(40);
        let nr = CellLookup::build(&c).unwrap();
        assert_eq!((nr.psc, nr.signal), (None, Some(-100)));
        let req = locate(
            r#"{"radioType": "nr", "cellTowers": [{"mobileCountryCode": 310,
                "mobileNetworkCode": 260, "locationAreaCode": 5, "cellId": 1,
                "newRadioCellId": 2}]}"#,
        );
        assert_eq!(req.cell[0].id.cid(), 2);
    }

    #[test]
    fn blue_query_rules() {
        let two = format!(
            r#"{{"bluetoothBeacons": [
                {{"macAddress": "{MAC1}", "age": 10, "signalStrength": -85}},
                {{"macAddress": "{MAC2}", "age": 10, "signalStrength": -85}}]}}"#
        );
        let req = locate(&two);
        assert_eq!(req.blue.len(), 2);
        assert!(
            req.blue
                .iter()
                .all(|b| b.age == Some(10) && b.signal == Some(-85))
        );
        let single = format!(r#"{{"bluetoothBeacons": [{{"macAddress": "{MAC1}"}}]}}"#);
        assert!(locate(&single).blue.is_empty());
        let dupes = format!(
            r#"{{"bluetoothBeacons": [
                {{"macAddress": "{MAC1}", "signalStrength": -90}},
                {{"macAddress": "{MAC1}", "signalStrength": -82}},
                {{"macAddress": "{MAC1}", "signalStrength": -85}}]}}"#
        );
        assert!(locate(&dupes).blue.is_empty());
        let better = format!(
            r#"{{"bluetoothBeacons": [
                {{"macAddress": "{MAC1}", "signalStrength": -90, "name": "my-beacon"}},
                {{"macAddress": "{MAC1}", "signalStrength": -82}},
                {{"macAddress": "{MAC1}", "signalStrength": -85}},
                {{"macAddress": "{MAC2}", "signalStrength": -70}}]}}"#
        );
        let req = locate(&better);
        let signals: Vec<_> = req.blue.iter().map(|b| b.signal).collect();
        assert_eq!(signals, vec![Some(-82), Some(-70)]);
        let malformed = format!(
            r#"{{"bluetoothBeacons": [{{"macAddress": "{MAC1}"}}, {{"macAddress": "foo"}}]}}"#
        );
        let req = locate(&malformed);
        assert!(req.blue.is_empty());
        assert_eq!(req.raw_counts.blue, 2);
    }

    #[test]
    fn wifi_query_rules() {
        let better = format!(
            r#"{{"wifiAccessPoints": [
                {{"macAddress": "{MAC1}", "signalStrength": -90, "frequency": 1}},
                {{"macAddress": "{MAC1}", "signalStrength": -82}},
                {{"macAddress": "{MAC1}", "signalStrength": -85}},
                {{"macAddress": "{MAC2}", "signalStrength": -70}}]}}"#
        );
        let req = locate(&better);
        let signals: Vec<_> = req.wifi.iter().map(|w| w.signal).collect();
        assert_eq!(signals, vec![Some(-82), Some(-70)]);
        assert_eq!(req.raw_counts.wifi, 4);
        let two = format!(
            r#"{{"wifiAccessPoints": [
                {{"macAddress": "{MAC1}", "age": 30, "frequency": 2412, "signalStrength": -85,
                  "signalToNoiseRatio": 13, "ssid": "wifi"}},
                {{"macAddress": "{MAC2}", "age": 30, "frequency": 2412, "signalStrength": -85,
                  "signalToNoiseRatio": 13, "ssid": "wifi"}}]}}"#
        );
        let req = locate(&two);
        assert_eq!(req.wifi.len(), 2);
        let w = &req.wifi[0];
        assert_eq!(
            (
                w.age,
                w.channel,
                w.frequency,
                w.signal,
                w.snr,
                w.ssid.as_deref()
            ),
            (
                Some(30),
                Some(1),
                Some(2412),
                Some(-85),
                Some(13),
                Some("wifi")
            )
        );
        let dupes = format!(
            r#"{{"wifiAccessPoints": [{{"macAddress": "{MAC1}"}}, {{"macAddress": "{MAC1}"}},
                {{"macAddress": "{MAC1}"}}]}}"#
        );
        assert!(locate(&dupes).wifi.is_empty());
        let malformed = format!(
            r#"{{"wifiAccessPoints": [{{"macAddress": "{MAC1}"}}, {{"macAddress": "foo"}}]}}"#
        );
        assert!(locate(&malformed).wifi.is_empty());
        let single = format!(r#"{{"wifiAccessPoints": [{{"macAddress": "{MAC1}"}}]}}"#);
        assert!(locate(&single).wifi.is_empty());
    }

    #[test]
    fn request_bodies_end_to_end() {
        use crate::json::{BodyError, parse_body};
        let err = parse_body("\u{ae}".as_bytes(), Some("utf-8")).unwrap_err();
        assert_eq!(
            err.detail().as_deref(),
            Some("JSONDecodeError('Expecting value: line 1 column 1 (char 0)')")
        );
        assert!(matches!(err, BodyError::Json(_)));
        let body = parse_body(b"[1]", None).unwrap().unwrap();
        assert_eq!(
            parse_locate(&body).unwrap_err().details(),
            json!({"validation": {"": "\"[1]\" is not a mapping type: Does not implement dict-like functionality."}})
        );
        assert_eq!(parse_body(b"", None), Ok(None));
        let empty = JsonValue::Object(crate::json::JsonObject::new());
        assert_eq!(parse_locate(&empty), Ok(LocateRequest::default()));
    }

    #[test]
    fn opted_out_wifi_is_dropped() {
        let body = format!(
            r#"{{"wifiAccessPoints": [
                {{"macAddress": "{MAC1}", "ssid": "home_nomap"}},
                {{"macAddress": "{MAC2}"}}, {{"macAddress": "a82066000003"}}]}}"#
        );
        let req = locate(&body);
        assert_eq!(req.wifi.len(), 2);
        assert!(req.wifi.iter().all(|w| w.mac.to_hex() != MAC1));
        let body = format!(
            r#"{{"wifiAccessPoints": [
                {{"macAddress": "{MAC1}", "ssid": "x_optout_y"}}, {{"macAddress": "{MAC2}"}}]}}"#
        );
        assert!(locate(&body).wifi.is_empty());
    }

    #[test]
    fn cell_query_rules() {
        let base = r#""radioType": "lte", "mobileCountryCode": 262, "mobileNetworkCode": 1,
                      "locationAreaCode": 2, "age": 20, "timingAdvance": 1"#;
        let full = format!(
            r#"{{"cellTowers": [{{{base}, "cellId": 3, "primaryScramblingCode": 5,
                 "signalStrength": -90}}]}}"#
        );
        let req = locate(&full);
        assert_eq!(req.cell.len(), 1);
        assert_eq!(req.area.len(), 1);
        let c = &req.cell[0];
        assert_eq!(
            (c.age, c.signal, c.ta, c.psc),
            (Some(20), Some(-90), Some(1), Some(5))
        );
        let a = &req.area[0];
        assert_eq!((a.age, a.signal, a.ta), (Some(20), Some(-90), Some(1)));
        let malformed = CellInput {
            radio: Some("foo".to_owned()),
            ..cell_input("lte")
        };
        assert!(CellLookup::build(&malformed).is_none());
        assert!(AreaLookup::build(&malformed).is_none());
        let dupes = format!(
            r#"{{"cellTowers": [{{{base}, "cellId": 3, "signalStrength": -95}},
                {{{base}, "cellId": 3, "signalStrength": -90}},
                {{{base}, "cellId": 3, "signalStrength": -92}}]}}"#
        );
        let req = locate(&dupes);
        assert_eq!(req.cell.len(), 1);
        assert_eq!(req.cell[0].signal, Some(-90));
        let area_only = format!(r#"{{"cellTowers": [{{{base}}}]}}"#);
        let req = locate(&area_only);
        assert_eq!((req.cell.len(), req.area.len()), (0, 1));
        assert!(req.has_networks());
        let no_lacf = format!(r#"{{"cellTowers": [{{{base}}}], "fallbacks": {{"lacf": false}}}}"#);
        let req = locate(&no_lacf);
        assert_eq!((req.cell.len(), req.area.len()), (0, 0));
        let three = format!(
            r#"{{"cellTowers": [{{{base}, "cellId": 3}}, {{{base}, "cellId": 5}},
                {{{base}, "cellId": 4}}]}}"#
        );
        let req = locate(&three);
        assert_eq!((req.cell.len(), req.area.len()), (3, 1));
        let cids: Vec<_> = req.cell.iter().map(|c| c.id.cid()).collect();
        assert_eq!(cids, vec![3, 5, 4]);
        let cdma = r#"{"cellTowers": [{"radioType": "cdma", "mobileCountryCode": 262,
            "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 3}]}"#;
        let req = locate(cdma);
        assert!(req.cell.is_empty() && req.area.is_empty());
        assert_eq!(req.raw_counts.cell, 1);
        let bad_lac = r#"{"cellTowers": [{"radioType": "wcdma", "mobileCountryCode": 262,
            "mobileNetworkCode": 1, "locationAreaCode": 0, "cellId": 1}]}"#;
        let req = locate(bad_lac);
        assert_eq!(
            (req.raw_counts.cell, req.cell.len(), req.area.len()),
            (1, 0, 0)
        );
    }

    #[test]
    fn invalid_string_mcc_rejects_the_request() {
        assert_eq!(
            invalid(r#"{"cellTowers": [{"radioType": "foo", "mobileCountryCode": "ab"}]}"#),
            vec![
                pair(
                    "cellTowers.0.radioType",
                    "\"foo\" is not one of gsm, cdma, wcdma, lte"
                ),
                pair("cellTowers.0.mobileCountryCode", "\"ab\" is not a number"),
            ]
        );
    }

    #[test]
    fn query_report_lists_non_null_fields() {
        let body = format!(
            r#"{{"wifiAccessPoints": [
                {{"macAddress": "{MAC1}", "channel": 1, "signalStrength": -50}},
                {{"macAddress": "{MAC2}", "frequency": 2437}},
                {{"macAddress": "a82066000003", "signalStrength": -130, "signalToNoiseRatio": 13}},
                {{"macAddress": "A8:20:66:00:00:04", "ssid": "my-wifi"}}],
              "cellTowers": [{{"radioType": "lte", "mobileCountryCode": 262,
                "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 3,
                "signalStrength": -70, "timingAdvance": 1}}]}}"#
        );
        assert_eq!(
            locate(&body).query_report(),
            json!({
                "wifiAccessPoints": [
                    {"macAddress": MAC1, "channel": 1, "frequency": 2412, "signalStrength": -50},
                    {"macAddress": MAC2, "channel": 6, "frequency": 2437},
                    {"macAddress": "a82066000003", "signalToNoiseRatio": 13},
                    {"macAddress": "a82066000004", "ssid": "my-wifi"},
                ],
                "cellTowers": [{"radioType": "lte", "mobileCountryCode": 262,
                    "mobileNetworkCode": 1, "locationAreaCode": 2, "cellId": 3,
                    "signalStrength": -70, "timingAdvance": 1}],
                "fallbacks": {"ipf": true, "lacf": true},
            })
        );
        let blue = format!(
            r#"{{"bluetoothBeacons": [
                {{"macAddress": "{MAC1}", "signalStrength": -50}},
                {{"macAddress": "{MAC2}", "signalStrength": -150, "name": "my-beacon"}}]}}"#
        );
        assert_eq!(
            locate(&blue).query_report()["bluetoothBeacons"],
            json!([
                {"macAddress": MAC1, "signalStrength": -50},
                {"macAddress": MAC2, "name": "my-beacon"},
            ])
        );
    }

    #[test]
    fn client_payloads() {
        // Firefox: WiFi only.
        let ff = format!(
            r#"{{"wifiAccessPoints":[{{"macAddress":"{MAC1}","signalStrength":-60}},
                {{"macAddress":"{MAC2}","signalStrength":-70}}]}}"#
        );
        assert_eq!(locate(&ff).wifi.len(), 2);
        // GeoClue 2.7: top-level and per-tower radioType, one serving cell.
        let geoclue = format!(
            r#"{{"radioType": "lte", "cellTowers": [{{"radioType": "lte", "cellId": 12345,
                "mobileCountryCode": 208, "mobileNetworkCode": 1, "locationAreaCode": 2}}],
              "wifiAccessPoints": [{{"macAddress": "{MAC1}", "signalStrength": -60, "age": 100}},
                {{"macAddress": "{MAC2}", "signalStrength": -70, "age": 100}}]}}"#
        );
        let req = locate(&geoclue);
        assert_eq!((req.cell.len(), req.wifi.len()), (1, 2));
        // microG: separate WiFi-only and single-cell requests with fallbacks.
        let microg_cell = r#"{"radioType": "gsm", "homeMobileCountryCode": 262,
            "homeMobileNetworkCode": 2, "considerIp": false,
            "cellTowers": [{"radioType": "gsm", "mobileCountryCode": 262, "mobileNetworkCode": 2,
              "locationAreaCode": 100, "cellId": 200, "age": 0, "signalStrength": -70}],
            "fallbacks": {"lacf": true, "ipf": false}}"#;
        let req = locate(microg_cell);
        assert_eq!(
            req.fallbacks,
            Fallbacks {
                ipf: false,
                lacf: true
            }
        );
        assert_eq!(req.home_mobile_country_code, Some(262));
        assert_eq!((req.cell.len(), req.area.len()), (1, 1));
        let microg_wifi = format!(
            r#"{{"considerIp": true, "wifiAccessPoints": [
                {{"macAddress": "{MAC1}", "age": 1, "channel": 6, "frequency": 2437,
                  "signalStrength": -60, "ssid": "a"}},
                {{"macAddress": "{MAC2}", "age": 1, "channel": 36, "frequency": 5180,
                  "signalStrength": -70, "ssid": "b"}}],
              "fallbacks": {{"lacf": false, "ipf": false}}}}"#
        );
        assert_eq!(locate(&microg_wifi).wifi.len(), 2);
        // NeoStumbler: extra fields and explicit nulls.
        let neo = format!(
            r#"{{"cellTowers": [{{"radioType": "lte", "mobileCountryCode": 262,
                "mobileCountryCodeStr": "262", "mobileNetworkCode": 1, "mobileNetworkCodeStr": "01",
                "locationAreaCode": null, "cellId": null, "arfcn": 6300}}],
              "wifiAccessPoints": [{{"macAddress": "{MAC1}", "radioType": "802.11ax",
                "estimatedDistance": {{"distance": 3, "accuracy": 1, "type": "TWO_SIDED"}}}},
                {{"macAddress": "{MAC2}"}}]}}"#
        );
        let req = locate(&neo);
        assert_eq!((req.cell.len(), req.area.len(), req.wifi.len()), (0, 0, 2));
    }
}
