//! The runtime control plane: `run --control ADDR` and `mbscenario ctl`.
//!
//! ```text
//!  ctl / curl ──HTTP──▶ api (axum router, bearer auth) ──▶ engine::Steering ──watch──▶ scheduler
//!                          │ GET /status ◀── engine::status (live counts, achieved rates)
//!                          └ GET /openapi.json ◀── openapi (built from the same types)
//! ```
//! - [`addr`]: where to listen; loopback by default, anything else needs a token
//! - [`auth`]: bearer tokens, compared in constant time, never printed
//! - [`api`]: routes and handlers; [`openapi`]: the OpenAPI 3.1 document
//! - `mbscenario ctl …` (the client, with readable output) lives in `ops::ctl`:
//!   it speaks this API's [`wire`] types and knows nothing of clap

pub mod addr;
pub mod api;
pub mod auth;
pub mod openapi;
pub mod wire;

pub use addr::ListenAddr;
pub use auth::Token;
