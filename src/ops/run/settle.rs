//! Settling after the last phase: how long to wait for arrivals, and the
//! watch that ends the wait when a connector on the path has failed.

use std::time::Duration;

use crate::scenario::Scenario;
use crate::scenario::model::Assertion;

use super::DEFAULT_SETTLE;

/// Polls the connectors applied in setup every 2 s until `give_up` is
/// cancelled; a FAILED connector or task records why (its trace's first
/// line) and cancels it.
pub(super) async fn watch_connectors(
    connect: Option<&crate::infra::connect::ConnectClient>,
    names: &[String],
    why: &std::sync::Mutex<Option<String>>,
    give_up: &tokio_util::sync::CancellationToken,
) {
    let Some(connect) = connect.filter(|_| !names.is_empty()) else {
        return give_up.cancelled().await;
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = give_up.cancelled() => return,
        }
        for name in names {
            if let Ok(Some(status)) = connect.status(name).await
                && let crate::infra::connect::Progressing::Failed { what, trace } =
                    status.assess(crate::scenario::model::ConnectorState::Running)
            {
                let first = trace.lines().next().unwrap_or("no trace").to_string();
                *why.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("connector `{name}` {what} FAILED: {first}"));
                give_up.cancel();
                return;
            }
        }
    }
}

/// The longest `within` of the arrivals assertions (the default without one).
pub(super) fn settle_window(scenario: &Scenario) -> Duration {
    scenario
        .assertions
        .iter()
        .filter_map(|a| match a {
            Assertion::Arrivals { within, .. } => Some(*within),
            _ => None,
        })
        .max()
        .unwrap_or(DEFAULT_SETTLE)
}
