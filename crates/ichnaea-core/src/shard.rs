//! Shard routing, as types.
//!
//! Stations live in sharded tables and flow through sharded queues (`pipeline.md` §2.6):
//!
//! * WiFi and Bluetooth: 16 shards each, chosen by the 5th hex digit of the MAC
//!   (`a82066123456` → shard `6`). The rule keeps one vendor's devices together and can later
//!   be split further on the 6th digit.
//! * Cells: one table per radio (`cell_gsm`, `cell_wcdma`, `cell_lte`, and our `cell_nr`).
//! * Datamap: four quadrants split at 36°N / 5°E, which balances populated land mass.
//!
//! Table and queue names are derived here and nowhere else, so a typo cannot route data to
//! a table that does not exist.

use std::fmt;

use crate::enums::Radio;
use crate::ids::Mac;

macro_rules! mac_shard {
    ($(#[$doc:meta])* $name:ident, $table_prefix:literal, $queue_prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u8);

        impl $name {
            /// All 16 shards, `0` to `f`.
            pub const ALL: [$name; 16] = {
                let mut all = [$name(0); 16];
                let mut i = 0;
                while i < 16 {
                    all[i] = $name(i as u8);
                    i += 1;
                }
                all
            };

            const TABLES: [&'static str; 16] = [
                concat!($table_prefix, "0"), concat!($table_prefix, "1"),
                concat!($table_prefix, "2"), concat!($table_prefix, "3"),
                concat!($table_prefix, "4"), concat!($table_prefix, "5"),
                concat!($table_prefix, "6"), concat!($table_prefix, "7"),
                concat!($table_prefix, "8"), concat!($table_prefix, "9"),
                concat!($table_prefix, "a"), concat!($table_prefix, "b"),
                concat!($table_prefix, "c"), concat!($table_prefix, "d"),
                concat!($table_prefix, "e"), concat!($table_prefix, "f"),
            ];

            const QUEUES: [&'static str; 16] = [
                concat!($queue_prefix, "0"), concat!($queue_prefix, "1"),
                concat!($queue_prefix, "2"), concat!($queue_prefix, "3"),
                concat!($queue_prefix, "4"), concat!($queue_prefix, "5"),
                concat!($queue_prefix, "6"), concat!($queue_prefix, "7"),
                concat!($queue_prefix, "8"), concat!($queue_prefix, "9"),
                concat!($queue_prefix, "a"), concat!($queue_prefix, "b"),
                concat!($queue_prefix, "c"), concat!($queue_prefix, "d"),
                concat!($queue_prefix, "e"), concat!($queue_prefix, "f"),
            ];

            /// The shard holding this MAC.
            pub fn for_mac(mac: &Mac) -> $name {
                $name(mac.shard_nibble())
            }

            /// The shard for its id character (`0`–`9`, `a`–`f`).
            pub fn from_id(id: char) -> Option<$name> {
                id.to_digit(16)
                    .filter(|_| !id.is_ascii_uppercase())
                    .map(|d| $name(d as u8))
            }

            /// The shard id character.
            pub fn id(self) -> char {
                char::from_digit(u32::from(self.0), 16).unwrap_or('0')
            }

            /// The shard's index, 0 to 15.
            pub fn index(self) -> usize {
                usize::from(self.0)
            }

            /// The MySQL table of this shard.
            pub fn table_name(self) -> &'static str {
                Self::TABLES[self.index()]
            }

            /// The Redis data queue feeding this shard's station updater.
            pub fn queue_key(self) -> &'static str {
                Self::QUEUES[self.index()]
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.id())
            }
        }
    };
}

mac_shard!(
    /// One of the 16 `wifi_shard_<c>` tables.
    WifiShard,
    "wifi_shard_",
    "update_wifi_"
);
mac_shard!(
    /// One of the 16 `blue_shard_<c>` tables.
    BlueShard,
    "blue_shard_",
    "update_blue_"
);

/// One of the per-radio cell tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellShard(Radio);

impl CellShard {
    /// All cell shards, including NR.
    pub const ALL: [CellShard; 4] = [
        CellShard(Radio::Gsm),
        CellShard(Radio::Wcdma),
        CellShard(Radio::Lte),
        CellShard(Radio::Nr),
    ];

    /// The table holding cells of this radio.
    pub fn for_radio(radio: Radio) -> CellShard {
        CellShard(radio)
    }

    /// The radio of this shard.
    pub fn radio(self) -> Radio {
        self.0
    }

    /// The shard id used in queue names and task arguments (`gsm`, `wcdma`, `lte`, `nr`).
    pub fn id(self) -> &'static str {
        self.0.into()
    }

    /// The MySQL table of this shard.
    pub fn table_name(self) -> &'static str {
        match self.0 {
            Radio::Gsm => "cell_gsm",
            Radio::Wcdma => "cell_wcdma",
            Radio::Lte => "cell_lte",
            Radio::Nr => "cell_nr",
        }
    }

    /// The Redis data queue feeding this shard's station updater.
    pub fn queue_key(self) -> &'static str {
        match self.0 {
            Radio::Gsm => "update_cell_gsm",
            Radio::Wcdma => "update_cell_wcdma",
            Radio::Lte => "update_cell_lte",
            Radio::Nr => "update_cell_nr",
        }
    }
}

