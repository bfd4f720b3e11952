//! Integration tests of the database layer against a real MySQL/MariaDB server.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic when their setup fails"
)]

mod api_key;
mod migrations;
mod pools;
mod schema;
