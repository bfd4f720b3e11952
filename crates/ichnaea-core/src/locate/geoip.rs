//! GeoIP: from a MaxMind city record to a position and region guess (`api.md` §8.7,
//! §10.2).
//!
//! MaxMind's own `accuracy_radius` is often far too optimistic or absent, so the
//! reference bounds it with what it knows about the place: a city is at most its city
//! radius (25 km unless listed), a record with a subdivision at most the largest
//! subdivision of its country (400 km unless listed), and nothing is larger than the
//! country itself. The score says how often MaxMind's city-level answers are right in
//! that country (their published accuracy figures); a country-only answer scores 0.9
//! because the country is almost always right.
//!
//! The database reader lives elsewhere; it hands over a [`GeoIpRecord`] with the raw
//! fields, and [`geoip_info`] applies the rules.

use super::constants::{DEGREE_DECIMAL_PLACES, DataSource};
use super::query::LocateQuery;
use super::region_radius::{region_for_code, region_max_radius};
use super::result::{FallbackTag, PositionResult, RegionResult};
use crate::numeric::round_decimals;

/// Radius of a city that is not listed in [`CITY_RADII`], metres.
pub const CITY_RADIUS: f64 = 25_000.0;
/// Radius of a subdivision in a country not listed in [`SUB_RADII`], metres.
pub const SUB_RADIUS: f64 = 400_000.0;
/// Radius of a country that is not in the region table, metres (about Russia's size).
pub const REGION_RADIUS: f64 = 5_000_000.0;
/// Score of a GeoIP answer without a city.
pub const COUNTRY_SCORE: f64 = 0.9;
/// Score of a city-level answer in a country without published accuracy data.
pub const DEFAULT_CITY_SCORE: f64 = 0.3;

/// The fields of a MaxMind city record that locate uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeoIpRecord {
    /// `country.iso_code`.
    pub country_code: Option<String>,
    /// `city.geoname_id`.
    pub city_geoname_id: Option<u32>,
    /// Whether the record lists any subdivision.
    pub has_subdivisions: bool,
    /// `location.latitude`.
    pub latitude: Option<f64>,
    /// `location.longitude`.
    pub longitude: Option<f64>,
    /// `location.accuracy_radius`, kilometres.
    pub accuracy_radius_km: Option<u32>,
}

/// What the service concludes from a GeoIP record.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoIpInfo {
    /// Latitude, rounded to 7 decimals.
    pub lat: f64,
    /// Longitude, rounded to 7 decimals.
    pub lon: f64,
    /// GENC region code (uppercase).
    pub region_code: String,
    /// GENC name, when the code is one of the known regions.
    pub region_name: Option<&'static str>,
    /// Whether the record names a city.
    pub city: bool,
    /// Accuracy of the position, metres.
    pub radius: f64,
    /// Radius of the whole region, metres.
    pub region_radius: f64,
    /// How much the answer is trusted.
    pub score: f64,
}

/// MaxMind country codes that GENC names differently.
const GENC_MAP: [(&str, &str); 4] = [("AX", "FI"), ("PS", "XW"), ("SJ", "XR"), ("UM", "US")];

/// Radius of the largest subdivision per country, metres; others use [`SUB_RADIUS`].
pub const SUB_RADII: [(&str, f64); 19] = [
    ("AU", 1_200_000.0),
    ("BR", 1_000_000.0),
    ("CA", 1_400_000.0),
    ("CD", 500_000.0),
    ("CL", 500_000.0),
    ("CN", 1_000_000.0),
    ("DZ", 600_000.0),
    ("EG", 500_000.0),
    ("GL", 1_600_000.0),
    ("ID", 550_000.0),
    ("KZ", 550_000.0),
    ("LY", 500_000.0),
    ("ML", 600_000.0),
    ("NE", 600_000.0),
    ("RU", 1_200_000.0),
    ("SA", 650_000.0),
    ("SD", 450_000.0),
    ("SO", 500_000.0),
    ("US", 1_200_000.0),
];

