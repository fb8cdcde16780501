//! The default credential chain, for a source that names no keys, in the official SDKs' order
//! (`docs/ccc-api.md` §6). The first provider whose inputs are present wins:
//!
//! 1. `ALIBABA_CLOUD_ACCESS_KEY_ID` + `ALIBABA_CLOUD_ACCESS_KEY_SECRET` (+ `ALIBABA_CLOUD_SECURITY_TOKEN`);
//! 2. OIDC / RRSA: `ALIBABA_CLOUD_ROLE_ARN` + `ALIBABA_CLOUD_OIDC_PROVIDER_ARN` + `ALIBABA_CLOUD_OIDC_TOKEN_FILE`;
//! 3. the Aliyun CLI profile in `$HOME/.aliyun/config.json` (`ALIBABA_CLOUD_PROFILE`, else its `current`);
//! 4. the INI file `ALIBABA_CLOUD_CREDENTIALS_FILE`, else `$HOME/.alibabacloud/credentials.ini`
//!    (section `ALIBABA_CLOUD_PROFILE`, else `default`);
//! 5. the ECS RAM role named by `ALIBABA_CLOUD_ECS_METADATA`.
//!
//! Present but unusable inputs (one variable of a pair, a broken profile, a missing token file) are a
//! problem, not a reason to fall through: an operator who set them meant them. The variables, `HOME`
//! included, come from the lookup given to [`resolve`], so tests never touch the process environment.
//! `ALIBABA_CLOUD_STS_ENDPOINT` and `ALIBABA_CLOUD_ECS_METADATA_ENDPOINT` point the token services
//! elsewhere (tests, proxies).

use std::path::{Path, PathBuf};

use chrono::Utc;
use secrecy::SecretString;

use super::profiles::{self, Profile};
use super::{CredentialProvider, Credentials, EcsRamRole, OidcRole, TokenService, ecs, sts};
use crate::problem::ConfigProblem;

pub(crate) const ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub(crate) const ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
pub(crate) const SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
pub(crate) const ROLE_ARN: &str = "ALIBABA_CLOUD_ROLE_ARN";
pub(crate) const OIDC_PROVIDER_ARN: &str = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN";
pub(crate) const OIDC_TOKEN_FILE: &str = "ALIBABA_CLOUD_OIDC_TOKEN_FILE";
pub(crate) const ROLE_SESSION_NAME: &str = "ALIBABA_CLOUD_ROLE_SESSION_NAME";
pub(crate) const STS_REGION: &str = "ALIBABA_CLOUD_STS_REGION";
/// Test and proxy hook: an `http(s)://` URL used instead of the STS endpoint.
pub(crate) const STS_ENDPOINT: &str = "ALIBABA_CLOUD_STS_ENDPOINT";
pub(crate) const PROFILE: &str = "ALIBABA_CLOUD_PROFILE";
pub(crate) const CLI_PROFILE_DISABLED: &str = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED";
pub(crate) const CREDENTIALS_FILE: &str = "ALIBABA_CLOUD_CREDENTIALS_FILE";
pub(crate) const ECS_METADATA: &str = "ALIBABA_CLOUD_ECS_METADATA";
pub(crate) const ECS_METADATA_DISABLED: &str = "ALIBABA_CLOUD_ECS_METADATA_DISABLED";
/// Test and proxy hook: an `http(s)://` URL used instead of `http://100.100.100.200`.
pub(crate) const ECS_METADATA_ENDPOINT: &str = "ALIBABA_CLOUD_ECS_METADATA_ENDPOINT";

/// Credentials the chain found, and where, for the log line that says so.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub provider: CredentialProvider,
    pub origin: String,
}

/// Why the chain found nothing to use.
#[derive(Debug, Clone)]
pub(crate) enum NotFound {
    /// No provider's inputs are present; says where it looked.
    Nothing { looked_at: Vec<String> },
    /// A provider's inputs are present but unusable.
    Problem(ConfigProblem),
}

/// One provider's verdict.
enum Step {
    Found(Found),
    /// Its inputs are absent; what was missing.
    Absent(String),
}

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Walks the chain over `env` (empty values count as unset). Reads the profile files it finds; fetches
/// nothing: temporary credentials are fetched on first use.
pub(crate) fn resolve(env: Env<'_>) -> Result<Found, NotFound> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let steps: [fn(Env<'_>) -> Result<Step, ConfigProblem>; 5] =
        [environment, oidc, cli_profile, ini_profile, ecs_ram_role];
    let mut looked_at = Vec::new();
    for step in steps {
        match step(&var).map_err(NotFound::Problem)? {
            Step::Found(found) => return Ok(found),
            Step::Absent(what) => looked_at.push(what),
        }
    }
    Err(NotFound::Nothing { looked_at })
}

