//! Small GeoIP2-City databases written by the tests themselves, so the suite does not
//! depend on MaxMind's files.

use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;
use serde_json::json;

/// A city record: (network, country code, country name, city name or `None` for a
/// country-only record, latitude, longitude, accuracy radius in km).
pub type CityRecord<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, f64, f64, u16);

/// Records modelled on MaxMind's test database: London (a city record) and a
/// country-only record in Bhutan-assigned space, as the reference tests use.
pub const DEFAULT_RECORDS: &[CityRecord<'static>] = &[
    (
        "81.2.69.192/28",
        "GB",
        "United Kingdom",
        Some("London"),
        51.5142,
        -0.0931,
        10,
    ),
    ("67.43.156.0/24", "BT", "Bhutan", None, 27.5, 90.5, 534),
];

/// Writes a GeoIP2-City-style database with the given records and build time.
pub fn write_city_db(path: &Path, records: &[CityRecord<'_>], built: SystemTime) -> Result<()> {
    let mut writer = mmdb_writer::Writer::builder("GeoIP2-City")
        .description(&[("en", "ichnaea-rs test database")])
        .build_epoch(built)
        .build();
    for (network, code, country, city, lat, lon, radius) in records {
        let mut record = json!({
            "continent": {"code": "EU", "names": {"en": "Europe"}},
            "country": {"iso_code": code, "names": {"en": country}},
            "location": {"latitude": lat, "longitude": lon, "accuracy_radius": radius},
        });
        if let Some(city) = city {
            record["city"] = json!({"names": {"en": city}});
        }
        let net: ipnet::IpNet = network.parse()?;
        writer.insert(net, &record)?;
    }
    std::fs::write(path, writer.to_bytes()?)?;
    Ok(())
}
