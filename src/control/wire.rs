//! Request and response bodies of the control API, shared by the server,
//! `ctl` and the OpenAPI document (one set of types, so they cannot drift).

use serde::{Deserialize, Serialize};

use crate::engine::steering::SteeringEvent;
use crate::scenario::model::Mode;

/// A rate: messages per second as a number, or text with units (`250/s`, `15k/min`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RateInput {
    PerSecond(f64),
    Text(String),
}

impl RateInput {
    pub fn per_second(&self) -> Result<f64, String> {
        match self {
            RateInput::PerSecond(r) => Ok(*r),
            RateInput::Text(t) => match crate::scenario::units::parse_rate(t)? {
                crate::scenario::units::RateValue::PerSecond(r) => Ok(r),
                crate::scenario::units::RateValue::Max => {
                    Err("`max` is not a rate an open-model phase can run at; give msgs/s".into())
                }
            },
        }
    }
}

/// `POST /rate`: set the rate (of one stream, or of the phase split by the
/// streams' shares) until the phase ends, or `reset` to the plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
}

/// `POST /workers`: the phase's worker limit until it ends, or `reset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkersRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
}

/// `POST /mode`: delivery mode (of one stream or all) until the phase ends, or `reset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
}

/// `POST /pause`, `/resume`, `/stop`: optionally one stream (not for stop).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
}

/// Answer to an accepted change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Applied {
    pub applied: SteeringEvent,
}

/// Answer to a refused request (4xx) .
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiError {
    pub error: String,
    /// The HTTP status, repeated for clients that only keep the body.
    pub status: u16,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Health {
    pub status: String,
}

/// `GET /ready`: 200 while phases run, 503 before (setup) and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ready {
    pub ready: bool,
    pub state: crate::engine::steering::RunState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_numbers_or_units() {
        let r: RateRequest = serde_json::from_str(r#"{"rate": "15k/min"}"#).unwrap();
        assert_eq!(r.rate.unwrap().per_second().unwrap(), 250.0);
        let r: RateRequest = serde_json::from_str(r#"{"rate": 40, "stream": "cards"}"#).unwrap();
        assert_eq!(r.rate.unwrap().per_second().unwrap(), 40.0);
        assert!(serde_json::from_str::<RateRequest>(r#"{"rat": 40}"#).is_err());
        let m: ModeRequest = serde_json::from_str(r#"{"mode": "direct_sqs"}"#).unwrap();
        assert_eq!(m.mode, Some(Mode::DirectSqs));
    }
}