fn environment(var: Env<'_>) -> Result<Step, ConfigProblem> {
    match (var(ACCESS_KEY_ID), var(ACCESS_KEY_SECRET)) {
        (Some(access_key_id), Some(secret)) => Ok(Step::Found(Found {
            origin: format!("environment ({ACCESS_KEY_ID})"),
            provider: CredentialProvider::Static(Credentials {
                access_key_id,
                access_key_secret: SecretString::from(secret),
                security_token: var(SECURITY_TOKEN).map(SecretString::from),
            }),
        })),
        (None, None) => Ok(Step::Absent(format!("{ACCESS_KEY_ID} is unset"))),
        (Some(_), None) => Err(needed(ACCESS_KEY_SECRET, ACCESS_KEY_ID)),
        (None, Some(_)) => Err(needed(ACCESS_KEY_ID, ACCESS_KEY_SECRET)),
    }
}

fn oidc(var: Env<'_>) -> Result<Step, ConfigProblem> {
    let names = [ROLE_ARN, OIDC_PROVIDER_ARN, OIDC_TOKEN_FILE];
    match names.map(var) {
        [Some(role_arn), Some(oidc_provider_arn), Some(token_file)] => {
            let role = oidc_role(
                role_arn,
                oidc_provider_arn,
                PathBuf::from(token_file),
                None,
                None,
                OIDC_TOKEN_FILE,
                var,
            )?;
            Ok(Step::Found(Found {
                origin: format!("OIDC role {} ({ROLE_ARN})", role.role_arn),
                provider: CredentialProvider::temporary(TokenService::Oidc(role)),
            }))
        }
        [None, None, None] => Ok(Step::Absent(format!("{ROLE_ARN} is unset"))),
        values => {
            let first = |set: bool| {
                let at = values.iter().position(|v| v.is_some() == set);
                names[at.unwrap_or_default()]
            };
            Err(needed(first(false), first(true)))
        }
    }
}

fn cli_profile(var: Env<'_>) -> Result<Step, ConfigProblem> {
    if is_true(var(CLI_PROFILE_DISABLED)) {
        return Ok(Step::Absent(format!("{CLI_PROFILE_DISABLED}=true")));
    }
    let Some(path) = in_home(var, ".aliyun/config.json") else {
        return Ok(Step::Absent("HOME is unset".into()));
    };
    if !path.is_file() {
        return Ok(Step::Absent(format!("no {}", path.display())));
    }
    let text = read(&path)?;
    match profiles::cli_profile(&text, var(PROFILE).as_deref(), &path)? {
        None => Ok(Step::Absent(format!(
            "{} lacks the profile asked for",
            path.display()
        ))),
        Some((name, profile)) => Ok(Step::Found(Found {
            provider: profile_provider(
                profile,
                &format!("{} profiles[{name:?}].oidc_token_file", path.display()),
                var,
            )?,
            origin: format!("Aliyun CLI profile {name:?} in {}", path.display()),
        })),
    }
}

fn ini_profile(var: Env<'_>) -> Result<Step, ConfigProblem> {
    let path = match var(CREDENTIALS_FILE) {
        Some(named) if !Path::new(&named).is_file() => {
            return Err(ConfigProblem {
                key: CREDENTIALS_FILE.into(),
                value: format!("{named:?}"),
                problem: "is not a file".into(),
                fix: "point it at an INI credentials file, or unset it".into(),
            });
        }
        Some(named) => PathBuf::from(named),
        None => match in_home(var, ".alibabacloud/credentials.ini") {
            Some(path) if path.is_file() => path,
            Some(path) => return Ok(Step::Absent(format!("no {}", path.display()))),
            None => return Ok(Step::Absent("HOME is unset".into())),
        },
    };
    let section = var(PROFILE).unwrap_or_else(|| "default".into());
    match profiles::ini_profile(&read(&path)?, &section, &path)? {
        None => Ok(Step::Absent(format!(
            "{} has no [{section}]",
            path.display()
        ))),
        Some(profile) => Ok(Step::Found(Found {
            provider: profile_provider(profile, &format!("{} [{section}]", path.display()), var)?,
            origin: format!("profile [{section}] in {}", path.display()),
        })),
    }
}

fn ecs_ram_role(var: Env<'_>) -> Result<Step, ConfigProblem> {
    if is_true(var(ECS_METADATA_DISABLED)) {
        return Ok(Step::Absent(format!("{ECS_METADATA_DISABLED}=true")));
    }
    let Some(role) = var(ECS_METADATA) else {
        return Ok(Step::Absent(format!("{ECS_METADATA} is unset")));
    };
    let role = EcsRamRole {
        role: Some(role),
        endpoint: endpoint(var, ECS_METADATA_ENDPOINT, ecs::DEFAULT_ENDPOINT)?,
    };
    Ok(Step::Found(Found {
        origin: format!("ECS RAM role ({ECS_METADATA})"),
        provider: CredentialProvider::temporary(TokenService::EcsRamRole(role)),
    }))
}

