//! `ichnaea-admin`: migrations, API keys, configuration checks. See the library docs.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = ichnaea_admin::Cli::parse();
    let mut out = std::io::stdout();
    match ichnaea_admin::run(cli, &mut out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
