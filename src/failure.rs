//! The one failure type of the commands: a command that could not do its
//! job returns a [`Failure`] (exit code, message, where, what to do) and
//! `main` prints it once, through the console's secret masking.
//!
//! A command that did its job returns an [`Exit`] instead, even a failing one:
//! a run whose assertions failed (1) or that was interrupted (3) has already
//! said everything in its summary and report.

use std::fmt;

use crate::exit::Exit;

/// Why a command stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    /// Where, e.g. ` --> scenario.yaml:12:7` with the offending line.
    pub location: Option<String>,
    /// What the user can do about it.
    pub help: Option<String>,
}

/// What every command returns.
pub type Outcome = Result<Exit, Failure>;

impl Failure {
    /// The scenario or the command line is wrong (exit 2).
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Invalid, message)
    }

    /// The infrastructure or the runtime failed (exit 3).
    pub fn infra(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Failure, message)
    }

    fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
            location: None,
            help: None,
        }
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Failure {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn at(mut self, location: Option<String>) -> Failure {
        self.location = location;
        self
    }

    /// Prints the failure (error, location, help) on the console.
    pub fn print(&self) {
        crate::say!("{self}");
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(at) = &self.location {
            write!(f, "\n{at}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// Anything unexpected from below (an I/O error with its context chain) is
/// an infrastructure failure.
impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::infra(format!("{e:#}"))
    }
}

/// A setup/teardown step that failed, with the help its service's answer suggests.
impl From<crate::infra::InfraError> for Failure {
    fn from(e: crate::infra::InfraError) -> Failure {
        let help = e.help();
        Failure {
            help,
            ..Failure::infra(e.to_string())
        }
    }
}

/// SQS credentials that could not be resolved stop a run before it starts.
impl From<crate::sink::aws::AwsError> for Failure {
    fn from(e: crate::sink::aws::AwsError) -> Failure {
        Failure::infra(e.to_string())
    }
}

/// A virtual run refused before it starts: the scenario's to change (exit 2).
impl From<crate::ops::virtual_run::VirtualRunError> for Failure {
    fn from(e: crate::ops::virtual_run::VirtualRunError) -> Failure {
        Failure::invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_message_location_and_help_in_order() {
        let f = Failure::invalid("stream `a` cannot generate records")
            .at(Some(" --> s.yaml:3:5".into()))
            .help("fix the override");
        assert_eq!(f.exit, Exit::Invalid);
        assert_eq!(
            f.to_string(),
            "error: stream `a` cannot generate records\n --> s.yaml:3:5\n  = help: fix the override"
        );
        let io: Failure = anyhow::anyhow!("disk full")
            .context("cannot create sink folder out")
            .into();
        assert_eq!(io.exit, Exit::Failure);
        assert_eq!(
            io.to_string(),
            "error: cannot create sink folder out: disk full"
        );
    }

    #[test]
    fn layer_errors_keep_their_exit_codes_and_messages() {
        let aws: Failure = crate::sink::aws::AwsError::NoProvider {
            chain: "the default chain".into(),
        }
        .into();
        assert_eq!(aws.exit, Exit::Failure);
        assert_eq!(
            aws.message,
            "no AWS credentials for SQS (the default chain)"
        );
        let virt: Failure = crate::ops::virtual_run::VirtualRunError::TooLarge(1).into();
        assert_eq!(virt.exit, Exit::Invalid);
    }
}
