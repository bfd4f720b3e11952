//! The locate query as the algorithm sees it (`api.md` §8.2): validated observations,
//! the fallback flags and what is known about the client IP.
//!
//! These types are independent of request parsing. The request schemas (another
//! module) validate and deduplicate the client's JSON and then build a [`LocateQuery`]
//! from a [`QueryInput`]. [`LocateQuery::new`] re-applies the two rules the algorithm's
//! safety depends on, so they hold whatever the caller did: WiFi and Bluetooth lists
//! with fewer than two distinct networks are dropped (a single real network must never
//! be locatable by pairing it with a fake one), and the area list is empty when `lacf`
//! is off.
//!
//! The optional fields that locate itself does not read (channel, SSID, timing
//! advance…) are carried so the same values can feed the query report and the
//! fallback provider request.

use std::collections::BTreeSet;

use crate::ids::{CellAreaId, CellId, Mac};

use super::constants::{DataAccuracy, MIN_BLUES_IN_QUERY, MIN_WIFIS_IN_QUERY};
use super::geoip::GeoIpInfo;

/// One WiFi access point as observed by the client.
#[derive(Debug, Clone, PartialEq)]
pub struct WifiObservation {
    /// BSSID.
    pub mac: Mac,
    /// Milliseconds between the observation and the query.
    pub age: Option<i32>,
    /// Received signal strength, dBm.
    pub signal: Option<i32>,
    /// Signal to noise ratio, dB.
    pub snr: Option<i32>,
    /// WiFi channel number.
    pub channel: Option<i32>,
    /// Frequency, MHz.
    pub frequency: Option<i32>,
    /// Network name.
    pub ssid: Option<String>,
}

impl WifiObservation {
    /// An observation of `mac` without any optional values.
    pub fn new(mac: Mac) -> WifiObservation {
        WifiObservation {
            mac,
            age: None,
            signal: None,
            snr: None,
            channel: None,
            frequency: None,
            ssid: None,
        }
    }
}

/// One Bluetooth beacon as observed by the client.
#[derive(Debug, Clone, PartialEq)]
pub struct BlueObservation {
    /// Beacon address.
    pub mac: Mac,
    /// Milliseconds between the observation and the query.
    pub age: Option<i32>,
    /// Received signal strength, dBm.
    pub signal: Option<i32>,
    /// Advertised name.
    pub name: Option<String>,
}

impl BlueObservation {
    /// An observation of `mac` without any optional values.
    pub fn new(mac: Mac) -> BlueObservation {
        BlueObservation {
            mac,
            age: None,
            signal: None,
            name: None,
        }
    }
}

/// One fully identified cell as observed by the client.
#[derive(Debug, Clone, PartialEq)]
pub struct CellObservation {
    /// Radio, MCC, MNC, area code and cell id.
    pub id: CellId,
    /// Milliseconds between the observation and the query.
    pub age: Option<i32>,
    /// Received signal strength, dBm.
    pub signal: Option<i32>,
    /// Timing advance.
    pub ta: Option<i32>,
    /// Arbitrary strength unit.
    pub asu: Option<i32>,
    /// Primary scrambling code / physical cell id.
    pub psc: Option<i32>,
}

impl CellObservation {
    /// An observation of `id` without any optional values.
    pub fn new(id: CellId) -> CellObservation {
        CellObservation {
            id,
            age: None,
            signal: None,
            ta: None,
            asu: None,
            psc: None,
        }
    }
}

/// One cell location area as observed by the client: built from every cell entry,
/// complete or area-only.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaObservation {
    /// Radio, MCC, MNC and area code.
    pub id: CellAreaId,
    /// Milliseconds between the observation and the query.
    pub age: Option<i32>,
    /// Received signal strength, dBm.
    pub signal: Option<i32>,
    /// Timing advance.
    pub ta: Option<i32>,
    /// Arbitrary strength unit.
    pub asu: Option<i32>,
}

impl AreaObservation {
    /// An observation of `id` without any optional values.
    pub fn new(id: CellAreaId) -> AreaObservation {
        AreaObservation {
            id,
            age: None,
            signal: None,
            ta: None,
            asu: None,
        }
    }
}

