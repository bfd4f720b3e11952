//! Shard dispatch: from a shard *value* to its fully typed diesel table.
//!
//! Stations, cells and datamap grids live in sharded tables (16 WiFi, 16 Bluetooth, one
//! per cell radio, four datamap quadrants; `pipeline.md` §2.6). The shard is only known at
//! run time, but diesel has no dynamic table names: every `schema::<table>` is its own
//! type. Building SQL text from `table_name()` would throw away diesel's column and type
//! checking and invite injection-shaped bugs, so the house rule is *shards are types, not
//! strings*: the macros here turn a shard value into a `match` whose arms each bind one
//! `schema` module to a name chosen by the caller and then run the same body. Every arm
//! is therefore ordinary, fully type-checked diesel code; the body is compiled once per
//! table.
//!
//! Keep the bodies small (one or two statements): they are instantiated up to 32 times.
//! The bodies evaluate to `Result<_, DbError>`: [`WifiShard::index`] is a `usize`, so the
//! MAC dispatch needs a fallback arm, which reports an invalid shard instead of panicking.
//!
//! [`StationShard`] ties each shard type to its observation type, so a WiFi batch can only
//! be applied to a WiFi shard.

use ichnaea_core::pipeline::observation::StationObservation;
use ichnaea_core::pipeline::station::StationKey;
use ichnaea_core::pipeline::{BlueObservation, CellObservation, StationKind, WifiObservation};
use ichnaea_core::shard::{BlueShard, CellShard, WifiShard};

/// Expands to a `match` on a MAC shard index (0–15) binding `$t` to one of the 16
/// listed `schema` modules.
macro_rules! dispatch_mac_index {
    ($index:expr, $t:ident => $body:expr,
     [$t0:ident, $t1:ident, $t2:ident, $t3:ident, $t4:ident, $t5:ident, $t6:ident, $t7:ident,
      $t8:ident, $t9:ident, $ta:ident, $tb:ident, $tc:ident, $td:ident, $te:ident, $tf:ident]) => {
        match $index {
            0 => {
                use $crate::schema::$t0 as $t;
                $body
            }
            1 => {
                use $crate::schema::$t1 as $t;
                $body
            }
            2 => {
                use $crate::schema::$t2 as $t;
                $body
            }
            3 => {
                use $crate::schema::$t3 as $t;
                $body
            }
            4 => {
                use $crate::schema::$t4 as $t;
                $body
            }
            5 => {
                use $crate::schema::$t5 as $t;
                $body
            }
            6 => {
                use $crate::schema::$t6 as $t;
                $body
            }
            7 => {
                use $crate::schema::$t7 as $t;
                $body
            }
            8 => {
                use $crate::schema::$t8 as $t;
                $body
            }
            9 => {
                use $crate::schema::$t9 as $t;
                $body
            }
            10 => {
                use $crate::schema::$ta as $t;
                $body
            }
            11 => {
                use $crate::schema::$tb as $t;
                $body
            }
            12 => {
                use $crate::schema::$tc as $t;
                $body
            }
            13 => {
                use $crate::schema::$td as $t;
                $body
            }
            14 => {
                use $crate::schema::$te as $t;
                $body
            }
            15 => {
                use $crate::schema::$tf as $t;
                $body
            }
            other => Err($crate::error::DbError::invalid(format!(
                "MAC shard index {other} is out of range"
            ))),
        }
    };
}
pub(crate) use dispatch_mac_index;

/// Runs `$body` with `$t` bound to the `schema` module of a [`MacTable`]
/// (`wifi_shard_<c>` or `blue_shard_<c>`). `$body` must evaluate to a
/// `Result<_, DbError>`.
macro_rules! with_mac_table {
    ($table:expr, $t:ident => $body:expr) => {
        match $table {
            $crate::shards::MacTable::Wifi(shard) => $crate::shards::dispatch_mac_index!(
                shard.index(), $t => $body,
                [wifi_shard_0, wifi_shard_1, wifi_shard_2, wifi_shard_3, wifi_shard_4,
                 wifi_shard_5, wifi_shard_6, wifi_shard_7, wifi_shard_8, wifi_shard_9,
                 wifi_shard_a, wifi_shard_b, wifi_shard_c, wifi_shard_d, wifi_shard_e,
                 wifi_shard_f]
            ),
            $crate::shards::MacTable::Blue(shard) => $crate::shards::dispatch_mac_index!(
                shard.index(), $t => $body,
                [blue_shard_0, blue_shard_1, blue_shard_2, blue_shard_3, blue_shard_4,
                 blue_shard_5, blue_shard_6, blue_shard_7, blue_shard_8, blue_shard_9,
                 blue_shard_a, blue_shard_b, blue_shard_c, blue_shard_d, blue_shard_e,
                 blue_shard_f]
            ),
        }
    };
}
pub(crate) use with_mac_table;

/// Runs `$body` with `$t` bound to the `schema` module of a cell table, and `$lac` /
/// `$cid` to the Rust types of its `lac` and `cid` columns (`u16`/`u32`, or `u32`/`u64`
/// for `cell_nr`, whose 5G identifiers are wider).
macro_rules! with_cell_table {
    ($shard:expr, $t:ident, $lac:ident, $cid:ident => $body:expr) => {
        match ichnaea_core::CellShard::radio($shard) {
            ichnaea_core::Radio::Gsm => {
                use $crate::schema::cell_gsm as $t;
                type $lac = u16;
                type $cid = u32;
                $body
            }
            ichnaea_core::Radio::Wcdma => {
                use $crate::schema::cell_wcdma as $t;
                type $lac = u16;
                type $cid = u32;
                $body
            }
            ichnaea_core::Radio::Lte => {
                use $crate::schema::cell_lte as $t;
                type $lac = u16;
                type $cid = u32;
                $body
            }
            ichnaea_core::Radio::Nr => {
                use $crate::schema::cell_nr as $t;
                type $lac = u32;
                type $cid = u64;
                $body
            }
        }
    };
}
pub(crate) use with_cell_table;

