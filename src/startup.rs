//! The one start-up step every command shares (`check`, `check --offline`, `run`, `once`, `backfill`,
//! `migrate`, `status`): the validated settings, then everything that needs the machine — the default
//! credential chain walked, secret files and the phone-number hash key read. A problem here is a
//! configuration problem (exit 2) named like the settings' own, so `check --offline` refuses what `run`
//! would. Reaching the database and CCC is left to the commands.

use std::cell::OnceCell;
use std::path::Path;

use crate::archive::Target;
use crate::ccc::CredentialProvider;
use crate::ccc::credentials::chain::{self, Found, NotFound};
use crate::ccc::credentials::read_secret;
use crate::config::{
    self, ConfigError, DatabaseSettings, HASH_KEY_FIX, HashKey, Settings, SourceCredentials,
    SourceSettings, WarehouseSettings,
};
use crate::pii::PhoneNumbers;
use crate::problem::{ConfigProblem, Problems};

/// The settings with what start-up found for them.
#[derive(Debug, Clone)]
pub struct Ready {
    pub settings: Settings,
    /// One per configured source, in the configuration's order.
    pub sources: Vec<ReadySource>,
    /// The recording archive's target, opened, when `[recordings]` turns it on.
    pub archive: Option<Target>,
}

/// A source with its credentials found and the warehouse's phone-number treatment: all a client needs.
#[derive(Debug, Clone)]
pub struct ReadySource {
    pub settings: SourceSettings,
    pub credentials: CredentialProvider,
    pub phone_numbers: PhoneNumbers,
}

impl ReadySource {
    /// A source that names its own keys (the demo's and the bench's, on the simulator), phone numbers
    /// kept raw. `None` for one that leaves its keys to the default chain, which only [`prepare`] walks.
    pub fn with_own_keys(settings: SourceSettings) -> Option<ReadySource> {
        Some(ReadySource {
            credentials: settings.credentials.named()?,
            settings,
            phone_numbers: PhoneNumbers::Raw,
        })
    }
}

/// Loads and validates the configuration at `path` under `env`, then [`prepare`]s it.
pub fn load(path: &Path, env: &[(String, String)]) -> Result<Ready, ConfigError> {
    let settings = config::load(path, env)?;
    prepare(settings, env).map_err(|problems| ConfigError::Invalid {
        path: path.display().to_string(),
        problems,
    })
}

/// Walks the default credential chain over `env` (once, for every source that names no keys, so they
/// share one cache of temporary credentials), checks that secret files can be read, and reads the
/// phone-number hash key. Reports every problem at once.
pub(crate) fn prepare(
    settings: Settings,
    env: &[(String, String)],
) -> Result<Ready, Vec<ConfigProblem>> {
    let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut p = Problems::default();
    let mut settings = settings;
    database_password(&mut settings.database, &mut p);
    let phone_numbers = phone_numbers(&settings.warehouse, &mut p);
    let default_chain = OnceCell::new();
    let mut sources = Vec::new();
    for (i, source) in settings.sources.iter().enumerate() {
        let key = |k: &str| format!("sources[{i}].{k}");
        let credentials = match &source.credentials {
            SourceCredentials::DefaultChain => {
                from_chain(default_chain.get_or_init(|| walk(&lookup)), &key, &mut p)
            }
            SourceCredentials::Files {
                secret_file,
                token_file,
                ..
            } => {
                readable(&key("access_key_secret_file"), secret_file, &mut p);
                if let Some(token_file) = token_file {
                    readable(&key("security_token_file"), token_file, &mut p);
                }
                source.credentials.named()
            }
            SourceCredentials::Keys { .. } => source.credentials.named(),
        };
        if let (Some(credentials), Some(phone_numbers)) = (credentials, &phone_numbers) {
            sources.push(ReadySource {
                settings: source.clone(),
                credentials,
                phone_numbers: phone_numbers.clone(),
            });
        }
    }
    let archive = settings
        .recordings
        .as_ref()
        .and_then(|recordings| Target::open(recordings, env, &mut p));
    if p.is_empty() {
        Ok(Ready {
            settings,
            sources,
            archive,
        })
    } else {
        Err(p.0)
    }
}

