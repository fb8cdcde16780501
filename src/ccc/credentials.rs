//! AccessKey credentials and where they come from.
//!
//! The secret and the STS token are [`SecretString`]s: their `Debug` prints `[REDACTED]`, and the only
//! place they are exposed is the signer and the request builder.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use super::error::CccError;

/// One set of credentials, ready to sign with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: SecretString,
    /// Present with STS credentials; sent as `SecurityToken`.
    pub security_token: Option<SecretString>,
}

/// Where a source's credentials are read from, each time a request is signed.
#[derive(Debug, Clone)]
pub enum CredentialProvider {
    /// Fixed at start-up (from the config or the environment).
    Static(Credentials),
    /// Files re-read before each pass, so a rotated Kubernetes secret or systemd credential is picked up.
    Files {
        access_key_id: String,
        secret_file: PathBuf,
        token_file: Option<PathBuf>,
    },
}

impl CredentialProvider {
    /// The credentials to sign the next request with.
    pub fn credentials(&self) -> Result<Credentials, CccError> {
        match self {
            CredentialProvider::Static(c) => Ok(c.clone()),
            CredentialProvider::Files {
                access_key_id,
                secret_file,
                token_file,
            } => Ok(Credentials {
                access_key_id: access_key_id.clone(),
                access_key_secret: read_secret(secret_file)?,
                security_token: token_file.as_deref().map(read_secret).transpose()?,
            }),
        }
    }

    /// The AccessKey id, for logs: it is an identifier, not a secret.
    pub fn access_key_id(&self) -> &str {
        match self {
            CredentialProvider::Static(c) => &c.access_key_id,
            CredentialProvider::Files { access_key_id, .. } => access_key_id,
        }
    }
}

/// Reads a secret file, trimming the trailing newline editors and `echo` leave.
pub fn read_secret(path: &std::path::Path) -> Result<SecretString, CccError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CccError::Credentials(format!("cannot read {}: {e}", path.display())))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CccError::Credentials(format!(
            "{} is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(trimmed))
}

/// True when the two secrets are equal; used by tests and the simulator, never logged.
pub fn same_secret(a: &SecretString, b: &str) -> bool {
    a.expose_secret() == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_secret_or_token() {
        let c = Credentials {
            access_key_id: "LTAI-id".into(),
            access_key_secret: SecretString::from("s3cr3t-VALUE"),
            security_token: Some(SecretString::from("sts-TOKEN")),
        };
        let shown = format!("{:?}", CredentialProvider::Static(c));
        assert!(shown.contains("LTAI-id"));
        assert!(!shown.contains("s3cr3t-VALUE"));
        assert!(!shown.contains("sts-TOKEN"));
    }

    #[test]
    fn secret_files_are_trimmed_and_reread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "first\n").expect("write");
        let p = CredentialProvider::Files {
            access_key_id: "id".into(),
            secret_file: path.clone(),
            token_file: None,
        };
        assert!(same_secret(
            &p.credentials().expect("creds").access_key_secret,
            "first"
        ));
        std::fs::write(&path, "second").expect("write");
        assert!(same_secret(
            &p.credentials().expect("creds").access_key_secret,
            "second"
        ));
        std::fs::write(&path, "\n").expect("write");
        assert!(p.credentials().is_err());
    }
}
