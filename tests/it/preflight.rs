//! `check --offline` and the daemon share one start-up step: a table of configurations, good and bad, run
//! through the real binary. Whatever the pre-flight check accepts, `once` accepts; whatever it refuses, it
//! refuses with exit 2, naming the key and the fix, and so does `once`, before touching the database.

use std::path::Path;
use std::process::Output;

use crate::support::{TestDb, ccc};

const SECRET: &str = "Pf7-preflight-SECRET";

const KEYS_IN_A_FILE: &str =
    "access_key_id = \"LTAI-pre\"\naccess_key_secret_file = \"{dir}/secret\"\n";
const KEYS_IN_THE_ENVIRONMENT: &[(&str, &str)] = &[
    ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-pre"),
    ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET),
];

/// One configuration: lines added to its source and a `[warehouse]` table, the environment it runs
/// under, and what must be said when it is refused.
struct Case {
    name: &'static str,
    source: &'static str,
    warehouse: &'static str,
    env: &'static [(&'static str, &'static str)],
    /// `None` when it is good; else the key and a piece of the fix the refusal names.
    refused: Option<(&'static str, &'static str)>,
}

const CASES: &[Case] = &[
    Case {
        name: "keys in a secret file",
        source: KEYS_IN_A_FILE,
        warehouse: "",
        env: &[],
        refused: None,
    },
    Case {
        name: "keys from the default chain",
        source: "",
        warehouse: "",
        env: KEYS_IN_THE_ENVIRONMENT,
        refused: None,
    },
    Case {
        name: "hashed numbers with a key file, days in UTC",
        source: KEYS_IN_A_FILE,
        warehouse: "business_time_zone = \"UTC\"\nphone_numbers = \"hashed\"\nphone_number_hash_key_file = \"{dir}/hash-key\"\n",
        env: &[],
        refused: None,
    },
    Case {
        name: "masked numbers, days in New York",
        source: "access_key_id = \"LTAI-pre\"\naccess_key_secret = \"Pf7-preflight-SECRET\"\n",
        warehouse: "business_time_zone = \"America/New_York\"\nphone_numbers = \"masked\"\n",
        env: &[],
        refused: None,
    },
    Case {
        name: "an abbreviation for the business time zone",
        source: KEYS_IN_A_FILE,
        warehouse: "business_time_zone = \"CST\"\n",
        env: &[],
        refused: Some(("warehouse.business_time_zone", "\"Asia/Shanghai\"")),
    },
    Case {
        name: "a secret file that does not exist",
        source: "access_key_id = \"LTAI-pre\"\naccess_key_secret_file = \"{dir}/no-such-secret\"\n",
        warehouse: "",
        env: &[],
        refused: Some(("sources[0].access_key_secret_file", "correct the path")),
    },
    Case {
        name: "an empty secret file",
        source: "access_key_id = \"LTAI-pre\"\naccess_key_secret_file = \"{dir}/empty\"\n",
        warehouse: "",
        env: &[],
        refused: Some(("sources[0].access_key_secret_file", "non-empty file")),
    },
    Case {
        name: "a hash key file that cannot be read",
        source: KEYS_IN_A_FILE,
        warehouse: "phone_numbers = \"hashed\"\nphone_number_hash_key_file = \"{dir}/a-folder\"\n",
        env: &[],
        refused: Some(("warehouse.phone_number_hash_key_file", "ccc-sync can read")),
    },
    Case {
        name: "a hash key too short",
        source: KEYS_IN_A_FILE,
        warehouse: "phone_numbers = \"hashed\"\nphone_number_hash_key_file = \"{dir}/short-key\"\n",
        env: &[],
        refused: Some(("warehouse.phone_number_hash_key_file", "openssl rand")),
    },
    Case {
        name: "an unknown key",
        source: "lookbak = \"2h\"\naccess_key_id = \"LTAI-pre\"\naccess_key_secret_file = \"{dir}/secret\"\n",
        warehouse: "",
        env: &[],
        refused: Some(("lookbak", "unknown keys are refused")),
    },
    Case {
        name: "half a pair of credential variables",
        source: "",
        warehouse: "",
        env: &[("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-pre")],
        refused: Some((
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "set ALIBABA_CLOUD_ACCESS_KEY_SECRET too",
        )),
    },
    Case {
        name: "an OIDC role whose token file is missing",
        source: "",
        warehouse: "",
        env: &[
            ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"),
            (
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                "acs:ram::1:oidc-provider/p",
            ),
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/nonexistent/token"),
        ],
        refused: Some(("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "correct the path")),
    },
];

/// Writes the case's configuration and the files it may name into `dir`; returns the config's path.
fn write(dir: &Path, db: &TestDb, endpoint: &str, case: &Case) -> std::path::PathBuf {
    std::fs::write(dir.join("secret"), format!("{SECRET}\n")).expect("secret");
    std::fs::write(dir.join("empty"), "\n").expect("empty");
    std::fs::write(dir.join("hash-key"), "k".repeat(40)).expect("hash key");
    std::fs::write(dir.join("short-key"), "short").expect("short key");
    std::fs::create_dir_all(dir.join("a-folder")).expect("folder");
    let warehouse = match case.warehouse {
        "" => String::new(),
        lines => format!("\n[warehouse]\n{lines}"),
    };
    let text = format!(
        "[database]\nurl = \"{url}\"\n\n[[sources]]\nname = \"agent-1\"\ninstance_id = \"inst-1\"\nendpoint = \"{endpoint}\"\nstart_from = \"1h\"\nretry_for = \"1s\"\n{source}{warehouse}",
        url = db.url,
        source = case.source,
    )
    .replace("{dir}", &dir.display().to_string());
    let path = dir.join("ccc-sync.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// Runs the binary off the test's runtime thread (the simulator keeps answering) with exactly `env`.
async fn ccc_sync(config: &Path, command: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["--config".to_owned(), config.display().to_string()];
    args.extend(command.iter().map(ToString::to_string));
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ccc-sync"))
            .args(&args)
            .env_clear()
            .envs(env)
            .output()
            .expect("run ccc-sync")
    })
    .await
    .expect("join")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn every_config_check_offline_accepts_once_accepts_and_every_refusal_names_key_and_fix() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![ccc::key("LTAI-pre", SECRET, None)]).await;

    for case in CASES {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write(dir.path(), &db, &sim.endpoint(), case);
        let runs_before: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.sync_runs")
            .fetch_one(&db.pool)
            .await
            .unwrap_or(0);

        let check = ccc_sync(&config, &["check", "--offline"], case.env).await;
        let once = ccc_sync(&config, &["once"], case.env).await;

        let (checked, ran) = (text(&check), text(&once));
        let name = case.name;
        if check.status.success() {
            assert_ne!(
                once.status.code(),
                Some(2),
                "{name}: check --offline passed it, once refused it:\n{checked}\n{ran}"
            );
        }
        match case.refused {
            None => {
                assert!(check.status.success(), "{name}: {checked}");
                assert!(
                    checked.contains("verdict: configuration valid"),
                    "{name}: {checked}"
                );
                assert!(once.status.success(), "{name}: {ran}");
            }
            Some((key, fix)) => {
                for (command, out, shown) in
                    [("check --offline", &check, &checked), ("once", &once, &ran)]
                {
                    assert_eq!(out.status.code(), Some(2), "{name}, {command}: {shown}");
                    let named = shown.lines().any(|line| {
                        line.contains(key)
                            && line
                                .split_once("Fix:")
                                .is_some_and(|(_, then)| then.contains(fix))
                    });
                    assert!(
                        named,
                        "{name}, {command}: no line names {key} with a fix saying {fix:?}: {shown}"
                    );
                    assert!(
                        !shown.contains(SECRET),
                        "{name}, {command}: the secret leaked"
                    );
                }
                let runs_after: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.sync_runs")
                    .fetch_one(&db.pool)
                    .await
                    .unwrap_or(0);
                assert_eq!(runs_before, runs_after, "{name}: once touched nothing");
            }
        }
    }
}

#[tokio::test]
async fn postgresql_knows_every_time_zone_name_the_configuration_accepts() {
    let db = TestDb::new().await;
    let ours: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();

    let unknown: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM unnest($1::text[]) AS ours(name)
         EXCEPT SELECT name FROM pg_catalog.pg_timezone_names ORDER BY 1",
    )
    .bind(&ours)
    .fetch_all(&db.pool)
    .await
    .expect("compare");

    assert!(ours.len() > 500, "{}", ours.len());
    assert_eq!(unknown, Vec::<String>::new(), "names PostgreSQL refuses");
    for (zone, known) in [("Asia/Shanghai", true), ("CST", false), ("UTC+8", false)] {
        let answer = ccc_sync::db::knows_time_zone(&db.pool, zone)
            .await
            .expect("ask");
        assert_eq!(answer, known, "{zone}");
    }
}