/// Which fallbacks the client allows (`api.md` §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackFlags {
    /// IP-based fallback: the GeoIP source may answer.
    pub ipf: bool,
    /// Location-area fallback: whole cell areas may answer.
    pub lacf: bool,
}

impl Default for FallbackFlags {
    /// Both fallbacks allowed, as when the client says nothing.
    fn default() -> FallbackFlags {
        FallbackFlags {
            ipf: true,
            lacf: true,
        }
    }
}

/// The `fallbacks` object of a request, as parsed: each flag as sent, or `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestedFallbacks {
    /// `fallbacks.ipf`.
    pub ipf: Option<bool>,
    /// `fallbacks.lacf`.
    pub lacf: Option<bool>,
}

impl FallbackFlags {
    /// The flags of a request (`api.md` §3.1.2). Without a `fallbacks` object,
    /// `considerIp` (default true) decides `ipf`; with one, even an empty one,
    /// `considerIp` is ignored. Missing flags default to true.
    pub fn from_request(
        consider_ip: Option<bool>,
        fallbacks: Option<RequestedFallbacks>,
    ) -> FallbackFlags {
        match fallbacks {
            None => FallbackFlags {
                ipf: consider_ip.unwrap_or(true),
                lacf: true,
            },
            Some(f) => FallbackFlags {
                ipf: f.ipf.unwrap_or(true),
                lacf: f.lacf.unwrap_or(true),
            },
        }
    }
}

/// Which API the query serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiType {
    /// Position: `/v1/geolocate` and friends.
    #[default]
    Locate,
    /// Region: `/v1/country`.
    Region,
}

/// The plain inputs of a [`LocateQuery`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryInput {
    /// The API being served.
    pub api_type: ApiType,
    /// The client's fallback flags.
    pub fallback: FallbackFlags,
    /// Whether the request has a valid client IP (with or without a GeoIP record).
    pub has_ip: bool,
    /// The GeoIP record of the client IP, when there is one (`api.md` §10.2).
    pub geoip: Option<GeoIpInfo>,
    /// Validated, deduplicated Bluetooth observations.
    pub blue: Vec<BlueObservation>,
    /// Validated, deduplicated WiFi observations.
    pub wifi: Vec<WifiObservation>,
    /// Validated, deduplicated complete cells.
    pub cell: Vec<CellObservation>,
    /// Validated, deduplicated cell areas.
    pub cell_area: Vec<AreaObservation>,
}

/// A normalized locate query.
#[derive(Debug, Clone, PartialEq)]
pub struct LocateQuery {
    input: QueryInput,
}

impl LocateQuery {
    /// Builds the query: empties the Bluetooth or WiFi list when it names fewer than
    /// two distinct networks, and empties the area list when `lacf` is off.
    pub fn new(mut input: QueryInput) -> LocateQuery {
        if distinct(input.blue.iter().map(|b| b.mac)) < MIN_BLUES_IN_QUERY {
            input.blue.clear();
        }
        if distinct(input.wifi.iter().map(|w| w.mac)) < MIN_WIFIS_IN_QUERY {
            input.wifi.clear();
        }
        if !input.fallback.lacf {
            input.cell_area.clear();
        }
        LocateQuery { input }
    }

    /// The API being served.
    pub fn api_type(&self) -> ApiType {
        self.input.api_type
    }
    /// The fallback flags.
    pub fn fallback(&self) -> FallbackFlags {
        self.input.fallback
    }
    /// Whether the request has a valid client IP.
    pub fn has_ip(&self) -> bool {
        self.input.has_ip
    }
    /// The GeoIP record of the client IP.
    pub fn geoip(&self) -> Option<&GeoIpInfo> {
        self.input.geoip.as_ref()
    }
    /// The Bluetooth observations (empty, or at least two distinct beacons).
    pub fn blue(&self) -> &[BlueObservation] {
        &self.input.blue
    }
    /// The WiFi observations (empty, or at least two distinct networks).
    pub fn wifi(&self) -> &[WifiObservation] {
        &self.input.wifi
    }
    /// The complete cells.
    pub fn cell(&self) -> &[CellObservation] {
        &self.input.cell
    }
    /// The cell areas (always empty when `lacf` is off).
    pub fn cell_area(&self) -> &[AreaObservation] {
        &self.input.cell_area
    }