/// Radius of the largest cities by GeoNames id, metres; others use [`CITY_RADIUS`].
pub const CITY_RADII: [(u32, f64); 34] = [
    (98_182, 39_000.0),    // Baghdad
    (108_410, 30_000.0),   // Riyadh
    (112_931, 39_000.0),   // Tehran
    (323_786, 27_000.0),   // Ankara
    (360_630, 40_000.0),   // Cairo
    (524_901, 47_000.0),   // Moscow
    (745_044, 48_000.0),   // Istanbul
    (1_172_451, 36_000.0), // Lahore
    (1_185_241, 46_000.0), // Dhaka
    (1_275_339, 50_000.0), // Mumbai
    (1_277_333, 33_000.0), // Bengaluru
    (1_279_233, 28_000.0), // Ahmedabad
    (1_566_083, 27_000.0), // Ho Chi Minh City
    (1_609_350, 33_000.0), // Bangkok
    (1_642_911, 42_000.0), // Jakarta
    (1_668_341, 40_000.0), // Taipei
    (1_701_668, 47_000.0), // Manila
    (1_792_947, 48_000.0), // Tianjin
    (1_796_236, 68_000.0), // Shanghai
    (1_816_670, 49_000.0), // Beijing
    (1_835_848, 46_000.0), // Seoul
    (1_850_147, 42_000.0), // Tokyo
    (1_871_859, 26_000.0), // Pyongyang
    (2_314_302, 40_000.0), // Kinshasa
    (2_643_743, 40_000.0), // London
    (2_950_159, 27_000.0), // Berlin
    (3_117_735, 26_000.0), // Madrid
    (3_435_910, 50_000.0), // Buenos Aires
    (3_448_439, 46_000.0), // Sao Paulo
    (3_530_597, 50_000.0), // Mexico City
    (3_688_689, 40_000.0), // Bogota
    (3_871_336, 32_000.0), // Santiago
    (3_936_456, 40_000.0), // Lima
    (5_128_581, 41_000.0), // New York
];

/// City-level scores by country, from MaxMind's published accuracy (October 2015);
/// every other country scores [`DEFAULT_CITY_SCORE`].
pub const REGION_SCORES: [(&str, f64); 68] = [
    ("AE", 0.9),
    ("AR", 0.7),
    ("AT", 0.7),
    ("AU", 0.7),
    ("BE", 0.8),
    ("BG", 0.7),
    ("BR", 0.7),
    ("CA", 0.8),
    ("CH", 0.7),
    ("CL", 0.8),
    ("CN", 0.6),
    ("CO", 0.6),
    ("CR", 0.9),
    ("CZ", 0.8),
    ("DE", 0.8),
    ("DK", 0.8),
    ("EC", 0.8),
    ("EE", 0.8),
    ("EG", 0.7),
    ("ES", 0.8),
    ("FI", 0.5),
    ("FR", 0.7),
    ("GB", 0.8),
    ("GR", 0.6),
    ("HK", 0.9),
    ("HR", 0.6),
    ("HU", 0.8),
    ("ID", 0.7),
    ("IE", 0.5),
    ("IL", 0.7),
    ("IN", 0.6),
    ("IS", 0.8),
    ("IT", 0.6),
    ("JP", 0.8),
    ("KR", 0.7),
    ("LT", 0.7),
    ("LU", 0.9),
    ("LV", 0.8),
    ("MT", 0.9),
    ("MX", 0.6),
    ("MY", 0.7),
    ("NL", 0.8),
    ("NO", 0.8),
    ("NZ", 0.6),
    ("PE", 0.8),
    ("PH", 0.5),
    ("PK", 0.8),
    ("PL", 0.6),
    ("PR", 0.9),
    ("PT", 0.7),
    ("QA", 0.9),
    ("RO", 0.7),
    ("RS", 0.7),
    ("RU", 0.8),
    ("SA", 0.7),
    ("SE", 0.7),
    ("SG", 0.9),
    ("SI", 0.8),
    ("SK", 0.7),
    ("TH", 0.8),
    ("TR", 0.7),
    ("TW", 0.8),
    ("UA", 0.7),
    ("US", 0.8),
    ("UY", 0.8),
    ("VE", 0.6),
    ("VN", 0.7),
    ("ZA", 0.7),
];

fn lookup<K: PartialEq + ?Sized, V: Copy>(table: &[(&K, V)], key: &K) -> Option<V> {
    table.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
}

