//! Thin binary: parse the command line, dispatch to `ops`, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use mbscenario::cli::Cli;
use mbscenario::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match mbscenario::ops::dispatch(cli) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Failure.into()
        }
    }
}