    /// Whether the query has any network data at all (the internal source's
    /// `should_search`).
    pub fn has_networks(&self) -> bool {
        !(self.blue().is_empty()
            && self.cell().is_empty()
            && self.cell_area().is_empty()
            && self.wifi().is_empty())
    }

    /// `Some(false)` with any network data, else `Some(true)` with a GeoIP record, else
    /// `None`. A GeoIP answer to a GeoIP-only query carries no `fallback` tag.
    pub fn geoip_only(&self) -> Option<bool> {
        if self.has_networks() {
            Some(false)
        } else if self.geoip().is_some() {
            Some(true)
        } else {
            None
        }
    }

    /// The best accuracy class the query's data could support (`api.md` §8.2). An
    /// answer at least this good is a "hit" and stops the search for more sources.
    pub fn expected_accuracy(&self) -> DataAccuracy {
        let mut best = DataAccuracy::None;
        let has_macs = !self.blue().is_empty() || !self.wifi().is_empty();
        match self.api_type() {
            ApiType::Region => {
                if has_macs || !self.cell().is_empty() {
                    best = best.min(DataAccuracy::Low);
                }
            }
            ApiType::Locate => {
                if !self.cell().is_empty() {
                    best = best.min(DataAccuracy::Medium);
                }
                if has_macs {
                    best = best.min(DataAccuracy::High);
                }
            }
        }
        let fallback = self.fallback();
        if (!self.cell_area().is_empty() && fallback.lacf) || (self.has_ip() && fallback.ipf) {
            best = best.min(DataAccuracy::Low);
        }
        best
    }

    /// The sets of networks in the query, compared with the networks a result used
    /// when deciding whether to export the query (`api.md` §8.12).
    pub fn networks(&self) -> QueryNetworks {
        QueryNetworks {
            area: self.cell_area().iter().map(|a| a.id).collect(),
            blue: self.blue().iter().map(|b| b.mac).collect(),
            cell: self.cell().iter().map(|c| c.id).collect(),
            wifi: self.wifi().iter().map(|w| w.mac).collect(),
        }
    }
}

fn distinct(macs: impl Iterator<Item = Mac>) -> usize {
    macs.collect::<BTreeSet<_>>().len()
}

