//! The MaxMind GeoIP database.
//!
//! The database is optional: without `GEOIP_PATH`, or with a file that cannot be read,
//! the service still runs (no IP-based positions) and says so once in its log; the
//! heartbeat then reports GeoIP as down, as the reference does. The file is read into
//! memory once at start; replace it and restart the service to pick up a new release.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ichnaea_core::locate::geoip::GeoIpRecord;
use serde::Deserialize;

/// The version string the reference reports when no database is loaded.
pub const NULL_GEOIP_VERSION: &str = "2020-02-26T12:17:00Z";

/// A loaded GeoIP database, or the absence of one.
#[derive(Clone)]
pub struct GeoIp {
    reader: Option<Arc<maxminddb::Reader<Vec<u8>>>>,
}

/// What the heartbeat reports about GeoIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoIpStatus {
    /// Whether a database is loaded.
    pub up: bool,
    /// Days since the database was built, rounded; -1 without a database.
    pub age_in_days: i64,
    /// Build time as `%Y-%m-%dT%H:%M:%SZ`.
    pub version: String,
}

impl GeoIp {
    /// Loads the database at `path`; logs and returns an empty `GeoIp` when there is no
    /// path or the file is unusable.
    pub fn load(path: Option<&Path>) -> GeoIp {
        let Some(path) = path else {
            tracing::warn!(
                "GEOIP_PATH is not set: running without a GeoIP database, so there are no IP-based positions"
            );
            return GeoIp::none();
        };
        match GeoIp::open(path) {
            Ok(geoip) => {
                tracing::info!(geoip.path = %path.display(), "GeoIP database loaded");
                geoip
            }
            Err(e) => {
                tracing::warn!(geoip.path = %path.display(), error = %e, "cannot load the GeoIP database: running without IP-based positions");
                GeoIp::none()
            }
        }
    }

    /// Opens a database, failing if it cannot be read.
    pub fn open(path: &Path) -> Result<GeoIp, maxminddb::MaxMindDbError> {
        let reader = maxminddb::Reader::open_readfile(path)?;
        Ok(GeoIp {
            reader: Some(Arc::new(reader)),
        })
    }

    /// No database.
    pub fn none() -> GeoIp {
        GeoIp { reader: None }
    }

    /// The underlying reader, when a database is loaded.
    pub fn reader(&self) -> Option<&maxminddb::Reader<Vec<u8>>> {
        self.reader.as_deref()
    }

    /// The record for an address: the fields the locate rules use, or `None` when there
    /// is no database, no record, or the record cannot be decoded.
    pub fn lookup(&self, ip: IpAddr) -> Option<GeoIpRecord> {
        let reader = self.reader.as_ref()?;
        let found = reader.lookup(ip).ok()?;
        let record: CityRecord = found.decode().ok()??;
        Some(GeoIpRecord {
            country_code: record.country.and_then(|c| c.iso_code),
            city_geoname_id: record.city.and_then(|c| c.geoname_id),
            has_subdivisions: !record.subdivisions.is_empty(),
            latitude: record.location.as_ref().and_then(|l| l.latitude),
            longitude: record.location.as_ref().and_then(|l| l.longitude),
            accuracy_radius_km: record
                .location
                .and_then(|l| l.accuracy_radius)
                .map(u32::from),
        })
    }

    /// The heartbeat view of the database, relative to `now`.
    pub fn status(&self, now: DateTime<Utc>) -> GeoIpStatus {
        match &self.reader {
            None => GeoIpStatus {
                up: false,
                age_in_days: -1,
                version: NULL_GEOIP_VERSION.to_owned(),
            },
            Some(reader) => {
                let epoch = i64::try_from(reader.metadata().build_epoch).unwrap_or(0);
                let built = DateTime::from_timestamp(epoch, 0).unwrap_or_default();
                let age = (now - built).num_seconds() as f64 / 86_400.0;
                GeoIpStatus {
                    up: true,
                    age_in_days: age.round_ties_even() as i64,
                    version: built.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                }
            }
        }
    }
}

/// The parts of a GeoIP2/GeoLite2 City record we read.
#[derive(Deserialize)]
struct CityRecord {
    #[serde(default)]
    city: Option<CityPart>,
    #[serde(default)]
    country: Option<CountryPart>,
    #[serde(default)]
    location: Option<LocationPart>,
    #[serde(default)]
    subdivisions: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct CityPart {
    #[serde(default)]
    geoname_id: Option<u32>,
}

#[derive(Deserialize)]
struct CountryPart {
    #[serde(default)]
    iso_code: Option<String>,
}

#[derive(Deserialize)]
struct LocationPart {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    /// MaxMind stores this as a `uint16`, and the decoder is strict about widths.
    #[serde(default)]
    accuracy_radius: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_database_reports_the_null_status() {
        let g = GeoIp::load(None);
        assert!(g.reader().is_none());
        let s = g.status(Utc::now());
        assert_eq!(
            s,
            GeoIpStatus {
                up: false,
                age_in_days: -1,
                version: NULL_GEOIP_VERSION.into()
            }
        );
        let g = GeoIp::load(Some(Path::new("/nonexistent/GeoIP2-City.mmdb")));
        assert!(!g.status(Utc::now()).up);
    }

    #[test]
    fn garbage_file_is_not_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.mmdb");
        std::fs::write(&path, b"not a database").unwrap();
        assert!(GeoIp::open(&path).is_err());
        assert!(!GeoIp::load(Some(&path)).status(Utc::now()).up);
    }

    #[test]
    fn shared_test_database_reports_its_build_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/GeoIP2-City-Test.mmdb");
        if !path.exists() {
            // The project does not depend on ../shared; the api tests build their own
            // database. This test only adds a check against MaxMind's real file.
            return;
        }
        let g = GeoIp::open(&path).unwrap();
        let built = DateTime::from_timestamp(
            i64::try_from(g.reader().unwrap().metadata().build_epoch).unwrap(),
            0,
        )
        .unwrap();
        let s = g.status(built + chrono::Duration::days(10));
        assert!(s.up);
        // MaxMind's documented test records: London (a city) and a country-only record.
        let london = g.lookup("81.2.69.192".parse().unwrap()).unwrap();
        assert_eq!(london.country_code.as_deref(), Some("GB"));
        assert!(london.city_geoname_id.is_some());
        assert!((london.latitude.unwrap() - 51.5142).abs() < 1e-9);
        assert!((london.longitude.unwrap() + 0.0931).abs() < 1e-9);
        let bhutan = g.lookup("67.43.156.0".parse().unwrap()).unwrap();
        assert_eq!(bhutan.country_code.as_deref(), Some("BT"));
        assert_eq!(bhutan.city_geoname_id, None);
        assert_eq!(g.lookup("127.0.0.1".parse().unwrap()), None);
        assert_eq!(s.age_in_days, 10);
        assert!(
            s.version.ends_with('Z') && s.version.len() == 20,
            "{}",
            s.version
        );
    }
}
