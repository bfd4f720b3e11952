//! System tests: the deployment's binaries as processes (`ichnaea_system_tests`).

mod assets;
mod deployment;
