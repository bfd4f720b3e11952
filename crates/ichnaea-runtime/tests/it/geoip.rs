//! Lookups in a GeoIP database written by the test suite itself.

use std::time::{Duration, SystemTime};

use ichnaea_runtime::GeoIp;
use ichnaea_testing::geoip::{DEFAULT_RECORDS, write_city_db};

#[test]
fn lookups_read_city_and_country_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    write_city_db(
        &path,
        DEFAULT_RECORDS,
        SystemTime::now() - Duration::from_secs(86_400),
    )
    .unwrap();
    let geoip = GeoIp::open(&path).unwrap();
    let london = geoip.lookup("81.2.69.195".parse().unwrap()).unwrap();
    assert_eq!(london.country_code.as_deref(), Some("GB"));
    assert_eq!(london.city_geoname_id, Some(2_643_743));
    assert!(london.has_subdivisions);
    assert_eq!(london.accuracy_radius_km, Some(10));
    let bt = geoip.lookup("67.43.156.1".parse().unwrap()).unwrap();
    assert_eq!(
        (bt.country_code.as_deref(), bt.city_geoname_id),
        (Some("BT"), None)
    );
    assert!(geoip.lookup("10.0.0.1".parse().unwrap()).is_none());
    assert!(geoip.lookup("::1".parse().unwrap()).is_none());
    assert!(
        GeoIp::none()
            .lookup("81.2.69.195".parse().unwrap())
            .is_none()
    );
}
