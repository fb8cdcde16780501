//! Each action's own parameters, validated into a query the server can answer: `ListRecentCallRecords` and
//! `ListCallDetailRecords` (2017-07-05), `ListCallDetailRecords`, `GetCallDetailRecord` and
//! `ListMonoRecordings` (2020-07-01), and the recording links: `DownloadRecording` (2017-07-05) and
//! `GetMonoRecording` (2020-07-01). The limits a client must split its windows around are configurable
//! ([`Limits`]) so tests can force splitting cheaply.
//!
//! Guesses: absent or 0 times default to today 00:00 Asia/Shanghai and now in every list, as `ccc-api.md`
//! documents for 1.0; a `ContactId` in a list ignores the window in both versions (the 2.0 docs say so,
//! the 1.0 docs only say "one call"); `WithRecording` is `true` or `false` in any case; `ExpireSeconds` is
//! a whole number of seconds from 1 to 604,800 (OSS's longest signed URL, 7 days).

use super::gateway::{Params, Route};
use super::response::ApiError;
use super::store::{Order, Slice, Window};
use super::world::{Wanted, World, shanghai_midnight_ms};

/// The most records one page may hold, in every list.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The service's limits that shape how a client pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `ListCallDetailRecords` 2020-07-01: the highest `PageNumber`.
    pub max_page_number: u32,
    /// `ListCallDetailRecords` 2017-07-05: the longest `StartTime`..`StopTime` window, in ms.
    pub max_window_ms: i64,
}

/// One request's own parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionQuery {
    Recent(ListQuery),
    Instance(InstanceQuery),
    Ccc2List(Ccc2ListQuery),
    Detail(CallQuery),
    Mono(CallQuery),
    Download(FileQuery),
    OneMono(MonoQuery),
}

impl ActionQuery {
    /// Validates `route`'s parameters as of the data clock's `now_ms` (which fills default windows).
    pub fn parse(
        route: Route,
        params: &Params,
        world: &World,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<ActionQuery, ApiError> {
        Ok(match route {
            Route::RecentCallRecords => ActionQuery::Recent(ListQuery::parse(params, world)?),
            Route::InstanceCallRecords => {
                ActionQuery::Instance(InstanceQuery::parse(params, world, limits, now_ms)?)
            }
            Route::CallDetailRecords => {
                ActionQuery::Ccc2List(Ccc2ListQuery::parse(params, world, limits)?)
            }
            Route::CallDetailRecord => {
                ActionQuery::Detail(CallQuery::parse(params, world, now_ms)?)
            }
            Route::MonoRecordings => ActionQuery::Mono(CallQuery::parse(params, world, now_ms)?),
            Route::DownloadRecording => ActionQuery::Download(FileQuery::parse(params, world)?),
            Route::MonoRecording => ActionQuery::OneMono(MonoQuery::parse(params, world, now_ms)?),
        })
    }

    /// The `PageNumber` of a list (scripted page faults replace pages by number).
    pub fn page_number(&self) -> Option<u32> {
        match self {
            ActionQuery::Recent(q) => Some(q.page_number),
            ActionQuery::Instance(q) => Some(q.page.number),
            ActionQuery::Ccc2List(q) => Some(q.page.number),
            ActionQuery::Detail(_)
            | ActionQuery::Mono(_)
            | ActionQuery::Download(_)
            | ActionQuery::OneMono(_) => None,
        }
    }
}

/// `ListRecentCallRecords`' own parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub instance: usize,
    pub page_number: u32,
    pub page_size: u32,
    pub start_ms: Option<i64>,
    pub stop_ms: Option<i64>,
}

impl ListQuery {
    fn parse(params: &Params, world: &World) -> Result<ListQuery, ApiError> {
        let instance_id = params.required("InstanceId")?;
        let page_number = params.required("PageNumber")?;
        let page_size = params.required("PageSize")?;
        let page_number = page_number
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::invalid_parameter("PageNumber"))?;
        let page_size = page_size
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| ApiError::invalid_parameter("PageSize"))?;
        let start_ms = epoch_ms(params, "StartTime")?;
        let stop_ms = epoch_ms(params, "StopTime")?;
        let instance = find_instance(world, instance_id)?;
        Ok(ListQuery {
            instance,
            page_number,
            page_size,
            start_ms,
            stop_ms,
        })
    }

    /// The `StartTime` window as of `now_ms`: 0 or absent mean today 00:00 Asia/Shanghai and now.
    pub fn window(&self, now_ms: i64) -> Window {
        window(self.start_ms, self.stop_ms, now_ms)
    }

    pub fn skip(&self) -> usize {
        (self.page_number as usize - 1).saturating_mul(self.page_size as usize)
    }
}

/// A page of an instance admin's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
    pub order: Order,
}

