//! Enumerations stored as small integers in MySQL.
//!
//! The integer values are part of the on-disk format shared with the reference
//! implementation (`pipeline.md` §2.4), so they are spelled out explicitly and tested.
//! The one addition is [`Radio::Nr`] (5G New Radio, value 4), which the reference lacks.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString, IntoStaticStr};

/// The radio technology of a cell.
///
/// Value 1 (`cdma`) is retired: the reference never accepts or stores CDMA cells, and
/// neither do we, so it has no variant.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Radio {
    /// GSM (2G).
    Gsm,
    /// WCDMA / UMTS (3G).
    Wcdma,
    /// LTE (4G).
    Lte,
    /// 5G New Radio; not part of the reference system.
    Nr,
}

impl Radio {
    /// All radios that can be stored, in table order.
    pub const ALL: [Radio; 4] = [Radio::Gsm, Radio::Wcdma, Radio::Lte, Radio::Nr];

    /// The integer stored in the `radio` columns and in the first byte of cell ids.
    pub const fn code(self) -> i8 {
        match self {
            Radio::Gsm => 0,
            Radio::Wcdma => 2,
            Radio::Lte => 3,
            Radio::Nr => 4,
        }
    }

    /// The radio for a stored integer, or `None` for unknown or retired values (1 = cdma).
    pub const fn from_code(code: i8) -> Option<Radio> {
        match code {
            0 => Some(Radio::Gsm),
            2 => Some(Radio::Wcdma),
            3 => Some(Radio::Lte),
            4 => Some(Radio::Nr),
            _ => None,
        }
    }

    /// Whether this radio uses the wide (5G) identifier layout: 24-bit tracking area
    /// codes and 36-bit cell identities.
    pub const fn is_wide(self) -> bool {
        matches!(self, Radio::Nr)
    }
}

/// Where the position of a report came from; lower values are better quality.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ReportSource {
    /// A fixed, surveyed position.
    Fixed,
    /// A satellite (GNSS) fix.
    Gnss,
    /// A fused position from the device's location provider.
    Fused,
    /// A position that this service itself answered to a locate query.
    Query,
}

impl ReportSource {
    /// The integer stored in the `source` columns.
    pub const fn code(self) -> i8 {
        match self {
            ReportSource::Fixed => 0,
            ReportSource::Gnss => 3,
            ReportSource::Fused => 6,
            ReportSource::Query => 9,
        }
    }

    /// The source for a stored integer.
    pub const fn from_code(code: i8) -> Option<ReportSource> {
        match code {
            0 => Some(ReportSource::Fixed),
            3 => Some(ReportSource::Gnss),
            6 => Some(ReportSource::Fused),
            9 => Some(ReportSource::Query),
            _ => None,
        }
    }
}

/// The kinds of daily statistics kept in the `stat` table.
///
/// Retired values, never written again: 0 location, 5 deleted_cell, 6 deleted_wifi,
/// 7 unique_cell_ocid.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum StatKey {
    /// Cell observations.
    Cell,
    /// Distinct cells.
    UniqueCell,
    /// WiFi observations.
    Wifi,
    /// Distinct WiFi access points.
    UniqueWifi,
    /// Bluetooth observations.
    Blue,
    /// Distinct Bluetooth beacons.
    UniqueBlue,
}

impl StatKey {
    /// The integer stored in `stat.key`.
    pub const fn code(self) -> i8 {
        match self {
            StatKey::Cell => 1,
            StatKey::UniqueCell => 2,
            StatKey::Wifi => 3,
            StatKey::UniqueWifi => 4,
            StatKey::Blue => 8,
            StatKey::UniqueBlue => 9,
        }
    }

    /// The key for a stored integer.
    pub const fn from_code(code: i8) -> Option<StatKey> {
        match code {
            1 => Some(StatKey::Cell),
            2 => Some(StatKey::UniqueCell),
            3 => Some(StatKey::Wifi),
            4 => Some(StatKey::UniqueWifi),
            8 => Some(StatKey::Blue),
            9 => Some(StatKey::UniqueBlue),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn radio_codes_match_the_reference() {
        assert_eq!(Radio::Gsm.code(), 0);
        assert_eq!(Radio::Wcdma.code(), 2);
        assert_eq!(Radio::Lte.code(), 3);
        assert_eq!(Radio::Nr.code(), 4);
        assert_eq!(Radio::from_code(1), None, "cdma is never stored");
        for radio in Radio::iter() {
            assert_eq!(Radio::from_code(radio.code()), Some(radio));
            assert_eq!(radio.to_string().parse::<Radio>().ok(), Some(radio));
        }
        assert_eq!(Radio::ALL.len(), Radio::iter().count());
    }

    #[test]
    fn source_and_stat_codes_round_trip() {
        assert_eq!(ReportSource::Gnss.code(), 3);
        assert_eq!(ReportSource::Query.code(), 9);
        for s in ReportSource::iter() {
            assert_eq!(ReportSource::from_code(s.code()), Some(s));
        }
        assert_eq!(StatKey::UniqueBlue.code(), 9);
        assert_eq!(StatKey::UniqueWifi.to_string(), "unique_wifi");
        for k in StatKey::iter() {
            assert_eq!(StatKey::from_code(k.code()), Some(k));
        }
        assert_eq!(StatKey::from_code(5), None);
    }

    #[test]
    fn serde_uses_lowercase_names() {
        assert_eq!(serde_json::to_string(&Radio::Wcdma).unwrap(), "\"wcdma\"");
        assert_eq!(
            serde_json::from_str::<ReportSource>("\"fused\"").unwrap(),
            ReportSource::Fused
        );
    }
}