/// Turns a GeoIP record into the service's position and region guess; `None` when the
/// record lacks a country code or a position (a latitude or longitude of exactly 0 counts
/// as missing, as in the reference: MaxMind uses it as a placeholder).
pub fn geoip_info(record: &GeoIpRecord) -> Option<GeoIpInfo> {
    let lat = record.latitude.filter(|&v| v != 0.0 && !v.is_nan())?;
    let lon = record.longitude.filter(|&v| v != 0.0 && !v.is_nan())?;
    let country = record.country_code.as_deref().filter(|c| !c.is_empty())?;
    let code = GENC_MAP
        .iter()
        .find(|(from, _)| *from == country)
        .map_or(country, |(_, to)| to)
        .to_ascii_uppercase();
    let city = record.city_geoname_id.filter(|&id| id != 0);

    let region_radius = region_max_radius(&code).unwrap_or(REGION_RADIUS);
    let mut radius = region_radius;
    if let Some(km) = record.accuracy_radius_km.filter(|&km| km != 0) {
        radius = radius.min(f64::from(km) * 1000.0);
    }
    if record.has_subdivisions {
        radius = radius.min(lookup(&SUB_RADII, code.as_str()).unwrap_or(SUB_RADIUS));
    }
    if let Some(id) = city {
        let city_radius = CITY_RADII
            .iter()
            .find(|(k, _)| *k == id)
            .map_or(CITY_RADIUS, |&(_, r)| r);
        radius = radius.min(city_radius);
    }
    let score = if city.is_some() {
        lookup(&REGION_SCORES, code.as_str()).unwrap_or(DEFAULT_CITY_SCORE)
    } else {
        COUNTRY_SCORE
    };
    Some(GeoIpInfo {
        lat: round_decimals(lat, DEGREE_DECIMAL_PLACES),
        lon: round_decimals(lon, DEGREE_DECIMAL_PLACES),
        region_name: region_for_code(&code).map(|r| r.name),
        region_code: code,
        city: city.is_some(),
        radius,
        region_radius,
        score,
    })
}

/// Whether the GeoIP sources search: the client allows IP fallback and sent a valid IP.
pub fn geoip_should_search(query: &LocateQuery) -> bool {
    query.fallback().ipf && query.has_ip()
}

/// The fallback tag of GeoIP answers: `ipf`, except for queries with nothing but an IP,
/// where the IP is the expected source and no fallback happened.
fn geoip_fallback(query: &LocateQuery) -> Option<FallbackTag> {
    if query.geoip_only() == Some(true) {
        None
    } else {
        Some(FallbackTag::Ipf)
    }
}

/// The GeoIP position candidate of a query, when it has a GeoIP record.
pub fn geoip_position(query: &LocateQuery) -> Option<PositionResult> {
    let info = query.geoip()?;
    Some(PositionResult::new(
        info.lat,
        info.lon,
        info.radius,
        info.score,
        DataSource::GeoIp,
        geoip_fallback(query),
    ))
}

