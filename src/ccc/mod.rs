//! The CCC client: signing ([`signer`]), the wire format ([`wire`]), errors ([`error`]), credentials
//! ([`credentials`]), the HTTP call ([`client`]) and the name it gives itself ([`identity`]).

pub mod client;
pub mod credentials;
pub mod error;
pub mod identity;
pub mod signer;
pub mod wire;

pub use client::{CccClient, ClientSettings, PageRequest};
pub use credentials::{CredentialProvider, Credentials};
pub use error::CccError;
pub use wire::{AgentLeg, CallRecord, InvalidRecord, ListPage, Recording};