impl Page {
    /// `PageNumber` (at least 1, at most `max`) and `PageSize` (1..=100), both required.
    fn parse(params: &Params, max_number: Option<u32>) -> Result<Page, ApiError> {
        let number = params.required("PageNumber")?;
        let size = params.required("PageSize")?;
        let max = max_number.unwrap_or(u32::MAX);
        let number = number
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| match max_number {
                Some(max) => ApiError::invalid_parameter_because(
                    "PageNumber",
                    &format!("PageNumber must be between 1 and {max}"),
                ),
                None => ApiError::invalid_parameter("PageNumber"),
            })?;
        let size = size
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_parameter_because(
                    "PageSize",
                    &format!("PageSize must be between 1 and {MAX_PAGE_SIZE}"),
                )
            })?;
        Ok(Page {
            number,
            size,
            order: Order::NewestFirst,
        })
    }

    pub fn slice(&self) -> Slice {
        Slice {
            order: self.order,
            skip: (self.number as usize - 1).saturating_mul(self.size as usize),
            take: self.size as usize,
        }
    }

    /// `TotalCount` as the whole-instance lists fill it: on page 1 only, 0 on later pages.
    pub fn total_count(&self, total: usize) -> usize {
        if self.number == 1 { total } else { 0 }
    }
}

/// `ListCallDetailRecords` 2017-07-05's own parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceQuery {
    pub instance: usize,
    pub page: Page,
    pub start_ms: Option<i64>,
    pub stop_ms: Option<i64>,
    pub with_recording: bool,
    pub contact_id: Option<String>,
}

impl InstanceQuery {
    fn parse(
        params: &Params,
        world: &World,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<InstanceQuery, ApiError> {
        let instance_id = params.required("InstanceId")?;
        let mut page = Page::parse(params, None)?;
        let start_ms = epoch_ms(params, "StartTime")?;
        let stop_ms = epoch_ms(params, "StopTime")?;
        let w = window(start_ms, stop_ms, now_ms);
        if w.to_ms.saturating_sub(w.from_ms) > limits.max_window_ms {
            let limit = std::time::Duration::from_millis(limits.max_window_ms.unsigned_abs());
            return Err(ApiError::invalid_parameter_because(
                "StopTime",
                &format!(
                    "StopTime may be at most {} ({} ms) after StartTime",
                    humantime::format_duration(limit),
                    limits.max_window_ms
                ),
            ));
        }
        page.order = order(params, "OrderBy", Order::OldestFirst)?;
        let with_recording = match params.get("WithRecording") {
            None | Some("") => true,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err(ApiError::invalid_parameter("WithRecording")),
        };
        Ok(InstanceQuery {
            instance: find_instance(world, instance_id)?,
            page,
            start_ms,
            stop_ms,
            with_recording,
            contact_id: contact_id(params),
        })
    }

    pub fn wanted(&self, now_ms: i64) -> Wanted<'_> {
        Wanted {
            window: window(self.start_ms, self.stop_ms, now_ms),
            slice: self.page.slice(),
            contact_id: self.contact_id.as_deref(),
        }
    }
}

/// `ListCallDetailRecords` 2020-07-01's own parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ccc2ListQuery {
    pub instance: usize,
    pub page: Page,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub contact_id: Option<String>,
}

impl Ccc2ListQuery {
    fn parse(params: &Params, world: &World, limits: &Limits) -> Result<Ccc2ListQuery, ApiError> {
        let instance_id = params.required("InstanceId")?;
        let mut page = Page::parse(params, Some(limits.max_page_number))?;
        let start_ms = epoch_ms(params, "StartTime")?;
        let end_ms = epoch_ms(params, "EndTime")?;
        page.order = order(params, "SortOrder", Order::NewestFirst)?;
        Ok(Ccc2ListQuery {
            instance: find_instance(world, instance_id)?,
            page,
            start_ms,
            end_ms,
            contact_id: contact_id(params),
        })
    }

    pub fn wanted(&self, now_ms: i64) -> Wanted<'_> {
        Wanted {
            window: window(self.start_ms, self.end_ms, now_ms),
            slice: self.page.slice(),
            contact_id: self.contact_id.as_deref(),
        }
    }
}

/// `GetCallDetailRecord`'s and `ListMonoRecordings`' parameters: one visible call of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallQuery {
    pub instance: usize,
    pub contact_id: String,
}

impl CallQuery {
    fn parse(params: &Params, world: &World, now_ms: i64) -> Result<CallQuery, ApiError> {
        let instance_id = params.required("InstanceId")?;
        let contact_id = params.required("ContactId")?;
        let instance = find_instance(world, instance_id)?;
        world
            .call(instance, contact_id, now_ms)
            .ok_or_else(|| ApiError::contact_not_found(contact_id))?;
        Ok(CallQuery {
            instance,
            contact_id: contact_id.to_owned(),
        })
    }
}

/// `DownloadRecording`'s parameters: one file of one instance, by name (whether it exists is the answer's
/// business: a missing file is `NotExist.Record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileQuery {
    pub instance: usize,
    pub file_name: String,
}

impl FileQuery {
    fn parse(params: &Params, world: &World) -> Result<FileQuery, ApiError> {
        let instance_id = params.required("InstanceId")?;
        let file_name = params.required("FileName")?;
        Ok(FileQuery {
            instance: find_instance(world, instance_id)?,
            file_name: file_name.to_owned(),
        })
    }
}

