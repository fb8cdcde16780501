//! The integration tests: one binary, real PostgreSQL, real HTTP servers on loopback.

mod archive;
mod cli;
mod crash;
mod credentials;
mod dashboards;
mod e2e;
mod fuzz;
mod instance;
mod metrics;
mod outage;
mod perf;
mod preflight;
mod proxy;
mod rate;
mod replicas;
mod s3_harness;
mod schema;
mod sdk_conformance;
mod security;
mod simulator;
mod support;
mod sync;
mod truth;
mod warehouse;
