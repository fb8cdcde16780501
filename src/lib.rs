//! ccc-sync keeps a PostgreSQL warehouse in step with the call records of an Alibaba Cloud Contact Center.
pub mod app;
pub mod ccc;
pub mod config;
pub mod db;
pub mod events;
pub mod fetcher;
pub mod health;
pub mod lock;
pub mod retry;
pub mod scheduler;
pub mod server;
pub mod telemetry;
pub mod window;
pub mod writer;
