//! A configured source wired to its CCC client and fetcher, ready to sync.

use crate::ccc::{CccClient, CccError, CredentialProvider};
use crate::config::SourceSettings;
use crate::fetcher::Fetcher;
use crate::retry::RetryPolicy;
use crate::startup::ReadySource;

/// A configured source with its client, ready to sync.
#[derive(Clone)]
pub struct Source {
    pub settings: SourceSettings,
    pub credentials: CredentialProvider,
    pub fetcher: Fetcher,
}

impl Source {
    pub fn new(ready: ReadySource) -> Result<Self, CccError> {
        let ReadySource {
            settings,
            credentials,
            phone_numbers,
        } = ready;
        let client = CccClient::new(&settings.client, credentials.clone())?;
        let fetcher = Fetcher::new(
            &settings,
            client,
            RetryPolicy::requests(settings.retry_for),
            phone_numbers,
        );
        Ok(Source {
            settings,
            credentials,
            fetcher,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.settings.name
    }
}
