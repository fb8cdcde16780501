//! The scripted mode, for tests that need every byte under their control: instead of the generated history
//! the simulator serves a record set the test sets (and may change at any moment), newest first with real
//! paging. Any simulator also answers chosen pages with a given status and body a given number of times,
//! and refuses STS tokens a test declared expired; a scripted one also remembers which AccessKeyId and
//! SecurityToken signed each request.
//!
//! Scripted records are served exactly as set, whatever they contain: the data clock and the write delay do
//! not apply, and a record without a numeric `StartTime` is in every window, so malformed records reach the
//! client. An agent-bound key sees the records with a leg (`Agents.CallDetailAgent[].AgentId`) of its agent.

use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use super::store::Window;

/// An answer served instead of page `page`, whatever the window, key or instance asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFault {
    /// The `PageNumber` it replaces (1 is the first page).
    pub page: u32,
    /// How many times it is served before the page answers normally again (`u32::MAX`: always).
    pub times: u32,
    /// The HTTP status.
    pub status: u16,
    /// The body, sent verbatim as JSON: an error body, or a damaged page.
    pub body: String,
}

/// The `AccessKeyId` and `SecurityToken` (if any) one request carried.
pub type SignedWith = (String, Option<String>);

/// One page of the scripted records.
#[derive(Debug)]
pub struct ScriptedPage {
    /// How many records the whole window holds.
    pub total: usize,
    pub records: Vec<Value>,
}

/// What a test has scripted so far. No `Debug`: it holds the tokens requests carried.
pub struct Script {
    scripted: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    records: Vec<Value>,
    page_faults: Vec<PageFault>,
    expired_tokens: Vec<String>,
    signed_with: Vec<SignedWith>,
}

impl Script {
    /// `scripted`: serve the records a test sets instead of the generated history, and log who signed.
    pub fn new(scripted: bool) -> Script {
        Script {
            scripted,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the record set.
    ///
    /// # Panics
    /// If the simulator was not started scripted: it would go on serving its generated history.
    pub fn set_records(&self, records: Vec<Value>) {
        assert!(
            self.scripted,
            "records can be set only on a simulator started with SimulatorConfig::scripted"
        );
        self.state().records = records;
    }

    pub fn fail_page(&self, fault: PageFault) {
        self.state().page_faults.push(fault);
    }

    pub fn clear_page_faults(&self) {
        self.state().page_faults.clear();
    }

    pub fn expire_token(&self, token: &str) {
        self.state().expired_tokens.push(token.to_owned());
    }

    /// Who signed each request so far, in order (scripted simulators only; others remember nothing).
    pub fn signed_with(&self) -> Vec<SignedWith> {
        self.state().signed_with.clone()
    }

    /// Notes the credentials a request carried, before any check.
    pub fn note_signer(&self, access_key_id: Option<&str>, security_token: Option<&str>) {
        if self.scripted {
            self.state().signed_with.push((
                access_key_id.unwrap_or_default().to_owned(),
                security_token.map(str::to_owned),
            ));
        }
    }

    /// Whether `token` was declared expired.
    pub fn is_expired(&self, token: Option<&str>) -> bool {
        token.is_some_and(|t| self.state().expired_tokens.iter().any(|e| e == t))
    }

    /// The status and body to answer `page` with instead of the page, counting the answer down.
    pub fn take_page_fault(&self, page: u32) -> Option<(u16, String)> {
        let mut state = self.state();
        let fault = state
            .page_faults
            .iter_mut()
            .find(|f| f.page == page && f.times > 0)?;
        fault.times = fault.times.saturating_sub(1);
        Some((fault.status, fault.body.clone()))
    }

    /// Records `skip .. skip + take` of those in `window` that `agent` sees, newest first; `None` when the
    /// simulator serves its generated history instead.
    pub fn page(
        &self,
        agent: Option<&str>,
        window: Window,
        skip: usize,
        take: usize,
    ) -> Option<ScriptedPage> {
        if !self.scripted {
            return None;
        }
        let state = self.state();
        let mut visible: Vec<&Value> = state
            .records
            .iter()
            .filter(|r| {
                r["StartTime"]
                    .as_i64()
                    .is_none_or(|t| (window.from_ms..=window.to_ms).contains(&t))
            })
            .filter(|r| agent.is_none_or(|a| has_leg_of(r, a)))
            .collect();
        visible.sort_by_key(|r| std::cmp::Reverse(r["StartTime"].as_i64()));
        Some(ScriptedPage {
            total: visible.len(),
            records: visible.into_iter().skip(skip).take(take).cloned().collect(),
        })
    }
}

fn has_leg_of(record: &Value, agent: &str) -> bool {
    record["Agents"]["CallDetailAgent"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|leg| leg["AgentId"] == agent)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(id: &str, start: Value, agents: &[&str]) -> Value {
        let legs: Vec<Value> = agents.iter().map(|a| json!({"AgentId": a})).collect();
        json!({"ContactId": id, "StartTime": start, "Agents": {"CallDetailAgent": legs}})
    }

    fn ids(page: &ScriptedPage) -> Vec<&str> {
        page.records
            .iter()
            .map(|r| r["ContactId"].as_str().expect("id"))
            .collect()
    }

    #[test]
    fn scripted_records_are_paged_newest_first_within_the_window_and_the_agents_scope() {
        let script = Script::new(true);
        script.set_records(vec![
            call("early", json!(1_000), &["a"]),
            call("outside", json!(9_000), &["a"]),
            call("late", json!(3_000), &["b"]),
            call("middle", json!(2_000), &["a", "b"]),
            call("no-time", json!("yesterday"), &["a"]),
        ]);
        let window = Window {
            from_ms: 1_000,
            to_ms: 3_000,
        };

        let first = script.page(None, window, 0, 2).expect("scripted");
        let second = script.page(None, window, 2, 2).expect("scripted");
        let of_a = script.page(Some("a"), window, 0, 10).expect("scripted");

        assert_eq!((first.total, ids(&first)), (4, vec!["late", "middle"]));
        assert_eq!(ids(&second), ["early", "no-time"]);
        assert_eq!(ids(&of_a), ["middle", "early", "no-time"]);
    }

    #[test]
    fn a_page_fault_is_served_as_often_as_asked_and_only_for_its_page() {
        let script = Script::new(false);
        script.fail_page(PageFault {
            page: 2,
            times: 2,
            status: 503,
            body: "busy".into(),
        });

        assert_eq!(script.take_page_fault(1), None);
        assert_eq!(script.take_page_fault(2), Some((503, "busy".into())));
        assert_eq!(script.take_page_fault(2), Some((503, "busy".into())));
        assert_eq!(script.take_page_fault(2), None);
    }

    #[test]
    fn only_a_scripted_simulator_serves_scripted_pages_and_remembers_signers() {
        let generated = Script::new(false);
        generated.note_signer(Some("LTAI"), Some("token"));
        assert!(generated.page(None, Window::ALL, 0, 10).is_none());
        assert!(generated.signed_with().is_empty());

        let scripted = Script::new(true);
        scripted.note_signer(Some("STS.a"), Some("token-a"));
        scripted.note_signer(None, None);
        scripted.expire_token("token-a");
        assert_eq!(
            scripted.signed_with(),
            [
                ("STS.a".to_owned(), Some("token-a".to_owned())),
                (String::new(), None)
            ]
        );
        assert!(scripted.is_expired(Some("token-a")));
        assert!(!scripted.is_expired(Some("token-b")) && !scripted.is_expired(None));
    }
}
