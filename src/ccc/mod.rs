//! The CCC client: the wire format ([`wire`]), errors ([`error`]), credentials ([`credentials`]), the signed
//! HTTP call ([`client`]), the name it gives itself (`identity`) and keeping credentials out of what
//! errors say (`redact`). Signature v1 itself is the `ccc-signature` crate, shared with the simulator.

pub mod api;
pub mod client;
pub mod credentials;
pub mod error;
pub(crate) mod identity;
mod redact;
pub mod wire;

pub use api::Api;
pub use client::{CccClient, ClientSettings, PageRequest};
pub use credentials::{CredentialProvider, Credentials};
pub use error::CccError;
pub use wire::{AgentLeg, CallDetail, CallRecord, FileLink, InvalidRecord, ListPage, Recording};
