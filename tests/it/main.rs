//! The integration tests: one binary, real PostgreSQL, real HTTP servers on loopback.

mod cli;
mod credentials;
mod mock;
mod schema;
mod support;
mod sync;