/// The chain's verdict, logged when it found something (where, and the AccessKey id when known).
fn walk(env: &dyn Fn(&str) -> Option<String>) -> Result<Found, NotFound> {
    let resolved = chain::resolve(env);
    if let Ok(found) = &resolved {
        tracing::info!(
            credentials = %found.origin,
            access_key_id = found.provider.access_key_id().unwrap_or("(fetched on first use)"),
            "Credentials found by the default chain"
        );
    }
    resolved
}

fn from_chain(
    verdict: &Result<Found, NotFound>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<CredentialProvider> {
    match verdict {
        Ok(found) => Some(found.provider.clone()),
        Err(NotFound::Nothing { looked_at }) => {
            p.add(
                key("access_key_id"),
                "(missing)",
                &format!("no credentials in the source, and the default chain found none ({})", looked_at.join("; ")),
                "set access_key_id + access_key_secret_file, or ALIBABA_CLOUD_ACCESS_KEY_ID + ALIBABA_CLOUD_ACCESS_KEY_SECRET, or run where an OIDC role (ALIBABA_CLOUD_ROLE_ARN), a CLI or INI profile, or an ECS RAM role (ALIBABA_CLOUD_ECS_METADATA) provides them",
            );
            None
        }
        Err(NotFound::Problem(problem)) => {
            p.push_once(problem.clone());
            None
        }
    }
}

/// A secret file must be readable and non-empty now; it is read again for every request, so a rotated
/// secret is picked up.
fn readable(key: &str, path: &Path, p: &mut Problems) {
    if let Err(e) = read_secret(path) {
        p.add(
            key,
            format!("{:?}", path.display().to_string()),
            &e.detail,
            "point it at a non-empty file ccc-sync can read (a mounted secret or a systemd credential), or correct the path",
        );
    }
}

/// Reads `database.password_file` into the connection options. Only line endings are trimmed: a password
/// may begin or end with a space.
fn database_password(database: &mut DatabaseSettings, p: &mut Problems) {
    let Some(file) = &database.password_file else {
        return;
    };
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let password = text.trim_end_matches(['\r', '\n']);
            database.connect = database.connect.clone().password(password);
        }
        Err(e) => p.add(
            "database.password_file",
            format!("{:?}", file.display().to_string()),
            &format!("cannot be read ({e})"),
            "point it at a file holding only the database password, readable by the daemon's user",
        ),
    }
}

