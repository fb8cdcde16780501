//! The integration tests: one binary, real PostgreSQL, real HTTP servers on loopback.

mod schema;
mod support;
