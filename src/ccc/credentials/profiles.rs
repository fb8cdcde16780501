//! The two profile files the official SDKs read, parsed: the Aliyun CLI's `~/.aliyun/config.json` and
//! the SDKs' INI `credentials.ini`. Pure: text in, the profile's credentials (or a problem) out.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{Credentials, json_error};
use crate::problem::ConfigProblem;

/// What a profile names, before endpoints are attached.
#[derive(Debug)]
pub(super) enum Profile {
    Keys(Credentials),
    EcsRamRole {
        role: Option<String>,
    },
    Oidc {
        role_arn: String,
        oidc_provider_arn: String,
        token_file: PathBuf,
        session_name: Option<String>,
        sts_region: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
struct CliConfig {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<CliProfile>,
}

/// The CLI writes every field, most of them `""`; an empty field counts as absent.
#[derive(Debug, Deserialize)]
struct CliProfile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    access_key_id: Option<String>,
    access_key_secret: Option<SecretString>,
    sts_token: Option<SecretString>,
    ram_role_name: Option<String>,
    ram_role_arn: Option<String>,
    ram_session_name: Option<String>,
    oidc_provider_arn: Option<String>,
    oidc_token_file: Option<String>,
    sts_region: Option<String>,
}

const CLI_MODES: &str = "AK, StsToken, EcsRamRole or OIDC";

/// The profile `wanted` (else the file's `current`, else `default`) of an Aliyun CLI config: `None` when
/// the file has no such profile, a problem when the profile cannot be used.
pub(super) fn cli_profile(
    text: &str,
    wanted: Option<&str>,
    path: &Path,
) -> Result<Option<(String, Profile)>, ConfigProblem> {
    let config: CliConfig = serde_json::from_str(text).map_err(|e| ConfigProblem {
        key: path.display().to_string(),
        value: "(file)".into(),
        problem: format!("is {}", json_error(&e)),
        fix: "repair it with `aliyun configure`, or set ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true to skip it".into(),
    })?;
    let name = wanted
        .or(Some(config.current.as_str()).filter(|c| !c.is_empty()))
        .unwrap_or("default");
    let Some(p) = config.profiles.into_iter().find(|p| p.name == name) else {
        return Ok(None);
    };
    let problem = |field: &str, value: &str, problem: &str, fix: String| ConfigProblem {
        key: format!("{} profiles[{name:?}].{field}", path.display()),
        value: value.to_owned(),
        problem: problem.to_owned(),
        fix,
    };
    let required = |field: &str, value: Option<String>| {
        given(value).ok_or_else(|| {
            problem(
                field,
                "(missing)",
                &format!("is required with mode {}", p.mode),
                format!("run `aliyun configure --profile {name} --mode {}`", p.mode),
            )
        })
    };
    let secret = |field: &str, value: Option<SecretString>| {
        value
            .filter(|s| !s.expose_secret().is_empty())
            .ok_or_else(|| {
                problem(
                    field,
                    "(missing)",
                    &format!("is required with mode {}", p.mode),
                    format!("run `aliyun configure --profile {name} --mode {}`", p.mode),
                )
            })
    };
    let profile = match p.mode.as_str() {
        "AK" => Profile::Keys(Credentials {
            access_key_id: required("access_key_id", p.access_key_id.clone())?,
            access_key_secret: secret("access_key_secret", p.access_key_secret.clone())?,
            security_token: None,
        }),
        "StsToken" => Profile::Keys(Credentials {
            access_key_id: required("access_key_id", p.access_key_id.clone())?,
            access_key_secret: secret("access_key_secret", p.access_key_secret.clone())?,
            security_token: Some(secret("sts_token", p.sts_token.clone())?),
        }),
        "EcsRamRole" => Profile::EcsRamRole {
            role: given(p.ram_role_name.clone()),
        },
        "OIDC" => Profile::Oidc {
            role_arn: required("ram_role_arn", p.ram_role_arn.clone())?,
            oidc_provider_arn: required("oidc_provider_arn", p.oidc_provider_arn.clone())?,
            token_file: required("oidc_token_file", p.oidc_token_file.clone())?.into(),
            session_name: given(p.ram_session_name.clone()),
            sts_region: given(p.sts_region.clone()),
        },
        other => {
            return Err(problem(
                "mode",
                &format!("{other:?}"),
                "is not supported by ccc-sync",
                format!(
                    "use a profile of mode {CLI_MODES} (ALIBABA_CLOUD_PROFILE picks one), or set access_key_id and access_key_secret_file in the source"
                ),
            ));
        }
    };
    Ok(Some((name.to_owned(), profile)))
}

const INI_TYPES: &str = "access_key or ecs_ram_role";

/// Section `section` of an SDK credentials file: `None` when the file has no such section, a problem
/// when the section cannot be used.
pub(super) fn ini_profile(
    text: &str,
    section: &str,
    path: &Path,
) -> Result<Option<Profile>, ConfigProblem> {
    let ini = ini::Ini::load_from_str_noescape(text).map_err(|e| ConfigProblem {
        key: path.display().to_string(),
        value: "(file)".into(),
        problem: format!("is not an INI file ({e})"),
        fix:
            "write it as [default] then type = access_key, access_key_id = …, access_key_secret = …"
                .into(),
    })?;
    let Some(props) = ini.section(Some(section)) else {
        return Ok(None);
    };
    let problem = |field: &str, value: &str, problem: &str, fix: &str| ConfigProblem {
        key: format!("{} [{section}] {field}", path.display()),
        value: value.to_owned(),
        problem: problem.to_owned(),
        fix: fix.to_owned(),
    };
    let get = |field: &str| props.get(field).map(str::trim).filter(|v| !v.is_empty());
    let required = |field: &str| {
        get(field).ok_or_else(|| {
            problem(
                field,
                "(missing)",
                "is required with type = access_key",
                &format!("add {field} = … to the section"),
            )
        })
    };
    match get("type") {
        Some("access_key") => Ok(Some(Profile::Keys(Credentials {
            access_key_id: required("access_key_id")?.to_owned(),
            access_key_secret: SecretString::from(required("access_key_secret")?),
            security_token: None,
        }))),
        Some("ecs_ram_role") => Ok(Some(Profile::EcsRamRole {
            role: get("role_name").map(str::to_owned),
        })),
        other => Err(problem(
            "type",
            &format!("{:?}", other.unwrap_or("")),
            "is not supported by ccc-sync",
            &format!(
                "use type = {INI_TYPES} (ALIBABA_CLOUD_PROFILE picks the section), or set access_key_id and access_key_secret_file in the source"
            ),
        )),
    }
}

fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ccc::credentials::same_secret;