/// The GeoIP region candidate of a query, when it has a GeoIP record whose region is
/// one of the known regions.
pub fn geoip_region(query: &LocateQuery) -> Option<RegionResult> {
    let info = query.geoip()?;
    let region = region_for_code(&info.region_code)?;
    Some(RegionResult {
        code: region.code,
        name: region.name,
        accuracy: info.region_radius,
        score: info.score,
        source: DataSource::GeoIp,
        fallback: geoip_fallback(query),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Mac;
    use crate::locate::query::{FallbackFlags, QueryInput, WifiObservation};

    fn record(
        country: &str,
        city: Option<u32>,
        subs: bool,
        lat: f64,
        lon: f64,
        km: u32,
    ) -> GeoIpRecord {
        GeoIpRecord {
            country_code: Some(country.to_owned()),
            city_geoname_id: city,
            has_subdivisions: subs,
            latitude: Some(lat),
            longitude: Some(lon),
            accuracy_radius_km: Some(km),
        }
    }

    fn london() -> GeoIpRecord {
        record("GB", Some(2_643_743), true, 51.5142, -0.0931, 100)
    }

    fn check(rec: GeoIpRecord, expected: (f64, f64, &str, bool, f64, f64, f64)) {
        let info = geoip_info(&rec).unwrap();
        let (lat, lon, code, city, radius, region_radius, score) = expected;
        assert_eq!(
            (info.lat, info.lon, info.region_code.as_str(), info.city),
            (lat, lon, code, city)
        );
        assert_eq!(
            (info.radius, info.region_radius, info.score),
            (radius, region_radius, score)
        );
    }

    #[test]
    fn reference_records() {
        // api.md §10.2, with the raw MaxMind fields of the bundled test database.
        check(
            london(),
            (51.5142, -0.0931, "GB", true, 40_000.0, 543_000.0, 0.8),
        );
        check(
            record("GB", Some(2_643_743), true, 51.5142, -0.0931, 3),
            (51.5142, -0.0931, "GB", true, 3000.0, 543_000.0, 0.8),
        );
        check(
            record("BT", None, false, 27.5, 90.5, 534),
            (27.5, 90.5, "BT", false, 190_000.0, 190_000.0, 0.9),
        );
        check(
            record("SE", Some(2_694_762), true, 58.4167, 15.6167, 76),
            (58.4167, 15.6167, "SE", true, 25_000.0, 789_000.0, 0.7),
        );
        check(
            record("US", None, false, 37.751, -97.822, 1000),
            (37.751, -97.822, "US", false, 1_000_000.0, 2_971_000.0, 0.9),
        );
        check(
            record("CN", Some(2_038_180), true, 43.88, 125.3228, 100),
            (43.88, 125.3228, "CN", true, 25_000.0, 2_905_000.0, 0.6),
        );
        check(
            record("GI", None, false, 36.13333, -5.35, 100),
            (36.13333, -5.35, "GI", false, 3000.0, 3000.0, 0.9),
        );
        check(
            record("US", Some(5_808_079), true, 47.2513, -122.3149, 22),
            (47.2513, -122.3149, "US", true, 22_000.0, 2_971_000.0, 0.8),
        );
    }

    #[test]
    fn subdivisions_bound_the_radius() {
        let rec = record("US", None, true, 40.0, -100.0, 5000);
        assert_eq!(geoip_info(&rec).unwrap().radius, 1_200_000.0);
        let rec = record("FR", None, true, 46.0, 2.0, 5000);
        assert_eq!(geoip_info(&rec).unwrap().radius, 400_000.0);
        let rec = GeoIpRecord {
            accuracy_radius_km: None,
            ..record("FR", None, false, 46.0, 2.0, 0)
        };
        assert_eq!(geoip_info(&rec).unwrap().radius, 570_000.0);
    }

    #[test]
    fn codes_are_mapped_to_genc() {
        let rec = record("AX", Some(1), false, 60.1, 19.9, 10);
        let info = geoip_info(&rec).unwrap();
        assert_eq!(info.region_code, "FI");
        assert_eq!(info.region_name, Some("Finland"));
        assert_eq!(info.score, 0.5);
        let rec = record("PS", None, false, 31.9, 35.2, 10);
        assert_eq!(geoip_info(&rec).unwrap().region_code, "XW");
        let unknown = record("ZZ", None, false, 10.0, 10.0, 0);
        let info = geoip_info(&unknown).unwrap();
        assert_eq!(
            (info.region_radius, info.radius, info.region_name),
            (5e6, 5e6, None)
        );
    }

    #[test]
    fn incomplete_records_are_no_records() {
        assert_eq!(geoip_info(&GeoIpRecord::default()), None);
        assert_eq!(geoip_info(&record("GB", None, false, 0.0, -0.1, 10)), None);
        assert_eq!(geoip_info(&record("GB", None, false, 51.5, 0.0, 10)), None);
        assert_eq!(geoip_info(&record("", None, false, 51.5, -0.1, 10)), None);
    }

    fn query(has_networks: bool, ipf: bool) -> LocateQuery {
        let wifi = |n: u8| WifiObservation::new(Mac::from_array([1, 2, 3, 4, 5, n]).unwrap());
        LocateQuery::new(QueryInput {
            has_ip: true,
            geoip: geoip_info(&london()),
            fallback: FallbackFlags { ipf, lacf: true },
            wifi: if has_networks {
                vec![wifi(1), wifi(2)]
            } else {
                vec![]
            },
            ..QueryInput::default()
        })
    }

    #[test]
    fn geoip_candidates() {
        let only = query(false, true);
        assert!(geoip_should_search(&only));
        let pos = geoip_position(&only).unwrap();
        assert_eq!(
            (pos.lat, pos.lon, pos.accuracy),
            (51.5142, -0.0931, 40_000.0)
        );
        assert_eq!(pos.fallback, None, "an IP-only query is not a fallback");
        assert_eq!(pos.source, DataSource::GeoIp);
        assert!(pos.score > 0.5 && pos.score < 1.0);
        let region = geoip_region(&only).unwrap();
        assert_eq!((region.code, region.name), ("GB", "United Kingdom"));
        assert_eq!(region.accuracy, 543_000.0);

        let mixed = query(true, true);
        assert_eq!(
            geoip_position(&mixed).unwrap().fallback,
            Some(FallbackTag::Ipf)
        );
        assert_eq!(
            geoip_region(&mixed).unwrap().fallback,
            Some(FallbackTag::Ipf)
        );

        assert!(!geoip_should_search(&query(false, false)));
        let no_record = LocateQuery::new(QueryInput {
            has_ip: true,
            ..QueryInput::default()
        });
        assert!(geoip_should_search(&no_record));
        assert_eq!(geoip_position(&no_record), None);
        assert_eq!(geoip_region(&no_record), None);
    }
}