/// Runs `$body` with `$t` bound to the `schema` module of a datamap quadrant.
macro_rules! with_datamap_table {
    ($shard:expr, $t:ident => $body:expr) => {
        match $shard {
            ichnaea_core::DataMapShard::Ne => {
                use $crate::schema::datamap_ne as $t;
                $body
            }
            ichnaea_core::DataMapShard::Nw => {
                use $crate::schema::datamap_nw as $t;
                $body
            }
            ichnaea_core::DataMapShard::Se => {
                use $crate::schema::datamap_se as $t;
                $body
            }
            ichnaea_core::DataMapShard::Sw => {
                use $crate::schema::datamap_sw as $t;
                $body
            }
        }
    };
}
pub(crate) use with_datamap_table;

/// The shared columns of every station table, in [`crate::convert::StationColumns`]
/// order, for `select`.
macro_rules! station_columns {
    ($t:ident) => {
        (
            $t::lat,
            $t::lon,
            $t::max_lat,
            $t::min_lat,
            $t::max_lon,
            $t::min_lon,
            $t::created,
            $t::modified,
            $t::radius,
            $t::region,
            $t::samples,
            $t::source,
            $t::weight,
            $t::last_seen,
            $t::block_first,
            $t::block_last,
            $t::block_count,
        )
    };
}
pub(crate) use station_columns;

/// A MAC-keyed station table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MacTable {
    /// `wifi_shard_<c>`.
    Wifi(WifiShard),
    /// `blue_shard_<c>`.
    Blue(BlueShard),
}

/// Any station table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StationTable {
    /// `wifi_shard_<c>`.
    Wifi(WifiShard),
    /// `blue_shard_<c>`.
    Blue(BlueShard),
    /// `cell_<radio>`.
    Cell(CellShard),
}

impl StationTable {
    /// The MySQL table name (for logs and metrics only, never for SQL).
    pub fn name(self) -> &'static str {
        match self {
            StationTable::Wifi(s) => s.table_name(),
            StationTable::Blue(s) => s.table_name(),
            StationTable::Cell(s) => s.table_name(),
        }
    }

    /// The kind of station stored in the table.
    pub fn kind(self) -> StationKind {
        match self {
            StationTable::Wifi(_) => StationKind::Wifi,
            StationTable::Blue(_) => StationKind::Blue,
            StationTable::Cell(_) => StationKind::Cell,
        }
    }

    /// Whether a station with this key is stored in this table.
    pub fn holds(self, key: &StationKey) -> bool {
        match (self, key) {
            (StationTable::Wifi(s), StationKey::Mac(mac)) => WifiShard::for_mac(mac) == s,
            (StationTable::Blue(s), StationKey::Mac(mac)) => BlueShard::for_mac(mac) == s,
            (StationTable::Cell(s), StationKey::Cell(cell)) => {
                CellShard::for_radio(cell.radio()) == s
            }
            _ => false,
        }
    }

    /// The table as a MAC table or a cell table, the two layouts the SQL differs by.
    pub(crate) fn layout(self) -> TableLayout {
        match self {
            StationTable::Wifi(s) => TableLayout::Mac(MacTable::Wifi(s)),
            StationTable::Blue(s) => TableLayout::Mac(MacTable::Blue(s)),
            StationTable::Cell(s) => TableLayout::Cell(s),
        }
    }
}

/// A station table by key layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableLayout {
    /// Keyed by `mac`.
    Mac(MacTable),
    /// Keyed by `cellid`, with the cell columns.
    Cell(CellShard),
}

/// A shard type of a station table, tied to the observations its queue carries.
pub trait StationShard: Copy + Send + Sync + 'static {
    /// The observations applied to this shard.
    type Observation: StationObservation + Send + Sync;

    /// The table of this shard.
    fn table(self) -> StationTable;
}

impl StationShard for WifiShard {
    type Observation = WifiObservation;

    fn table(self) -> StationTable {
        StationTable::Wifi(self)
    }
}

impl StationShard for BlueShard {
    type Observation = BlueObservation;

    fn table(self) -> StationTable {
        StationTable::Blue(self)
    }
}

impl StationShard for CellShard {
    type Observation = CellObservation;

    fn table(self) -> StationTable {
        StationTable::Cell(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ichnaea_core::{CellId, Mac, Radio};

    #[test]
    fn tables_hold_only_their_keys() {
        let mac = StationKey::Mac(Mac::parse("a82066123456").unwrap());
        let cell = StationKey::Cell(CellId::new(Radio::Lte, 262, 1, 2, 3).unwrap());
        let wifi6 = StationTable::Wifi(WifiShard::from_id('6').unwrap());
        assert!(wifi6.holds(&mac));
        assert!(!StationTable::Wifi(WifiShard::from_id('7').unwrap()).holds(&mac));
        assert!(!wifi6.holds(&cell));
        let lte = StationTable::Cell(CellShard::for_radio(Radio::Lte));
        assert!(lte.holds(&cell));
        assert!(!StationTable::Cell(CellShard::for_radio(Radio::Gsm)).holds(&cell));
        assert_eq!(lte.name(), "cell_lte");
        assert_eq!(wifi6.kind(), StationKind::Wifi);
        assert_eq!(
            wifi6.layout(),
            TableLayout::Mac(MacTable::Wifi(WifiShard::ALL[6]))
        );
        assert_eq!(
            lte.layout(),
            TableLayout::Cell(CellShard::for_radio(Radio::Lte))
        );
    }
}
