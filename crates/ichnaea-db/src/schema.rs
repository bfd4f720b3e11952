//! Diesel table definitions for the whole MySQL schema.
//!
//! Hand-curated rather than generated: the station tables are sharded (16 WiFi, 16
//! Bluetooth, four cell tables, four datamap quadrants) and diesel has no dynamic table
//! names, so each shard family is declared once with a macro and expanded per shard. The
//! test `schema_matches_migrated_database` (in `tests/schema.rs`) proves that every table
//! here matches the database that the embedded migrations build, column by column: name,
//! SQL type, nullability and primary key.

/// Declares a station table: the columns shared by every station table plus the
/// table-specific identifier columns.
macro_rules! station_table {
    ($name:ident ($($pk:ident),+) { $($(#[$meta:meta])* $col:ident -> $ty:ty,)* }) => {
        diesel::table! {
            #[doc = concat!("The `", stringify!($name), "` station table.")]
            $name ($($pk),+) {
                /// Bounding box of merged observations: north edge.
                max_lat -> Nullable<Double>,
                /// Bounding box: south edge.
                min_lat -> Nullable<Double>,
                /// Bounding box: east edge.
                max_lon -> Nullable<Double>,
                /// Bounding box: west edge.
                min_lon -> Nullable<Double>,
                /// Position estimate (NULL when blocked or never positioned).
                lat -> Nullable<Double>,
                /// Position estimate (NULL when blocked or never positioned).
                lon -> Nullable<Double>,
                /// Row creation time (UTC).
                created -> Nullable<Datetime>,
                /// Last position or block change (UTC).
                modified -> Nullable<Datetime>,
                /// Metres from the position to the farthest bounding box corner.
                radius -> Nullable<Unsigned<Integer>>,
                /// Region code (GENC alpha-2).
                region -> Nullable<Varchar>,
                /// Number of observations merged.
                samples -> Nullable<Unsigned<Integer>>,
                /// `ReportSource` code of the position.
                source -> Nullable<TinyInt>,
                /// Sum of merged observation weights.
                weight -> Nullable<Double>,
                /// Last day the station was confirmed or changed.
                last_seen -> Nullable<Date>,
                /// First day the station was blocked.
                block_first -> Nullable<Date>,
                /// Most recent day the station was blocked.
                block_last -> Nullable<Date>,
                /// Number of times blocked.
                block_count -> Nullable<Unsigned<TinyInt>>,
                $($(#[$meta])* $col -> $ty,)*
            }
        }
    };
}

/// Declares one MAC-keyed station shard (WiFi or Bluetooth).
macro_rules! mac_shard_table {
    ($($name:ident),+ $(,)?) => {
        $(station_table!($name (mac) {
            /// The 6-byte MAC address.
            mac -> Binary,
        });)+
    };
}

/// Declares one cell table.
macro_rules! cell_table {
    ($name:ident, lac: $lac:ty, cid: $cid:ty) => {
        station_table!($name (cellid) {
            /// Binary cell id (11 bytes, 13 for NR).
            cellid -> Binary,
            /// Radio code.
            radio -> TinyInt,
            /// Mobile country code.
            mcc -> SmallInt,
            /// Mobile network code.
            mnc -> SmallInt,
            /// Location / tracking area code.
            lac -> $lac,
            /// Cell id (NR: the NR cell identity).
            cid -> $cid,
            /// Primary scrambling code / physical cell id.
            psc -> Nullable<SmallInt>,
        });
    };
}

/// Declares one datamap quadrant table.
macro_rules! datamap_table {
    ($($name:ident),+ $(,)?) => {
        $(diesel::table! {
            #[doc = concat!("The `", stringify!($name), "` datamap quadrant.")]
            $name (grid) {
                /// 8-byte grid cell key.
                grid -> Binary,
                /// First day the cell was seen.
                created -> Nullable<Date>,
                /// Last day the cell was seen.
                modified -> Nullable<Date>,
            }
        })+
    };
}

diesel::table! {
    /// Revision marker of the reference's migration tool, kept so its tooling and the
    /// heartbeat see a familiar schema.
    alembic_version (version_num) {
        /// Revision id.
        version_num -> Varchar,
    }
}

diesel::table! {
    /// API keys with their permissions, limits and fallback settings.
    api_key (valid_key) {
        /// The key text.
        valid_key -> Varchar,
        /// Daily request limit per API path; NULL or 0 = unlimited.
        maxreq -> Nullable<Integer>,
        /// May use the external fallback provider.
        allow_fallback -> Nullable<Bool>,
        /// May call the locate API.
        allow_locate -> Nullable<Bool>,
        /// May call the region API.
        allow_region -> Nullable<Bool>,
        /// Fallback provider name (rate limit partition, metric tag).
        fallback_name -> Nullable<Varchar>,
        /// Fallback provider protocol.
        fallback_schema -> Nullable<Varchar>,
        /// Fallback provider URL.
        fallback_url -> Nullable<Varchar>,
        /// Fallback requests per interval.
        fallback_ratelimit -> Nullable<Integer>,
        /// Fallback rate limit interval in seconds.
        fallback_ratelimit_interval -> Nullable<Integer>,
        /// Seconds to cache fallback answers.
        fallback_cache_expire -> Nullable<Integer>,
        /// Percentage of locate queries fed to the pipeline.
        store_sample_locate -> Nullable<TinyInt>,
        /// Percentage of submissions kept.
        store_sample_submit -> Nullable<TinyInt>,
    }
}

diesel::table! {
    /// Export targets of incoming reports.
    export_config (name) {
        /// Export name.
        name -> Varchar,
        /// Batch size.
        batch -> Nullable<Integer>,
        /// Exporter kind: `dummy`, `geosubmit`, `internal`, `s3`.
        schema -> Nullable<Varchar>,
        /// Target URL.
        url -> Nullable<Varchar>,
        /// Comma-separated API keys to skip.
        skip_keys -> Nullable<Varchar>,
        /// Comma-separated sources to skip.
        skip_sources -> Nullable<Varchar>,
    }
}

cell_table!(cell_gsm, lac: Unsigned<SmallInt>, cid: Unsigned<Integer>);
cell_table!(cell_wcdma, lac: Unsigned<SmallInt>, cid: Unsigned<Integer>);
cell_table!(cell_lte, lac: Unsigned<SmallInt>, cid: Unsigned<Integer>);
cell_table!(cell_nr, lac: Unsigned<Integer>, cid: Unsigned<BigInt>);

mac_shard_table!(
    wifi_shard_0,
    wifi_shard_1,
    wifi_shard_2,
    wifi_shard_3,
    wifi_shard_4,
    wifi_shard_5,
    wifi_shard_6,
    wifi_shard_7,
    wifi_shard_8,
    wifi_shard_9,
    wifi_shard_a,
    wifi_shard_b,
    wifi_shard_c,
    wifi_shard_d,
    wifi_shard_e,
    wifi_shard_f,
);

mac_shard_table!(
    blue_shard_0,
    blue_shard_1,
    blue_shard_2,
    blue_shard_3,
    blue_shard_4,
    blue_shard_5,
    blue_shard_6,
    blue_shard_7,
    blue_shard_8,
    blue_shard_9,
    blue_shard_a,
    blue_shard_b,
    blue_shard_c,
    blue_shard_d,
    blue_shard_e,
    blue_shard_f,
);

diesel::table! {
    /// Aggregates of cell location areas.
    cell_area (areaid) {
        /// Mean position of member cells.
        lat -> Nullable<Double>,
        /// Mean position of member cells.
        lon -> Nullable<Double>,
        /// Row creation time.
        created -> Nullable<Datetime>,
        /// Last change.
        modified -> Nullable<Datetime>,
        /// 7-byte (8 for NR) area id.
        areaid -> Binary,
        /// Radio code.
        radio -> TinyInt,
        /// Mobile country code.
        mcc -> SmallInt,
        /// Mobile network code.
        mnc -> SmallInt,
        /// Location / tracking area code.
        lac -> Unsigned<Integer>,
        /// Radius in metres.
        radius -> Nullable<Integer>,
        /// Region code.
        region -> Nullable<Varchar>,
        /// Average radius of member cells.
        avg_cell_radius -> Nullable<Unsigned<Integer>>,
        /// Number of member cells.
        num_cells -> Nullable<Unsigned<Integer>>,
        /// Last day seen.
        last_seen -> Nullable<Date>,
    }
}

datamap_table!(datamap_ne, datamap_nw, datamap_se, datamap_sw);

diesel::table! {
    /// Station counts per region.
    region_stat (region) {
        /// Region code.
        region -> Varchar,
        /// GSM cells.
        gsm -> Nullable<Unsigned<Integer>>,
        /// WCDMA cells.
        wcdma -> Nullable<Unsigned<Integer>>,
        /// LTE cells.
        lte -> Nullable<Unsigned<Integer>>,
        /// 5G NR cells (ichnaea-rs addition).
        nr -> Nullable<Unsigned<Integer>>,
        /// Bluetooth beacons.
        blue -> Nullable<Unsigned<BigInt>>,
        /// WiFi access points.
        wifi -> Nullable<Unsigned<BigInt>>,
    }
}

diesel::table! {
    /// Cumulative daily statistics.
    stat (key, time) {
        /// `StatKey` code.
        key -> TinyInt,
        /// Day.
        time -> Date,
        /// Cumulative total as of that day.
        value -> Nullable<Unsigned<BigInt>>,
    }
}

diesel::table! {
    /// Queue batches already applied (ichnaea-rs addition): the marker that makes the
    /// pipeline's database writes exactly-once although queue delivery is at-least-once.
    pipeline_batch (queue, batch_id) {
        /// The queue the batch came from, e.g. `update_wifi_6`.
        queue -> Varchar,
        /// The batch's id within that queue.
        batch_id -> Unsigned<BigInt>,
        /// When the batch was applied (UTC); old markers are deleted by this.
        processed -> Datetime,
    }
}

/// Calls `$callback!` with the names of every table declared in this module, so tests and
/// maintenance code can iterate over the whole schema without repeating the list.
#[macro_export]
macro_rules! for_each_table {
    ($callback:ident) => {
        $callback!(
            alembic_version,
            api_key,
            export_config,
            cell_gsm,
            cell_wcdma,
            cell_lte,
            cell_nr,
            wifi_shard_0,
            wifi_shard_1,
            wifi_shard_2,
            wifi_shard_3,
            wifi_shard_4,
            wifi_shard_5,
            wifi_shard_6,
            wifi_shard_7,
            wifi_shard_8,
            wifi_shard_9,
            wifi_shard_a,
            wifi_shard_b,
            wifi_shard_c,
            wifi_shard_d,
            wifi_shard_e,
            wifi_shard_f,
            blue_shard_0,
            blue_shard_1,
            blue_shard_2,
            blue_shard_3,
            blue_shard_4,
            blue_shard_5,
            blue_shard_6,
            blue_shard_7,
            blue_shard_8,
            blue_shard_9,
            blue_shard_a,
            blue_shard_b,
            blue_shard_c,
            blue_shard_d,
            blue_shard_e,
            blue_shard_f,
            cell_area,
            datamap_ne,
            datamap_nw,
            datamap_se,
            datamap_sw,
            region_stat,
            stat,
            pipeline_batch
        )
    };
}
