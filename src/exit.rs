//! Process exit codes, shared by every command (see the README).

use std::process::ExitCode;

/// Outcome of a command, mapped to the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything passed.
    Passed,
    /// 1: the run worked but an assertion failed.
    AssertionFailed,
    /// 2: the scenario (or the command line) is invalid.
    Invalid,
    /// 3: infrastructure or runtime failure.
    Failure,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Passed => 0,
            Exit::AssertionFailed => 1,
            Exit::Invalid => 2,
            Exit::Failure => 3,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}