    const CLI: &str = r#"{
  "current": "work",
  "profiles": [
    {"name": "default", "mode": "AK", "access_key_id": "LTAI-default", "access_key_secret": "sec-default",
     "sts_token": "", "ram_role_name": "", "ram_role_arn": "", "region_id": "cn-shanghai", "output_format": "json"},
    {"name": "work", "mode": "StsToken", "access_key_id": "STS.work", "access_key_secret": "sec-work",
     "sts_token": "tok-work", "region_id": "cn-shanghai"},
    {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": ""},
    {"name": "rrsa", "mode": "OIDC", "ram_role_arn": "acs:ram::1:role/r", "oidc_provider_arn": "acs:ram::1:oidc-provider/p",
     "oidc_token_file": "/var/run/token", "ram_session_name": "", "sts_region": "cn-hangzhou"},
    {"name": "chained", "mode": "ChainableRamRoleArn", "source_profile": "default"},
    {"name": "broken", "mode": "AK", "access_key_id": "LTAI-broken", "access_key_secret": ""}
  ],
  "meta_path": ""
}"#;

    fn cli(wanted: Option<&str>) -> Result<Option<(String, Profile)>, ConfigProblem> {
        cli_profile(CLI, wanted, Path::new("/home/u/.aliyun/config.json"))
    }

