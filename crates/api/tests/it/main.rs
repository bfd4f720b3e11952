//! HTTP tests of the real actix application against real MySQL and Redis.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic when their setup fails"
)]

mod dockerflow;
mod fallback;
mod helpers;
mod locate;
mod process;
mod submit;
