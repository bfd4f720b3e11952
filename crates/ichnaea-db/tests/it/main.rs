//! Integration tests of the database layer against a real MySQL/MariaDB server.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic when their setup fails"
)]

mod api_key;
mod areas;
mod cells;
mod concurrency;
mod convert;
mod datamap;
mod fixtures;
mod locate_reads;
mod markers;
mod migrations;
mod pools;
mod schema;
mod station_batches;
mod stats;
