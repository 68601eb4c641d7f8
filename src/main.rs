//! Thin binary: parse the command line, dispatch to `ops`, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use mbscenario::cli::Cli;

// A profile of `rate: max` against Kafka spent ~26% of the CPU in glibc
// malloc/free (records, JSON values, headers, futures per message);
// mimalloc's thread-local free lists make that path much cheaper
// (BENCHMARKS.md, "Where the time goes").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match mbscenario::ops::dispatch(cli) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            failure.print();
            failure.exit.into()
        }
    }
}