/// A provider for what a profile names; `token_file_key` names where an OIDC token file was given.
fn profile_provider(
    profile: Profile,
    token_file_key: &str,
    var: Env<'_>,
) -> Result<CredentialProvider, ConfigProblem> {
    Ok(match profile {
        Profile::Keys(credentials) => CredentialProvider::Static(credentials),
        Profile::EcsRamRole { role } => {
            CredentialProvider::temporary(TokenService::EcsRamRole(EcsRamRole {
                role,
                endpoint: endpoint(var, ECS_METADATA_ENDPOINT, ecs::DEFAULT_ENDPOINT)?,
            }))
        }
        Profile::Oidc {
            role_arn,
            oidc_provider_arn,
            token_file,
            session_name,
            sts_region,
        } => CredentialProvider::temporary(TokenService::Oidc(oidc_role(
            role_arn,
            oidc_provider_arn,
            token_file,
            session_name,
            sts_region,
            token_file_key,
            var,
        )?)),
    })
}

/// An OIDC role whose token file exists now; the session name and STS region fall back to the environment.
fn oidc_role(
    role_arn: String,
    oidc_provider_arn: String,
    token_file: PathBuf,
    session_name: Option<String>,
    sts_region: Option<String>,
    token_file_key: &str,
    var: Env<'_>,
) -> Result<OidcRole, ConfigProblem> {
    if !token_file.is_file() {
        return Err(ConfigProblem {
            key: token_file_key.to_owned(),
            value: format!("{:?}", token_file.display().to_string()),
            problem: "is not a file".into(),
            fix: "mount the service-account token there (RRSA's pod-identity webhook does this) or correct the path".into(),
        });
    }
    let region = sts_region.or_else(|| var(STS_REGION));
    Ok(OidcRole {
        role_arn,
        oidc_provider_arn,
        token_file,
        session_name: session_name
            .or_else(|| var(ROLE_SESSION_NAME))
            .unwrap_or_else(|| format!("ccc-sync-{}", Utc::now().timestamp())),
        endpoint: endpoint(
            var,
            STS_ENDPOINT,
            &sts::regional_endpoint(region.as_deref()),
        )?,
    })
}

/// The URL in `key`, else `default`; an `http(s)` URL with a host.
fn endpoint(var: Env<'_>, key: &str, default: &str) -> Result<reqwest::Url, ConfigProblem> {
    let text = var(key).unwrap_or_else(|| default.to_owned());
    match reqwest::Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        _ => Err(ConfigProblem {
            key: key.to_owned(),
            value: format!("{text:?}"),
            problem: "is not an http(s) URL".into(),
            fix: format!("write it like \"http://127.0.0.1:8080\", or unset it to use {default}"),
        }),
    }
}

fn needed(unset: &str, set: &str) -> ConfigProblem {
    ConfigProblem {
        key: unset.to_owned(),
        value: "(unset)".into(),
        problem: format!("is needed because {set} is set"),
        fix: format!("set {unset} too, or unset {set}"),
    }
}

fn in_home(var: Env<'_>, relative: &str) -> Option<PathBuf> {
    var("HOME").map(|home| Path::new(&home).join(relative))
}

fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn read(path: &Path) -> Result<String, ConfigProblem> {
    std::fs::read_to_string(path).map_err(|e| ConfigProblem {
        key: path.display().to_string(),
        value: "(file)".into(),
        problem: format!("cannot be read ({e})"),
        fix: "make it readable by ccc-sync".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Home {
        dir: tempfile::TempDir,
        vars: Vec<(String, String)>,
    }

    impl Home {
        fn new() -> Home {
            let dir = tempfile::tempdir().expect("tempdir");
            let home = dir.path().display().to_string();
            Home {
                dir,
                vars: vec![("HOME".into(), home)],
            }
        }

        fn set(mut self, k: &str, v: &str) -> Home {
            self.vars.push((k.into(), v.into()));
            self
        }

        fn file(self, relative: &str, text: &str) -> Home {
            let path = self.dir.path().join(relative);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
            self
        }

        fn path(&self, relative: &str) -> String {
            self.dir.path().join(relative).display().to_string()
        }

        fn resolve(&self) -> Result<Found, NotFound> {
            resolve(&|k: &str| {
                self.vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
            })
        }
    }

    fn found(home: &Home) -> Found {
        home.resolve().expect("found")
    }

    fn problem(home: &Home) -> ConfigProblem {
        match home.resolve() {
            Err(NotFound::Problem(p)) => p,
            other => panic!("expected a problem, got {other:?}"),
        }
    }

    #[test]
    fn environment_keys_come_first_with_their_token() {
        let home = Home::new()
            .set(ACCESS_KEY_ID, "LTAI-env")
            .set(ACCESS_KEY_SECRET, "sec")
            .set(SECURITY_TOKEN, "tok")
            .set(ECS_METADATA, "role");
        let f = found(&home);
        assert_eq!(f.provider.access_key_id(), Some("LTAI-env"));
        assert!(f.origin.contains(ACCESS_KEY_ID));
        let CredentialProvider::Static(c) = f.provider else {
            panic!("static")
        };
        assert!(c.security_token.is_some());
    }

    #[test]
    fn half_a_pair_of_variables_is_a_problem_naming_the_missing_one() {
        let p = problem(&Home::new().set(ACCESS_KEY_ID, "LTAI-env"));
        assert_eq!(p.key, ACCESS_KEY_SECRET);
        assert!(p.fix.contains(ACCESS_KEY_ID));
        let p = problem(&Home::new().set(ROLE_ARN, "acs:ram::1:role/r"));
        assert_eq!(p.key, OIDC_PROVIDER_ARN);
    }

    #[test]
    fn oidc_needs_its_token_file_and_takes_the_region_endpoint() {
        let home = Home::new().file("token", "jwt");
        let token = home.path("token");
        let home = home
            .set(ROLE_ARN, "acs:ram::1:role/r")
            .set(OIDC_PROVIDER_ARN, "acs:ram::1:oidc-provider/p")
            .set(OIDC_TOKEN_FILE, &token)
            .set(STS_REGION, "cn-hangzhou")
            .set(ROLE_SESSION_NAME, "pod-7");
        let CredentialProvider::Temporary(t) = found(&home).provider else {
            panic!("temporary")
        };
        let TokenService::Oidc(role) = &t.service else {
            panic!("oidc")
        };
        assert_eq!(
            role.endpoint.as_str(),
            "https://sts.cn-hangzhou.aliyuncs.com/"
        );
        assert_eq!(role.session_name, "pod-7");
        assert_eq!(role.token_file, Path::new(&token));

        let moved = home.set(OIDC_TOKEN_FILE, "/nonexistent/token");
        assert_eq!(problem(&moved).key, OIDC_TOKEN_FILE);
    }

    #[test]
    fn an_endpoint_override_must_be_an_http_url() {
        let home = Home::new()
            .set(ECS_METADATA, "role")
            .set(ECS_METADATA_ENDPOINT, "100.100.100.200");
        let p = problem(&home);
        assert_eq!(p.key, ECS_METADATA_ENDPOINT);
        assert_eq!(p.value, "\"100.100.100.200\"");
    }

    #[test]
    fn profiles_come_from_home_and_the_cli_file_beats_the_ini_file() {
        let cli = r#"{"current":"default","profiles":[{"name":"default","mode":"AK","access_key_id":"LTAI-cli","access_key_secret":"s"}]}"#;
        let ini = "[default]\ntype = access_key\naccess_key_id = LTAI-ini\naccess_key_secret = s\n[other]\ntype = access_key\naccess_key_id = LTAI-other\naccess_key_secret = s\n";
        let home = Home::new()
            .file(".aliyun/config.json", cli)
            .file(".alibabacloud/credentials.ini", ini);
        assert_eq!(found(&home).provider.access_key_id(), Some("LTAI-cli"));

        let home = home.set(PROFILE, "other");
        let f = found(&home);
        assert_eq!(
            f.provider.access_key_id(),
            Some("LTAI-other"),
            "the CLI file has no profile \"other\", the INI file has"
        );
        assert!(f.origin.contains("[other]"), "{}", f.origin);

        let home = home
            .set(PROFILE, "default")
            .set(CLI_PROFILE_DISABLED, "true");
        assert_eq!(found(&home).provider.access_key_id(), Some("LTAI-ini"));
    }

    #[test]
    fn a_named_credentials_file_must_exist() {
        let p = problem(&Home::new().set(CREDENTIALS_FILE, "/nonexistent/credentials.ini"));
        assert_eq!(p.key, CREDENTIALS_FILE);
    }

    #[test]
    fn with_nothing_present_the_chain_says_where_it_looked() {
        let Err(NotFound::Nothing { looked_at }) = Home::new().resolve() else {
            panic!("nothing")
        };
        assert_eq!(looked_at.len(), 5, "{looked_at:?}");
        assert!(looked_at.iter().any(|l| l.contains(ECS_METADATA)));
        let Err(NotFound::Nothing { .. }) = Home::new()
            .set(ECS_METADATA, "role")
            .set(ECS_METADATA_DISABLED, "TRUE")
            .resolve()
        else {
            panic!("disabled")
        };
    }
}
