//! What a source syncs, and each action's dialect: its name and version, its parameter names, how it orders
//! and its documented limits. One signer, one error taxonomy and the same tolerant parsing serve all three.
//!
//! | `api` | action | version | sees |
//! |---|---|---|---|
//! | `agent` | `ListRecentCallRecords` | 2017-07-05 | the calls of the agent whose keys sign |
//! | `instance` | `ListCallDetailRecords` | 2017-07-05 | every call of a CCC 1.0 instance |
//! | `ccc2` | `ListCallDetailRecords` | 2020-07-01 | every call of a CCC 2.0 instance |

use std::time::Duration;

/// The list action a source pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Agent,
    Instance,
    Ccc2,
}

/// API version 2017-07-05 (CCC 1.0).
pub const VERSION_2017: &str = "2017-07-05";
/// API version 2020-07-01 (CCC 2.0).
pub const VERSION_2020: &str = "2020-07-01";

/// One `ListCallDetailRecords` query of 2.0 reaches at most 100 pages of 100 records.
pub const CCC2_MAX_PAGE_NUMBER: u32 = 100;
/// 2017 `ListCallDetailRecords` serves at most 7 days per query.
pub const INSTANCE_MAX_WINDOW: Duration = Duration::from_secs(7 * 86_400);

impl Api {
    pub const ALL: [Api; 3] = [Api::Agent, Api::Instance, Api::Ccc2];

    /// The configuration's name for it, which `ccc.calls.api` also records.
    pub fn name(self) -> &'static str {
        match self {
            Api::Agent => "agent",
            Api::Instance => "instance",
            Api::Ccc2 => "ccc2",
        }
    }

    pub fn from_name(name: &str) -> Option<Api> {
        Api::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn action(self) -> &'static str {
        match self {
            Api::Agent => "ListRecentCallRecords",
            Api::Instance | Api::Ccc2 => "ListCallDetailRecords",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Api::Agent | Api::Instance => VERSION_2017,
            Api::Ccc2 => VERSION_2020,
        }
    }

    /// The name of the window's end parameter.
    pub(crate) fn end_param(self) -> &'static str {
        match self {
            Api::Agent | Api::Instance => "StopTime",
            Api::Ccc2 => "EndTime",
        }
    }

    /// Parameters beyond the window and the page: oldest first where the action can order, so that calls
    /// arriving while we page are appended after the pages already read instead of shifting them; and the
    /// recordings with the records where the action can leave them out.
    pub(crate) fn extra_params(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Api::Agent => &[],
            Api::Instance => &[("OrderBy", "ASC"), ("WithRecording", "true")],
            Api::Ccc2 => &[("SortOrder", "ASC")],
        }
    }

    /// The highest page number the service serves for one query, when it has one.
    pub fn default_max_page_number(self) -> Option<u32> {
        match self {
            Api::Ccc2 => Some(CCC2_MAX_PAGE_NUMBER),
            Api::Agent | Api::Instance => None,
        }
    }

    /// The longest window one query may ask for, when the action has a limit.
    pub fn default_max_window(self) -> Option<Duration> {
        match self {
            Api::Instance => Some(INSTANCE_MAX_WINDOW),
            Api::Agent | Api::Ccc2 => None,
        }
    }

    /// Whether its records carry no agent legs and no recordings, which then cost a request each per call.
    pub fn has_call_details(self) -> bool {
        self != Api::Ccc2
    }

    /// Whether this API sees the whole instance rather than one agent's calls. A whole-instance record is
    /// never replaced by an agent's view of the same call.
    pub fn is_whole_instance(self) -> bool {
        self != Api::Agent
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