/// The networks of a query, or the networks a result used, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryNetworks {
    /// Cell areas.
    pub area: BTreeSet<CellAreaId>,
    /// Bluetooth beacons.
    pub blue: BTreeSet<Mac>,
    /// Complete cells.
    pub cell: BTreeSet<CellId>,
    /// WiFi networks.
    pub wifi: BTreeSet<Mac>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::Radio;

    fn mac(n: u8) -> Mac {
        Mac::from_array([0xa8, 0x20, 0x66, 0, 0, n]).unwrap()
    }

    fn wifi(n: u8) -> WifiObservation {
        WifiObservation::new(mac(n))
    }

    fn blue(n: u8) -> BlueObservation {
        BlueObservation::new(mac(n))
    }

    fn cell() -> CellObservation {
        CellObservation::new(CellId::new(Radio::Lte, 262, 1, 2, 3).unwrap())
    }

    fn area() -> AreaObservation {
        AreaObservation::new(CellAreaId::new(Radio::Lte, 262, 1, 2).unwrap())
    }

    fn query(input: QueryInput) -> LocateQuery {
        LocateQuery::new(input)
    }

    #[test]
    fn empty_query() {
        let q = query(QueryInput::default());
        assert_eq!(q.fallback(), FallbackFlags::default());
        assert!(q.fallback().ipf && q.fallback().lacf);
        assert!(!q.has_networks());
        assert_eq!(q.expected_accuracy(), DataAccuracy::None);
        assert_eq!(q.geoip_only(), None);
    }

    #[test]
    fn fallback_flags_from_the_request() {
        let flags = FallbackFlags::from_request;
        let t = FallbackFlags::default();
        assert_eq!(flags(None, None), t);
        assert!(!flags(Some(false), None).ipf);
        assert_eq!(flags(Some(true), None), t);
        assert_eq!(
            flags(Some(false), Some(RequestedFallbacks::default())),
            t,
            "an empty fallbacks object overrides considerIp"
        );
        let no_ipf = RequestedFallbacks {
            ipf: Some(false),
            lacf: None,
        };
        assert_eq!(
            flags(None, Some(no_ipf)),
            FallbackFlags {
                ipf: false,
                lacf: true
            }
        );
        let no_lacf = RequestedFallbacks {
            ipf: None,
            lacf: Some(false),
        };
        assert!(!flags(Some(false), Some(no_lacf)).lacf);
        assert!(flags(Some(false), Some(no_lacf)).ipf);
    }

    #[test]
    fn ip_rules() {
        let ip = query(QueryInput {
            has_ip: true,
            ..QueryInput::default()
        });
        assert_eq!(ip.expected_accuracy(), DataAccuracy::Low);
        let no_ipf = query(QueryInput {
            has_ip: true,
            fallback: FallbackFlags {
                ipf: false,
                lacf: true,
            },
            ..QueryInput::default()
        });
        assert_eq!(no_ipf.expected_accuracy(), DataAccuracy::None);
    }

    #[test]
    fn single_or_duplicate_macs_are_dropped() {
        let one = query(QueryInput {
            wifi: vec![wifi(1)],
            blue: vec![blue(1)],
            ..QueryInput::default()
        });
        assert!(one.wifi().is_empty() && one.blue().is_empty());
        let dup = query(QueryInput {
            wifi: vec![wifi(1), wifi(1), wifi(1)],
            ..QueryInput::default()
        });
        assert!(dup.wifi().is_empty());
        let two = query(QueryInput {
            blue: vec![blue(1), blue(2)],
            ..QueryInput::default()
        });
        assert_eq!(two.blue().len(), 2);
        assert_eq!(two.expected_accuracy(), DataAccuracy::High);
        assert_eq!(two.geoip_only(), Some(false));
    }

    #[test]
    fn expected_accuracy_examples() {
        let one_cell = query(QueryInput {
            cell: vec![cell()],
            cell_area: vec![area()],
            ..QueryInput::default()
        });
        assert_eq!(one_cell.expected_accuracy(), DataAccuracy::Medium);
        let area_only = query(QueryInput {
            cell_area: vec![area()],
            ..QueryInput::default()
        });
        assert_eq!(area_only.expected_accuracy(), DataAccuracy::Low);
        assert_eq!(area_only.geoip_only(), Some(false));
        let no_lacf = query(QueryInput {
            cell_area: vec![area()],
            fallback: FallbackFlags {
                ipf: true,
                lacf: false,
            },
            ..QueryInput::default()
        });
        assert!(no_lacf.cell_area().is_empty());
        assert_eq!(no_lacf.expected_accuracy(), DataAccuracy::None);
        let mixed = query(QueryInput {
            cell: vec![cell()],
            wifi: vec![wifi(1), wifi(2)],
            ..QueryInput::default()
        });
        assert_eq!(mixed.expected_accuracy(), DataAccuracy::High);
        for input in [
            QueryInput {
                wifi: vec![wifi(1), wifi(2)],
                ..QueryInput::default()
            },
            QueryInput {
                cell: vec![cell()],
                ..QueryInput::default()
            },
            QueryInput {
                blue: vec![blue(1), blue(2)],
                ..QueryInput::default()
            },
        ] {
            let region = query(QueryInput {
                api_type: ApiType::Region,
                ..input
            });
            assert_eq!(region.expected_accuracy(), DataAccuracy::Low);
        }
        let region_area_no_lacf = query(QueryInput {
            api_type: ApiType::Region,
            cell_area: vec![area()],
            fallback: FallbackFlags {
                ipf: true,
                lacf: false,
            },
            ..QueryInput::default()
        });
        assert_eq!(region_area_no_lacf.expected_accuracy(), DataAccuracy::None);
    }

    #[test]
    fn networks_list_every_kind() {
        let q = query(QueryInput {
            cell: vec![cell()],
            cell_area: vec![area()],
            wifi: vec![wifi(1), wifi(2)],
            ..QueryInput::default()
        });
        let n = q.networks();
        assert_eq!(n.area.len(), 1);
        assert_eq!(n.cell.len(), 1);
        assert_eq!(n.wifi.len(), 2);
        assert!(n.blue.is_empty());
    }
}