impl fmt::Display for CellShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One of the four datamap quadrant tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataMapShard {
    /// North of 36°N, east of 5°E.
    Ne,
    /// North of 36°N, west of 5°E.
    Nw,
    /// South of 36°N, east of 5°E.
    Se,
    /// South of 36°N, west of 5°E.
    Sw,
}

impl DataMapShard {
    /// All four quadrants.
    pub const ALL: [DataMapShard; 4] = [
        DataMapShard::Ne,
        DataMapShard::Nw,
        DataMapShard::Se,
        DataMapShard::Sw,
    ];

    /// The quadrant of a grid cell given its scaled coordinates (degrees × 1000).
    pub fn for_scaled(lat_scaled: i32, lon_scaled: i32) -> DataMapShard {
        match (lat_scaled >= 36_000, lon_scaled >= 5_000) {
            (true, true) => DataMapShard::Ne,
            (true, false) => DataMapShard::Nw,
            (false, true) => DataMapShard::Se,
            (false, false) => DataMapShard::Sw,
        }
    }

    /// The shard id (`ne`, `nw`, `se`, `sw`).
    pub fn id(self) -> &'static str {
        match self {
            DataMapShard::Ne => "ne",
            DataMapShard::Nw => "nw",
            DataMapShard::Se => "se",
            DataMapShard::Sw => "sw",
        }
    }

    /// The MySQL table of this quadrant.
    pub fn table_name(self) -> &'static str {
        match self {
            DataMapShard::Ne => "datamap_ne",
            DataMapShard::Nw => "datamap_nw",
            DataMapShard::Se => "datamap_se",
            DataMapShard::Sw => "datamap_sw",
        }
    }

    /// The Redis data queue of grid cells to record in this quadrant.
    pub fn queue_key(self) -> &'static str {
        match self {
            DataMapShard::Ne => "update_datamap_ne",
            DataMapShard::Nw => "update_datamap_nw",
            DataMapShard::Se => "update_datamap_se",
            DataMapShard::Sw => "update_datamap_sw",
        }
    }
}

impl fmt::Display for DataMapShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_shard_is_the_fifth_hex_digit() {
        let mac = Mac::parse("a82066123456").unwrap();
        assert_eq!(WifiShard::for_mac(&mac).id(), '6');
        assert_eq!(WifiShard::for_mac(&mac).table_name(), "wifi_shard_6");
        assert_eq!(BlueShard::for_mac(&mac).queue_key(), "update_blue_6");
        let mac = Mac::parse("0123f56789ab").unwrap();
        assert_eq!(WifiShard::for_mac(&mac).table_name(), "wifi_shard_f");
    }

    #[test]
    fn all_mac_shards_are_distinct_and_named() {
        let names: std::collections::BTreeSet<_> =
            WifiShard::ALL.iter().map(|s| s.table_name()).collect();
        assert_eq!(names.len(), 16);
        for (i, shard) in BlueShard::ALL.iter().enumerate() {
            assert_eq!(shard.index(), i);
            assert_eq!(BlueShard::from_id(shard.id()), Some(*shard));
            assert_eq!(shard.table_name(), format!("blue_shard_{:x}", i));
            assert_eq!(shard.queue_key(), format!("update_blue_{:x}", i));
        }
        assert_eq!(WifiShard::from_id('g'), None);
        assert_eq!(WifiShard::from_id('A'), None);
    }

    #[test]
    fn cell_shards_follow_the_radio() {
        assert_eq!(CellShard::for_radio(Radio::Lte).table_name(), "cell_lte");
        assert_eq!(CellShard::for_radio(Radio::Nr).table_name(), "cell_nr");
        assert_eq!(
            CellShard::for_radio(Radio::Wcdma).queue_key(),
            "update_cell_wcdma"
        );
        for shard in CellShard::ALL {
            assert_eq!(shard.table_name(), format!("cell_{}", shard.id()));
            assert_eq!(shard.queue_key(), format!("update_cell_{}", shard.id()));
        }
    }

    #[test]
    fn datamap_quadrant_boundaries() {
        assert_eq!(DataMapShard::for_scaled(36000, 5000), DataMapShard::Ne);
        assert_eq!(DataMapShard::for_scaled(35999, 5000), DataMapShard::Se);
        assert_eq!(DataMapShard::for_scaled(36000, 4999), DataMapShard::Nw);
        assert_eq!(DataMapShard::for_scaled(35999, 4999), DataMapShard::Sw);
        assert_eq!(DataMapShard::for_scaled(85000, 180000), DataMapShard::Ne);
        assert_eq!(DataMapShard::for_scaled(-85000, -180000), DataMapShard::Sw);
        for shard in DataMapShard::ALL {
            assert_eq!(shard.table_name(), format!("datamap_{shard}"));
            assert_eq!(shard.queue_key(), format!("update_datamap_{shard}"));
        }
    }
}
