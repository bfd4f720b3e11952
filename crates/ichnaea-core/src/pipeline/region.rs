//! Region codes and the region lookup the pipeline depends on.
//!
//! The reference attributes stations and areas to regions with country shapes
//! (`pipeline.md` §5.12). The shapes, their buffered variants and the R-tree live in another
//! part of ichnaea-rs; the pipeline only needs four questions answered, so it takes them as
//! the [`RegionLookup`] trait. This keeps the pipeline pure and lets tests use small fake
//! geographies.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 3166 / GENC alpha-2 region code such as `GB` (the `region` columns, `varchar(2)`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode([u8; 2]);

impl RegionCode {
    /// A code of exactly two ASCII uppercase letters; anything else is `None`.
    pub fn new(code: &str) -> Option<RegionCode> {
        match code.as_bytes() {
            &[a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Some(RegionCode([a, b])),
            _ => None,
        }
    }

    /// The two-letter code.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({})", self.as_str())
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RegionCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        RegionCode::new(&text).ok_or_else(|| serde::de::Error::custom("not a region code"))
    }
}

/// The region questions the pipeline asks (`pipeline.md` §5.12).
///
/// Implementations must be pure: the same question always gets the same answer, which is
/// what makes the station and area updates deterministic.
pub trait RegionLookup {
    /// The region of a point (`Geocoder.region`): candidates whose buffered shape contains
    /// the point, narrowed by the precise shapes and the nearest / farthest boundary vertex
    /// heuristics; `None` outside every region.
    fn region(&self, lat: f64, lon: f64) -> Option<RegionCode>;

    /// Whether the **buffered** shape of `code` contains the point (`Geocoder.in_region`).
    fn in_region(&self, lat: f64, lon: f64, code: RegionCode) -> bool;

    /// Whether any buffered shape contains the point (`Geocoder.any_region`); reports
    /// elsewhere are invalid.
    fn any_region(&self, lat: f64, lon: f64) -> bool;

    /// The region of a point for a cell of country code `mcc` (`Geocoder.region_for_cell`):
    /// the MCC's regions whose buffered shape contains the point; one → it, several →
    /// [`RegionLookup::region`], none → `None`.
    fn region_for_cell(&self, lat: f64, lon: f64, mcc: u16) -> Option<RegionCode>;
}

/// A lookup that knows no regions at all: every point is outside every region.
///
/// Useful where region attribution does not matter (for example a dry run); note that report
/// validation rejects every report with this lookup, because of the `any_region` rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRegions;

