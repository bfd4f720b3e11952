//! Integration tests of the database layer against a real MySQL/MariaDB server.

mod api_key;
mod migrations;
mod pools;
mod schema;