/// The longest `ExpireSeconds` `GetMonoRecording` accepts: 7 days.
pub const MAX_EXPIRE_SECONDS: u32 = 604_800;

/// `GetMonoRecording`'s parameters: one visible call, and how long its link should live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonoQuery {
    pub call: CallQuery,
    pub expire_seconds: Option<u32>,
}

impl MonoQuery {
    fn parse(params: &Params, world: &World, now_ms: i64) -> Result<MonoQuery, ApiError> {
        let call = CallQuery::parse(params, world, now_ms)?;
        let expire_seconds = match params.get("ExpireSeconds") {
            None | Some("") => None,
            Some(text) => Some(
                text.parse::<u32>()
                    .ok()
                    .filter(|s| (1..=MAX_EXPIRE_SECONDS).contains(s))
                    .ok_or_else(|| {
                        ApiError::invalid_parameter_because(
                            "ExpireSeconds",
                            &format!("ExpireSeconds must be between 1 and {MAX_EXPIRE_SECONDS}"),
                        )
                    })?,
            ),
        };
        Ok(MonoQuery {
            call,
            expire_seconds,
        })
    }
}

fn find_instance(world: &World, instance_id: &str) -> Result<usize, ApiError> {
    world
        .instance_index(instance_id)
        .ok_or_else(|| ApiError::instance_not_found(instance_id))
}

fn contact_id(params: &Params) -> Option<String> {
    params
        .get("ContactId")
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// `ASC` or `DESC` (any case); absent or empty is `default`.
fn order(params: &Params, name: &str, default: Order) -> Result<Order, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("ASC") => Ok(Order::OldestFirst),
        Some(v) if v.eq_ignore_ascii_case("DESC") => Ok(Order::NewestFirst),
        Some(_) => Err(ApiError::invalid_parameter(name)),
    }
}

/// A window as of `now_ms`: an absent start is today 00:00 Asia/Shanghai, an absent end is now.
fn window(start_ms: Option<i64>, end_ms: Option<i64>, now_ms: i64) -> Window {
    Window {
        from_ms: start_ms.unwrap_or_else(|| shanghai_midnight_ms(now_ms)),
        to_ms: end_ms.unwrap_or(now_ms),
    }
}

/// An optional epoch-ms parameter; absent, empty and 0 all mean "the default".
fn epoch_ms(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(0) => Ok(None),
            Ok(ms) if ms > 0 => Ok(Some(ms)),
            _ => Err(ApiError::invalid_parameter(name)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(encoded: &str) -> Params {
        let mut p = Params::default();
        p.extend_from_encoded(encoded);
        p
    }

    #[test]
    fn zero_and_absent_times_mean_the_defaults_and_junk_is_invalid() {
        let p = params("StartTime=0&StopTime=&Bad=-5&Worse=12a");
        assert_eq!(epoch_ms(&p, "StartTime"), Ok(None));
        assert_eq!(epoch_ms(&p, "StopTime"), Ok(None));
        assert_eq!(epoch_ms(&p, "Absent"), Ok(None));
        assert_eq!(
            epoch_ms(&p, "Bad").expect_err("negative").code,
            "InvalidParameter"
        );
        assert!(epoch_ms(&p, "Worse").is_err());
    }

    #[test]
    fn pages_are_bounded_and_their_errors_name_the_parameter() {
        let ok = Page::parse(&params("PageNumber=100&PageSize=100"), Some(100)).expect("ok");
        assert_eq!(ok.slice().skip, 9_900);
        for (query, name) in [
            ("PageNumber=101&PageSize=10", "PageNumber"),
            ("PageNumber=0&PageSize=10", "PageNumber"),
            ("PageNumber=1&PageSize=101", "PageSize"),
            ("PageNumber=1&PageSize=0", "PageSize"),
        ] {
            let e = Page::parse(&params(query), Some(100)).expect_err(query);
            assert_eq!(e.code, "InvalidParameter", "{query}");
            assert!(e.message.contains(name), "{query}: {}", e.message);
        }
        let unbounded = Page::parse(&params("PageNumber=5000&PageSize=1"), None);
        assert!(unbounded.is_ok());
        let first = Page { number: 1, ..ok };
        assert_eq!(first.total_count(7), 7);
        assert_eq!(ok.total_count(7), 0, "page 100");
    }

    #[test]
    fn orders_default_per_action_and_read_any_case() {
        assert_eq!(
            order(&params(""), "OrderBy", Order::OldestFirst),
            Ok(Order::OldestFirst)
        );
        assert_eq!(
            order(&params("SortOrder=asc"), "SortOrder", Order::NewestFirst),
            Ok(Order::OldestFirst)
        );
        assert_eq!(
            order(&params("OrderBy=DESC"), "OrderBy", Order::OldestFirst),
            Ok(Order::NewestFirst)
        );
        assert!(order(&params("OrderBy=up"), "OrderBy", Order::OldestFirst).is_err());
    }
}