impl RegionLookup for NoRegions {
    fn region(&self, _lat: f64, _lon: f64) -> Option<RegionCode> {
        None
    }
    fn in_region(&self, _lat: f64, _lon: f64, _code: RegionCode) -> bool {
        false
    }
    fn any_region(&self, _lat: f64, _lon: f64) -> bool {
        false
    }
    fn region_for_cell(&self, _lat: f64, _lon: f64, _mcc: u16) -> Option<RegionCode> {
        None
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A tiny fake geography of rectangles, for tests.

    use super::{RegionCode, RegionLookup};

    /// One region: a precise and a buffered rectangle `(min_lat, max_lat, min_lon, max_lon)`
    /// and the MCCs that belong to it.
    pub(crate) struct FakeRegion {
        pub code: &'static str,
        pub precise: (f64, f64, f64, f64),
        pub buffered: (f64, f64, f64, f64),
        pub mccs: &'static [u16],
    }

    pub(crate) struct FakeRegions(pub Vec<FakeRegion>);

    fn inside(r: (f64, f64, f64, f64), lat: f64, lon: f64) -> bool {
        lat >= r.0 && lat <= r.1 && lon >= r.2 && lon <= r.3
    }

    fn code(text: &str) -> RegionCode {
        RegionCode::new(text).unwrap()
    }

    impl FakeRegions {
        /// Great Britain around London, France / Switzerland around Geneva, Israel / West
        /// Bank, Puerto Rico / United States, Germany, Mauritania, the Netherlands.
        pub(crate) fn world() -> FakeRegions {
            FakeRegions(vec![
                FakeRegion {
                    code: "GB",
                    precise: (49.9, 58.7, -8.2, 1.8),
                    buffered: (49.4, 59.2, -8.7, 2.3),
                    mccs: &[234, 235],
                },
                FakeRegion {
                    code: "FR",
                    precise: (42.0, 51.0, -5.0, 6.9),
                    buffered: (41.5, 51.5, -5.5, 7.3),
                    mccs: &[208],
                },
                FakeRegion {
                    code: "CH",
                    precise: (45.8, 47.8, 6.9, 10.5),
                    buffered: (45.3, 48.3, 6.4, 11.0),
                    mccs: &[228],
                },
                FakeRegion {
                    code: "IL",
                    precise: (29.5, 33.3, 34.9, 35.0),
                    buffered: (29.0, 33.8, 34.4, 35.9),
                    mccs: &[425],
                },
                FakeRegion {
                    code: "XW",
                    precise: (31.3, 32.6, 35.0, 35.6),
                    buffered: (30.8, 33.1, 34.5, 36.1),
                    mccs: &[425],
                },
                FakeRegion {
                    code: "PR",
                    precise: (17.9, 18.6, -67.3, -65.2),
                    buffered: (17.4, 19.1, -67.8, -64.7),
                    mccs: &[310, 330],
                },
                FakeRegion {
                    code: "US",
                    precise: (24.0, 49.0, -125.0, -66.9),
                    buffered: (23.5, 49.5, -125.5, -66.4),
                    mccs: &[310, 311],
                },
                FakeRegion {
                    code: "DE",
                    precise: (47.3, 55.0, 6.0, 15.0),
                    buffered: (46.8, 55.5, 5.5, 15.5),
                    mccs: &[262],
                },
                FakeRegion {
                    code: "MR",
                    precise: (15.0, 27.0, -17.0, -5.0),
                    buffered: (14.5, 27.5, -17.5, -4.5),
                    mccs: &[609],
                },
                FakeRegion {
                    code: "NL",
                    precise: (50.7, 53.6, 3.3, 7.2),
                    buffered: (50.2, 54.1, 2.8, 7.7),
                    mccs: &[204],
                },
            ])
        }
    }

    impl RegionLookup for FakeRegions {
        fn region(&self, lat: f64, lon: f64) -> Option<RegionCode> {
            let candidates: Vec<_> = self
                .0
                .iter()
                .filter(|r| inside(r.buffered, lat, lon))
                .collect();
            match candidates.as_slice() {
                [] => None,
                [one] => Some(code(one.code)),
                several => several
                    .iter()
                    .find(|r| inside(r.precise, lat, lon))
                    .or(several.first())
                    .map(|r| code(r.code)),
            }
        }
        fn in_region(&self, lat: f64, lon: f64, region: RegionCode) -> bool {
            self.0
                .iter()
                .any(|r| r.code == region.as_str() && inside(r.buffered, lat, lon))
        }
        fn any_region(&self, lat: f64, lon: f64) -> bool {
            self.0.iter().any(|r| inside(r.buffered, lat, lon))
        }
        fn region_for_cell(&self, lat: f64, lon: f64, mcc: u16) -> Option<RegionCode> {
            let candidates: Vec<_> = self
                .0
                .iter()
                .filter(|r| r.mccs.contains(&mcc) && inside(r.buffered, lat, lon))
                .collect();
            match candidates.as_slice() {
                [] => None,
                [one] => Some(code(one.code)),
                _ => self.region(lat, lon),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes_are_two_uppercase_letters() {
        assert_eq!(RegionCode::new("GB").unwrap().as_str(), "GB");
        for bad in ["gb", "G", "GBR", "", "G1", "Ü"] {
            assert_eq!(RegionCode::new(bad), None, "{bad:?}");
        }
        let code = RegionCode::new("DE").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"DE\"");
        assert_eq!(serde_json::from_str::<RegionCode>("\"DE\"").unwrap(), code);
        assert!(serde_json::from_str::<RegionCode>("\"de\"").is_err());
        assert!(RegionCode::new("AB") < RegionCode::new("BA"));
    }

    #[test]
    fn no_regions_answers_nothing() {
        let code = RegionCode::new("GB").unwrap();
        assert_eq!(NoRegions.region(51.5, -0.1), None);
        assert!(!NoRegions.in_region(51.5, -0.1, code));
        assert!(!NoRegions.any_region(51.5, -0.1));
        assert_eq!(NoRegions.region_for_cell(51.5, -0.1, 234), None);
    }
}
