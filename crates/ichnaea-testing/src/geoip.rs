//! Small GeoIP2-City databases written by the tests themselves, so the suite does not
//! depend on MaxMind's files.

use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;

/// A record: (network, country code, country name, city `(name, geoname id)` or `None`
/// for a country-only record, latitude, longitude, accuracy radius in km).
pub type CityRecord<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<(&'a str, u32)>,
    f64,
    f64,
    u16,
);

/// Records modelled on MaxMind's test database: London (a city record) and a
/// country-only record in Bhutan-assigned space, as the reference tests use.
pub const DEFAULT_RECORDS: &[CityRecord<'static>] = &[
    (
        "81.2.69.192/28",
        "GB",
        "United Kingdom",
        Some(("London", 2_643_743)),
        51.5142,
        -0.0931,
        10,
    ),
    ("67.43.156.0/24", "BT", "Bhutan", None, 27.5, 90.5, 534),
];

/// The record layout of GeoIP2-City, with MaxMind's integer widths (`geoname_id` is a
/// `uint32`, `accuracy_radius` a `uint16`): readers decode strictly by width.
#[derive(serde::Serialize)]
struct Record<'a> {
    continent: Named<'a>,
    country: Country<'a>,
    location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<City<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subdivisions: Vec<Country<'a>>,
}

#[derive(serde::Serialize)]
struct Names<'a> {
    en: &'a str,
}

#[derive(serde::Serialize)]
struct Named<'a> {
    code: &'a str,
    names: Names<'a>,
}

#[derive(serde::Serialize)]
struct Country<'a> {
    iso_code: &'a str,
    names: Names<'a>,
}

#[derive(serde::Serialize)]
struct City<'a> {
    geoname_id: u32,
    names: Names<'a>,
}

#[derive(serde::Serialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    accuracy_radius: u16,
}

/// Writes a GeoIP2-City-style database with the given records and build time.
pub fn write_city_db(path: &Path, records: &[CityRecord<'_>], built: SystemTime) -> Result<()> {
    let mut writer = mmdb_writer::Writer::builder("GeoIP2-City")
        .description(&[("en", "ichnaea-rs test database")])
        .build_epoch(built)
        .build();
    for &(network, code, country, city, latitude, longitude, accuracy_radius) in records {
        let record = Record {
            continent: Named {
                code: "EU",
                names: Names { en: "Europe" },
            },
            country: Country {
                iso_code: code,
                names: Names { en: country },
            },
            location: Location {
                latitude,
                longitude,
                accuracy_radius,
            },
            city: city.map(|(name, geoname_id)| City {
                geoname_id,
                names: Names { en: name },
            }),
            subdivisions: city
                .map(|_| Country {
                    iso_code: "ENG",
                    names: Names { en: "England" },
                })
                .into_iter()
                .collect(),
        };
        let net: ipnet::IpNet = network.parse()?;
        writer.insert(net, &record)?;
    }
    std::fs::write(path, writer.to_bytes()?)?;
    Ok(())
}
