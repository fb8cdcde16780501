//! Signature v1 (HMAC-SHA1) for the CCC RPC API, as pure functions: no clock, no randomness.
//!
//! The client signs what it sends and the simulator verifies what it receives with the same code, and both
//! are pinned to the official vectors in `tests/fixtures/signature-vectors.json`.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;

/// RFC 3986 unreserved characters stay; everything else is `%XY` with uppercase hex.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `s` the way signature v1 wants: space is `%20`, `*` is `%2A`, `~` stays.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// Joins every parameter except `Signature` as `pe(k)=pe(v)`, sorted by encoded key, with `&`.
///
/// Empty values are kept (`SignatureType=`), as the service signs them too.
pub fn canonical_query<'a, I>(params: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<(String, String)> = params
        .into_iter()
        .filter(|(k, _)| *k != "Signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `METHOD&%2F&pe(canonical)`: the text the HMAC covers, and what the service echoes on a mismatch.
pub fn string_to_sign(method: &str, canonical: &str) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(canonical)
    )
}

/// base64(HMAC-SHA1(secret + "&", string_to_sign)). The one place the secret is exposed.
pub fn sign(secret: &SecretString, string_to_sign: &str) -> String {
    let key = format!("{}&", secret.expose_secret());
    let mut mac =
        Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Signs a parameter set for `method`; returns the string-to-sign (for diagnostics) and the signature.
pub fn sign_params<'a, I>(method: &str, params: I, secret: &SecretString) -> (String, String)
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let sts = string_to_sign(method, &canonical_query(params));
    let signature = sign(secret, &sts);
    (sts, signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeMap;

    fn vectors() -> Vec<Value> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/signature-vectors.json"
        );
        let text = std::fs::read_to_string(path).expect("tests/fixtures is part of the repository");
        let doc: Value = serde_json::from_str(&text).expect("fixture is JSON");
        doc["vectors"].as_array().expect("vectors array").clone()
    }

    fn by_name<'a>(all: &'a [Value], name: &str) -> &'a Value {
        all.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no vector named {name}"))
    }

    /// The parameters a vector signs: its own, those it borrows, its extras, or the union of a wire capture.
    fn params_of(all: &[Value], v: &Value) -> BTreeMap<String, String> {
        let mut params = BTreeMap::new();
        let mut add = |obj: &Value| {
            for (k, val) in obj.as_object().into_iter().flatten() {
                params.insert(k.clone(), val.as_str().expect("string param").to_owned());
            }
        };
        if let Some(base) = v["params_same_as"].as_str() {
            add(&by_name(all, base)["params"]);
        }
        add(&v["params"]);
        add(&v["extra_params"]);
        for part in ["query", "body"] {
            if let Some(text) = v[part].as_str() {
                for pair in text.split('&').filter(|p| !p.is_empty()) {
                    let (k, val) = pair.split_once('=').unwrap_or((pair, ""));
                    params.insert(decode(k), decode(val));
                }
            }
        }
        params
    }

    fn decode(s: &str) -> String {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .expect("utf-8")
            .into_owned()
    }

    #[test]
    fn every_official_vector_yields_its_string_to_sign_and_signature() {
        let all = vectors();
        assert!(
            all.len() >= 8,
            "expected the full vector suite, got {}",
            all.len()
        );
        for v in &all {
            let name = v["name"].as_str().expect("name");
            let params = params_of(&all, v);
            let method = v["method"].as_str().expect("method");
            let secret = SecretString::from(v["secret"].as_str().expect("secret"));
            let canonical = canonical_query(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            if let Some(fragment) = v["canonical_fragment"].as_str() {
                assert!(
                    canonical.contains(fragment),
                    "{name}: canonical {canonical} lacks {fragment}"
                );
            }
            let sts = string_to_sign(method, &canonical);
            if let Some(expected) = v["string_to_sign"].as_str() {
                assert_eq!(sts, expected, "{name}: string to sign");
            }
            assert_eq!(
                sign(&secret, &sts),
                v["signature"].as_str().expect("signature"),
                "{name}"
            );
        }
    }

    #[test]
    fn percent_encoding_follows_rfc3986_not_form_encoding() {
        assert_eq!(percent_encode("a b*c~d-e_f.g"), "a%20b%2Ac~d-e_f.g");
        assert_eq!(
            percent_encode("2024-01-01T00:00:00Z"),
            "2024-01-01T00%3A00%3A00Z"
        );
        assert_eq!(percent_encode("技"), "%E6%8A%80");
    }

    #[test]
    fn empty_values_are_signed_and_the_signature_param_is_not() {
        let canonical = canonical_query([("b", ""), ("Signature", "x"), ("a", "1")]);
        assert_eq!(canonical, "a=1&b=");
    }
}
