//! `ichnaea-tiles`: the coverage map renderer (not built yet; see the library docs).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The ichnaea-rs coverage map tile renderer.
#[derive(Debug, Parser)]
#[command(name = "ichnaea-tiles", version)]
struct Cli {
    /// Optional TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    eprintln!("ichnaea-tiles: {}", ichnaea_tiles::NOT_BUILT);
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
