//! HTTP tests of the real actix application against real MySQL and Redis.

mod dockerflow;
mod helpers;
mod process;
