//! A configured source wired to its CCC client and fetcher, ready to sync.

use crate::ccc::{CccClient, CccError};
use crate::config::SourceSettings;
use crate::fetcher::Fetcher;
use crate::retry::RetryPolicy;

/// A configured source with its client, ready to sync.
#[derive(Clone)]
pub struct Source {
    pub settings: SourceSettings,
    pub fetcher: Fetcher,
}

impl Source {
    pub fn new(settings: SourceSettings) -> Result<Self, CccError> {
        let client = CccClient::new(&settings.client, settings.credentials.clone())?;
        let fetcher = Fetcher::new(
            &settings.name,
            &settings.instance_id,
            client,
            settings.max_requests_per_second,
            RetryPolicy::requests(settings.retry_for),
            settings.page_size,
            settings.phone_numbers.clone(),
        );
        Ok(Source { settings, fetcher })
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }
}
