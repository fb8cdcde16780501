//! ccc-sync keeps a PostgreSQL warehouse in step with the call records of an Alibaba Cloud Contact Center.
pub mod app;
pub mod ccc;
pub mod config;
pub mod db;
pub mod fetcher;
pub mod retry;
pub mod scheduler;
pub mod telemetry;
pub mod window;
pub mod writer;
