//! ccc-sync keeps a PostgreSQL warehouse in step with the call records of an Alibaba Cloud Contact Center.
pub mod ccc;
pub mod config;
pub mod db;
