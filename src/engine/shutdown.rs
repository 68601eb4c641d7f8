//! Stopping a run: stop scheduling at T, let in-flight sends finish until
//! T + grace, and still produce the summary (marked interrupted). A second
//! signal aborts the drain.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct Shutdown {
    /// Cancelled on the first Ctrl-C / SIGTERM (or `/stop`): no new messages.
    pub stop: CancellationToken,
    /// Cancelled on the second signal: stop waiting for in-flight sends.
    pub abort: CancellationToken,
    /// How long in-flight sends may take after a stop.
    pub grace: Duration,
}

impl Shutdown {
    pub fn new(grace: Duration) -> Self {
        Self {
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            grace,
        }
    }

    /// Wires Ctrl-C and SIGTERM: first → stop, second → abort.
    pub fn listen_for_signals(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            for round in 0..2 {
                wait_for_signal().await;
                if round == 0 {
                    crate::say!(
                        "\nstopping: no new messages; waiting up to {} for in-flight sends (Ctrl-C again to abort)",
                        crate::scenario::units::format_duration(this.grace)
                    );
                    this.stop.cancel();
                } else {
                    crate::say!("\naborting: not waiting for in-flight sends");
                    this.abort.cancel();
                }
            }
        });
    }
}

/// The next Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
