//! The integration tests, one binary (one link instead of one per file).
//!
//! Each module is one area; files ending in `_it` need the real local stack
//! (`scripts/dev-stack start`) and share it through [`support::stack`].

mod support;

mod avro_connect_it;
mod avro_sink;
mod avro_types;
mod aws_chain_it;
mod broker_restart_it;
mod cli_docs;
mod control_api;
mod control_errors;
mod diagnostics;
mod engine;
mod exit_codes;
mod expr;
mod fail_fast_it;
mod hostile_inputs;
mod http_auth_it;
mod infra_it;
mod kafka_it;
mod kafka_security_it;
mod openapi;
mod overrides_run;
mod pipeline_it;
mod plans;
mod rate_curve;
mod registry;
mod registry_it;
mod replay;
mod reports;
mod sample;
mod seek_it;
mod shards;
mod shards_it;
mod sqs_it;
mod steering;
