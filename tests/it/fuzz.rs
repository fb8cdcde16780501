//! Property-based fuzzing of everything that reads outside input: the response parser and the config loader.
//!
//! Neither may panic, whatever the bytes. A longer run: `PROPTEST_CASES=100000 cargo test --release --test it fuzz`.

use std::collections::BTreeMap;

use ccc_sync::ccc::wire::{BodyError, parse_error_body, parse_list_body};
use proptest::prelude::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn fixtures() -> Vec<Vec<u8>> {
    [
        "response-wrapped.json",
        "response-flat-docs-sample.json",
        "error-samples.json",
        "error-signature-mismatch.json",
    ]
    .into_iter()
    .map(fixture)
    .collect()
}

/// Any JSON value, nested a few levels, with the field names the parser looks for.
fn json_value() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "ContactId",
        "StartTime",
        "Duration",
        "Agents",
        "CallDetailAgent",
        "Recordings",
        "Recording",
        "Satisfaction",
        "CallingNumber",
        "List",
        "CallDetailRecord",
        "TotalCount",
        "Success",
        "Code",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[0-9]{0,20}".prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(names.clone(), inner, 0..6).prop_map(
                |m: BTreeMap<&str, Value>| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )
            ),
        ]
    })
}

proptest! {
    #[test]
    fn the_parser_never_panics_on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_list_body(&body);
        let _ = parse_error_body(&body);
    }

    #[test]
    fn the_parser_never_panics_on_mutated_fixtures(
        which in 0usize..4,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut body = fixtures().swap_remove(which);
        for (at, byte) in flips {
            let i = at.index(body.len());
            body[i] = byte;
        }
        if truncate {
            body.truncate(cut.index(body.len() + 1));
        }
        let _ = parse_list_body(&body);
        let _ = parse_error_body(&body);
    }

    #[test]
    fn every_record_of_a_page_is_either_parsed_or_kept_as_invalid(items in prop::collection::vec(json_value(), 0..20)) {
        let n = items.len();
        let body = json!({"RequestId": "R", "Success": true, "CallDetailRecords": {"List": {"CallDetailRecord": items}}});
        match parse_list_body(body.to_string().as_bytes()) {
            Ok(page) => prop_assert_eq!(page.records.len() + page.invalid.len(), n),
            Err(BodyError::Malformed(m)) => prop_assert!(false, "a well-formed list was refused: {}", m),
            Err(BodyError::NotSuccess(_)) => prop_assert!(false, "success was not recognised"),
        }
    }

    #[test]
    fn the_config_loader_never_panics(text in "(\\[\\[?[a-z]{0,9}\\]\\]?\n|[a-z_]{1,24} = (\"[^\"\n]{0,20}\"|-?[0-9]{1,12}|true|\\[\\])\n){0,12}",
                                      env in prop::collection::vec(("CCC_SYNC__[A-Z0-9_]{0,30}", ".{0,12}"), 0..4)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, &text).expect("write");
        let _ = ccc_sync::startup::load(&path, &env);
    }
}
