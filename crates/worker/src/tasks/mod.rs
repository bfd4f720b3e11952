//! The worker's tasks, one module each, named after the reference's Celery tasks.

pub mod area;
pub mod backup;
pub mod datamap;
pub mod export;
pub mod incoming;
pub mod monitor;
pub mod periodic;
pub mod station;
pub mod stats;