/// The warehouse's phone-number treatment, with the key read from its file.
fn phone_numbers(w: &WarehouseSettings, p: &mut Problems) -> Option<PhoneNumbers> {
    let key = match &w.phone_number_hash_key {
        None => None,
        Some(HashKey::Inline(key)) => Some(key.clone()),
        Some(HashKey::File(path)) => match read_secret(path) {
            Ok(key) => Some(key),
            Err(e) => {
                p.add(
                    "warehouse.phone_number_hash_key_file",
                    format!("{:?}", path.display().to_string()),
                    &e.detail,
                    "point it at a non-empty file ccc-sync can read, holding the key",
                );
                return None;
            }
        },
    };
    PhoneNumbers::new(w.phone_numbers, key)
        .map_err(|e| {
            p.add(
                "warehouse.phone_number_hash_key_file",
                "[REDACTED]",
                &e.to_string(),
                HASH_KEY_FIX,
            );
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{env, keys};
    use crate::pii::PhoneNumberMode;

    const MINIMAL: &str = r#"
[database]
url = "postgres://postgres@127.0.0.1:5432/postgres"

[[sources]]
name = "agent-1912"
instance_id = "9cfad875-6260-4a53-ab6e-b13e3fb31f7d"
"#;

    /// Loads `text` with `files` (name, contents) beside it; `{dir}` in the text is that folder.
    fn load_with(
        text: &str,
        files: &[(&str, &str)],
        env: &[(String, String)],
    ) -> Result<Ready, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, contents) in files {
            std::fs::write(dir.path().join(name), contents).expect("write");
        }
        let path = dir.path().join("ccc-sync.toml");
        let text = text.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(&path, text).expect("write");
        load(&path, env)
    }

    fn problems(
        text: &str,
        files: &[(&str, &str)],
        env: &[(String, String)],
    ) -> Vec<ConfigProblem> {
        match load_with(text, files, env) {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn the_database_password_is_read_from_its_file_and_a_missing_file_is_named() {
        let with_file = MINIMAL.replace(
            "[database]\n",
            "[database]\npassword_file = \"{dir}/password\"\n",
        );
        let ready =
            load_with(&with_file, &[("password", " PW-hunter2\r\n")], &keys()).expect("valid");
        let url = sqlx::ConnectOptions::to_url_lossy(&ready.settings.database.connect);
        assert_eq!(url.password(), Some("%20PW%2Dhunter2"));
        assert!(!format!("{ready:?}").contains("hunter2"));

        let found = problems(&with_file, &[], &keys());
        assert!(
            found.iter().any(|p| p.key == "database.password_file"),
            "{found:?}"
        );
    }

    #[test]
    fn keyless_sources_take_the_default_chain_and_share_it() {
        let two = format!("{MINIMAL}\n[[sources]]\nname = \"agent-2\"\ninstance_id = \"i\"\n");
        let ready = load_with(&two, &[], &keys()).expect("ready");
        assert_eq!(ready.sources.len(), 2);
        assert!(
            ready
                .sources
                .iter()
                .all(|s| s.credentials.access_key_id() == Some("LTAI-id"))
        );
    }

    #[test]
    fn a_source_without_credentials_anywhere_is_told_where_to_put_them() {
        let found = problems(MINIMAL, &[], &[]);
        assert!(found.iter().any(|p| p.key == "sources[0].access_key_id"
            && p.fix.contains("ALIBABA_CLOUD_ACCESS_KEY_ID")));
    }

    #[test]
    fn a_secret_file_that_cannot_be_read_is_named_with_its_key() {
        let text = format!(
            "{MINIMAL}access_key_id = \"LTAI-f\"\naccess_key_secret_file = \"{{dir}}/missing\"\n\n[[sources]]\nname = \"b\"\ninstance_id = \"i\"\naccess_key_id = \"LTAI-b\"\naccess_key_secret_file = \"{{dir}}/empty\"\nsecurity_token_file = \"{{dir}}\"\n"
        );
        let found = problems(&text, &[("empty", "\n")], &[]);
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sources[0].access_key_secret_file",
                "sources[1].access_key_secret_file",
                "sources[1].security_token_file"
            ]
        );
        assert!(found[0].problem.contains("cannot read it"), "{}", found[0]);
        assert!(found[1].problem.contains("empty"), "{}", found[1]);
        assert!(found[0].fix.contains("readable") || found[0].fix.contains("can read"));

        let ready = load_with(
            &text
                .replace("/missing", "/secret")
                .replace("security_token_file = \"{dir}\"\n", ""),
            &[("secret", "s\n"), ("empty", "e")],
            &[],
        )
        .expect("ready");
        assert_eq!(ready.sources[0].credentials.access_key_id(), Some("LTAI-f"));
    }

    #[test]
    fn the_hash_key_is_read_from_its_file_and_checked_for_length() {
        let hashed = format!(
            "{MINIMAL}\n[warehouse]\nphone_numbers = \"hashed\"\nphone_number_hash_key_file = \"{{dir}}/key\"\n"
        );
        let ready = load_with(
            &hashed,
            &[("key", &format!("{}\n", "k".repeat(40)))],
            &keys(),
        )
        .expect("ready");
        assert_eq!(
            ready.sources[0].phone_numbers.mode(),
            PhoneNumberMode::Hashed
        );
        let short = problems(&hashed, &[("key", "short")], &keys());
        assert_eq!(short[0].key, "warehouse.phone_number_hash_key_file");
        assert!(short[0].problem.contains("at least"), "{}", short[0]);
        let missing = problems(&hashed, &[], &keys());
        assert_eq!(missing[0].key, "warehouse.phone_number_hash_key_file");
        assert!(
            missing[0].problem.contains("cannot read it"),
            "{}",
            missing[0]
        );
        let shown = format!("{short:?} {missing:?}");
        assert!(
            !shown.contains("short\""),
            "the key is never shown: {shown}"
        );
    }

    #[test]
    fn every_start_up_problem_is_reported_at_once_with_chain_problems_named_once() {
        let text = format!(
            "{MINIMAL}\n[[sources]]\nname = \"b\"\ninstance_id = \"i\"\n\n[warehouse]\nphone_numbers = \"hashed\"\nphone_number_hash_key_file = \"{{dir}}/missing\"\n"
        );
        let found = problems(
            &text,
            &[],
            &env(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-half")]),
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "warehouse.phone_number_hash_key_file",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
            ]
        );
    }
}
