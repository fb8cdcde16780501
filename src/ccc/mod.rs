//! The CCC client: signing ([`signer`]), the wire format ([`wire`]), errors ([`error`]), credentials
//! ([`credentials`]) and the HTTP call ([`client`]).

pub mod client;
pub mod credentials;
pub mod error;
pub mod signer;
pub mod wire;

pub use client::{CccClient, ClientSettings, PageRequest};
pub use credentials::{CredentialProvider, Credentials};
pub use error::CccError;
pub use wire::{AgentLeg, CallRecord, InvalidRecord, ListPage, Recording};