    #[test]
    fn the_cli_current_profile_is_used_unless_one_is_named() {
        let (name, profile) = cli(None).expect("usable").expect("present");
        assert_eq!(name, "work");
        let Profile::Keys(c) = profile else {
            panic!("StsToken gives keys: {profile:?}")
        };
        assert_eq!(c.access_key_id, "STS.work");
        assert!(same_secret(&c.access_key_secret, "sec-work"));
        assert!(same_secret(
            c.security_token.as_ref().expect("token"),
            "tok-work"
        ));

        let (name, profile) = cli(Some("default")).expect("usable").expect("present");
        assert_eq!(name, "default");
        assert!(
            matches!(profile, Profile::Keys(c) if c.access_key_id == "LTAI-default" && c.security_token.is_none())
        );
    }

    #[test]
    fn cli_role_profiles_become_ecs_and_oidc_roles() {
        let (_, ecs) = cli(Some("ecs")).expect("usable").expect("present");
        assert!(
            matches!(ecs, Profile::EcsRamRole { role: None }),
            "an empty role name means: ask the instance"
        );
        let (_, oidc) = cli(Some("rrsa")).expect("usable").expect("present");
        let Profile::Oidc {
            role_arn,
            token_file,
            session_name,
            sts_region,
            ..
        } = oidc
        else {
            panic!("OIDC: {oidc:?}")
        };
        assert_eq!(role_arn, "acs:ram::1:role/r");
        assert_eq!(token_file, Path::new("/var/run/token"));
        assert_eq!(session_name, None);
        assert_eq!(sts_region.as_deref(), Some("cn-hangzhou"));
    }

    #[test]
    fn a_cli_profile_that_is_absent_is_skipped_and_one_that_is_unusable_is_a_problem() {
        assert!(cli(Some("nobody")).expect("usable").is_none());
        let unsupported = cli(Some("chained")).expect_err("unsupported");
        assert!(unsupported.key.ends_with("profiles[\"chained\"].mode"));
        assert_eq!(unsupported.value, "\"ChainableRamRoleArn\"");
        assert!(unsupported.fix.contains("StsToken"), "{}", unsupported.fix);
        let broken = cli(Some("broken")).expect_err("no secret");
        assert!(broken.key.ends_with(".access_key_secret"), "{}", broken.key);
        let garbled =
            cli_profile("{\"profiles\": [", None, Path::new("/c.json")).expect_err("json");
        assert_eq!(garbled.key, "/c.json");
    }

    #[test]
    fn a_cli_file_without_current_falls_back_to_default() {
        let text = r#"{"profiles":[{"name":"default","mode":"AK","access_key_id":"LTAI-d","access_key_secret":"s"}]}"#;
        let (name, _) = cli_profile(text, None, Path::new("/c.json"))
            .expect("usable")
            .expect("present");
        assert_eq!(name, "default");
    }

    const INI: &str = "
; written by hand
[default]
type = access_key
access_key_id = LTAI-ini
access_key_secret = sec\\ini

[ecs]
type = ecs_ram_role
role_name = ccc-sync-role

[bearer]
type = bearer
bearer_token = t
";

    fn ini(section: &str) -> Result<Option<Profile>, ConfigProblem> {
        ini_profile(
            INI,
            section,
            Path::new("/home/u/.alibabacloud/credentials.ini"),
        )
    }

    #[test]
    fn an_ini_access_key_section_gives_keys_verbatim() {
        let Some(Profile::Keys(c)) = ini("default").expect("usable") else {
            panic!("keys")
        };
        assert_eq!(c.access_key_id, "LTAI-ini");
        assert!(
            same_secret(&c.access_key_secret, "sec\\ini"),
            "no escape processing"
        );
    }

    #[test]
    fn ini_sections_name_an_ecs_role_or_are_refused_by_type() {
        assert!(matches!(
            ini("ecs").expect("usable"),
            Some(Profile::EcsRamRole { role: Some(r) }) if r == "ccc-sync-role"
        ));
        assert!(ini("absent").expect("usable").is_none());
        let refused = ini("bearer").expect_err("unsupported");
        assert!(refused.key.ends_with("[bearer] type"), "{}", refused.key);
        assert_eq!(refused.value, "\"bearer\"");
        let incomplete = ini_profile(
            "[default]\ntype = access_key\naccess_key_id = x\n",
            "default",
            Path::new("/c.ini"),
        )
        .expect_err("no secret");
        assert_eq!(incomplete.key, "/c.ini [default] access_key_secret");
    }
}
