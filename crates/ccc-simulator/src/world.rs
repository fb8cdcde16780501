//! The simulated world the server and the handle share: the instances, the call index behind a lock, and
//! the data clock that decides what is visible (real time by default, manual once a test sets it).

use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};

use super::ccc2;
use super::data::{self, RenderContext, Shape, Slot};
use super::instance;
use super::oss::{RecordingArchive, RecordingFile};
use super::store::{Dataset, Scope, Selection, Slice, Window};

/// The clock the data follows. Gateway checks (the Timestamp window) always use the real clock instead.
#[derive(Debug)]
pub struct DataClock {
    /// Epoch ms set by a test, or [`DataClock::REAL`] to follow the wall clock.
    manual_ms: AtomicI64,
}

impl DataClock {
    const REAL: i64 = i64::MIN;

    pub fn real() -> DataClock {
        DataClock {
            manual_ms: AtomicI64::new(Self::REAL),
        }
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.manual_ms
            .store(t.timestamp_millis().max(Self::REAL + 1), Ordering::SeqCst);
    }

    pub fn now_ms(&self) -> i64 {
        match self.manual_ms.load(Ordering::SeqCst) {
            Self::REAL => Utc::now().timestamp_millis(),
            ms => ms,
        }
    }
}

/// One configured instance.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub agent_ids: Vec<String>,
}

impl Instance {
    /// The scope of a key bound to `agent` (or of an unbound key) in this instance.
    pub fn scope(&self, agent: Option<&str>) -> Scope {
        match agent {
            None => Scope::All,
            Some(a) => self
                .agent_ids
                .iter()
                .position(|id| id == a)
                .map_or(Scope::Nobody, Scope::Agent),
        }
    }
}

/// One page's records, rendered as of the data clock, and how many the whole window holds.
#[derive(Debug)]
pub struct PageData {
    pub total: usize,
    pub records: Vec<data::Record>,
}

/// Which records the ground truth shows: each action's rendering of the same calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TruthView {
    /// `ListRecentCallRecords`' records (the default, and what [`World::truth`] shows).
    #[default]
    Agent,
    /// `ListCallDetailRecords` 2017-07-05's records, with recordings.
    Instance,
    /// Per call, `{"Record", "Detail", "MonoRecordings"}`: the 2020-07-01 list record, the
    /// `GetCallDetailRecord` data and the `ListMonoRecordings` data without `FileUrl`.
    Ccc2,
    /// Per recording file, the archive's [`RecordingFile`]: size, SHA-256, content type, deleted.
    Files,
}

impl TruthView {
    /// `agent`, `instance`, `ccc2` or `files`.
    pub fn parse(name: &str) -> Option<TruthView> {
        match name {
            "agent" => Some(TruthView::Agent),
            "instance" => Some(TruthView::Instance),
            "ccc2" => Some(TruthView::Ccc2),
            "files" => Some(TruthView::Files),
            _ => None,
        }
    }
}

/// The calls an instance admin's list asks for: the `slice` of a window, or of the one call `ContactId`
/// names (which ignores the window).
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub window: Window,
    pub slice: Slice,
    pub contact_id: Option<&'a str>,
}

/// Everything but the network.
#[derive(Debug)]
pub struct World {
    pub seed: u64,
    pub shape: Shape,
    pub write_delay_ms: i64,
    pub instances: Vec<Instance>,
    pub clock: DataClock,
    /// The recording files' sizes, contents and deletions.
    pub archive: RecordingArchive,
    data: RwLock<Dataset>,
}

impl World {
    pub fn new(
        seed: u64,
        shape: Shape,
        write_delay_ms: i64,
        instance_ids: &[String],
        dataset: Dataset,
        archive: RecordingArchive,
    ) -> World {
        World {
            seed,
            shape,
            write_delay_ms,
            instances: instance_ids
                .iter()
                .enumerate()
                .map(|(i, id)| Instance {
                    id: id.clone(),
                    agent_ids: data::agent_ids(i),
                })
                .collect(),
            clock: DataClock::real(),
            archive,
            data: RwLock::new(dataset),
        }
    }

    pub fn instance_index(&self, id: &str) -> Option<usize> {
        self.instances.iter().position(|i| i.id == id)
    }

    /// Generates the live calls that have started by `now_ms`, taking the write lock only when needed.
    fn catch_up(&self, now_ms: i64) {
        let behind = self
            .data
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .needs_extension(now_ms);
        if behind {
            let added = self
                .data
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .extend_to(now_ms);
            tracing::debug!(added, "Live calls arrived");
        }
    }

    fn select(
        &self,
        instance: usize,
        scope: Scope,
        window: Window,
        slice: Slice,
        now_ms: i64,
    ) -> Selection {
        self.catch_up(now_ms);
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        data.store(instance)
            .select(scope, window, slice, now_ms, self.write_delay_ms)
    }

    /// The call of `instance` whose `ContactId` is `contact_id`, if it is visible at `now_ms`.
    pub fn call(&self, instance: usize, contact_id: &str, now_ms: i64) -> Option<Slot> {
        let ordinal = data::ordinal_of(self.seed, contact_id)?;
        self.catch_up(now_ms);
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        data.store(instance)
            .find(ordinal)
            .filter(|s| s.visible_at_ms(self.write_delay_ms) <= now_ms)
    }

    /// The recording file `file_name` of `instance`, if its call (the `ContactId` the name starts with) is
    /// visible at `now_ms` and has it, deleted or not.
    pub fn recording(
        &self,
        instance: usize,
        file_name: &str,
        now_ms: i64,
    ) -> Option<RecordingFile> {
        let contact_id = file_name.split('-').next()?;
        let slot = self.call(instance, contact_id, now_ms)?;
        let ctx = self.context(instance);
        data::record(&ctx, &slot, now_ms)
            .recordings
            .items
            .iter()
            .find(|r| r.file_name == file_name)
            .map(|r| {
                self.archive
                    .file(ctx.instance_id, &r.contact_id, &r.file_name, r.duration)
            })
    }

    /// An instance admin's page as of `now_ms`, each call rendered by `render`, and how many calls the
    /// window (or the `ContactId`) holds.
    pub fn admin_page<R>(
        &self,
        instance: usize,
        wanted: Wanted<'_>,
        now_ms: i64,
        render: impl Fn(&RenderContext<'_>, &Slot) -> R,
    ) -> (usize, Vec<R>) {
        let selection = match wanted.contact_id {
            Some(id) => {
                let found: Vec<Slot> = self.call(instance, id, now_ms).into_iter().collect();
                Selection {
                    total: found.len(),
                    slots: found
                        .into_iter()
                        .skip(wanted.slice.skip)
                        .take(wanted.slice.take)
                        .collect(),
                }
            }
            None => self.select(instance, Scope::All, wanted.window, wanted.slice, now_ms),
        };
        let ctx = self.context(instance);
        let records = selection.slots.iter().map(|s| render(&ctx, s)).collect();
        (selection.total, records)
    }

    pub fn context(&self, instance: usize) -> RenderContext<'_> {
        RenderContext {
            seed: self.seed,
            instance_index: instance,
            instance_id: &self.instances[instance].id,
            write_delay_ms: self.write_delay_ms,
            shape: self.shape,
        }
    }

    /// One page of `ListRecentCallRecords` as of the data clock's `now_ms`.
    pub fn page(
        &self,
        instance: usize,
        agent: Option<&str>,
        window: Window,
        now_ms: i64,
        skip: usize,
        take: usize,
    ) -> PageData {
        let scope = self.instances[instance].scope(agent);
        let selection = self.select(
            instance,
            scope,
            window,
            Slice::newest_first(skip, take),
            now_ms,
        );
        let ctx = self.context(instance);
        PageData {
            total: selection.total,
            records: selection
                .slots
                .iter()
                .map(|slot| data::record(&ctx, slot, now_ms))
                .collect(),
        }
    }

    /// Every record visible at `at_ms` in every instance (scoped to `agent` if given), newest first.
    pub fn truth(&self, at_ms: i64, agent: Option<&str>) -> Vec<serde_json::Value> {
        self.truth_view(at_ms, agent, TruthView::Agent)
    }

    /// [`World::truth`], each call rendered as `view` says.
    pub fn truth_view(
        &self,
        at_ms: i64,
        agent: Option<&str>,
        view: TruthView,
    ) -> Vec<serde_json::Value> {
        let json = |v: Result<serde_json::Value, serde_json::Error>| {
            v.expect("a record serialises to JSON")
        };
        self.visible(at_ms, agent)
            .iter()
            .flat_map(|(i, slot)| {
                let ctx = self.context(*i);
                let one = match view {
                    TruthView::Agent => json(serde_json::to_value(data::record(&ctx, slot, at_ms))),
                    TruthView::Instance => json(serde_json::to_value(instance::record(
                        &ctx, slot, at_ms, true,
                    ))),
                    TruthView::Ccc2 => {
                        let call = ccc2::Call::new(&ctx, slot, at_ms);
                        serde_json::json!({
                            "Record": json(serde_json::to_value(call.list_item())),
                            "Detail": json(serde_json::to_value(call.detail())),
                            "MonoRecordings": json(serde_json::to_value(call.mono_recordings())),
                        })
                    }
                    TruthView::Files => {
                        return self
                            .files_of(&ctx, slot, at_ms)
                            .into_iter()
                            .map(|f| json(serde_json::to_value(f)))
                            .collect::<Vec<_>>();
                    }
                };
                vec![one]
            })
            .collect()
    }

    /// Every recording file of the calls visible at `at_ms` (scoped to `agent` if given), newest call
    /// first. Each file's SHA-256 is computed here, so this reads every byte the links would serve.
    pub fn recording_files(&self, at_ms: i64, agent: Option<&str>) -> Vec<RecordingFile> {
        self.visible(at_ms, agent)
            .iter()
            .flat_map(|(i, slot)| self.files_of(&self.context(*i), slot, at_ms))
            .collect()
    }

    /// Every call visible at `at_ms` in every instance (scoped to `agent` if given), newest first.
    fn visible(&self, at_ms: i64, agent: Option<&str>) -> Vec<(usize, Slot)> {
        let mut all: Vec<(usize, Slot)> = (0..self.instances.len())
            .flat_map(|i| {
                let scope = self.instances[i].scope(agent);
                self.select(i, scope, Window::ALL, Slice::ALL, at_ms)
                    .slots
                    .into_iter()
                    .map(move |s| (i, s))
            })
            .collect();
        all.sort_by_key(|(_, s)| std::cmp::Reverse(s.sort_key()));
        all
    }

    /// The recording files of one call, as the archive holds them.
    fn files_of(&self, ctx: &RenderContext<'_>, slot: &Slot, at_ms: i64) -> Vec<RecordingFile> {
        data::record(ctx, slot, at_ms)
            .recordings
            .items
            .iter()
            .map(|r| {
                self.archive
                    .file(ctx.instance_id, &r.contact_id, &r.file_name, r.duration)
            })
            .collect()
    }

    /// How many calls exist so far (visible or not), for the start-up log.
    pub fn call_count(&self) -> usize {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        data.stores().iter().map(|s| s.len()).sum()
    }
}

/// 00:00 today in Asia/Shanghai (UTC+8 all year), as of `now_ms`: the service's default `StartTime`.
pub fn shanghai_midnight_ms(now_ms: i64) -> i64 {
    let shanghai = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&shanghai);
    now.with_time(NaiveTime::MIN)
        .single()
        .map_or(now_ms, |t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_starts_at_midnight_in_shanghai_not_utc() {
        // 2024-01-01T20:00:00Z is 2024-01-02 04:00 in Shanghai.
        let now = DateTime::parse_from_rfc3339("2024-01-01T20:00:00Z")
            .expect("time")
            .timestamp_millis();
        let midnight = DateTime::parse_from_rfc3339("2024-01-01T16:00:00Z")
            .expect("time")
            .timestamp_millis();
        assert_eq!(shanghai_midnight_ms(now), midnight);
    }

    #[test]
    fn a_manual_clock_stays_where_it_is_put() {
        let clock = DataClock::real();
        let real = clock.now_ms();
        assert!((Utc::now().timestamp_millis() - real).abs() < 5_000);
        let t = DateTime::parse_from_rfc3339("2020-05-05T05:05:05Z")
            .expect("time")
            .to_utc();
        clock.set(t);
        assert_eq!(clock.now_ms(), t.timestamp_millis());
    }

    #[test]
    fn truth_is_scoped_to_the_agent_across_instances() {
        let ids = ["a".to_owned(), "b".to_owned()];
        let world = World::new(
            3,
            Shape::Wrapped,
            5_000,
            &ids,
            Dataset::generate(3, 2_000, 1, 1_700_000_000_000, 2, None),
            RecordingArchive::default(),
        );
        let at = 1_700_000_000_000 + 86_400_000;
        let all = world.truth(at, None);
        assert_eq!(all.len(), 2_000);
        assert!(
            all.iter().any(|r| r["InstanceId"] == "a")
                && all.iter().any(|r| r["InstanceId"] == "b")
        );
        let mine = world.truth(at, Some("1912@ccctest2"));
        assert!(!mine.is_empty());
        for r in &mine {
            assert_eq!(r["InstanceId"], "b");
            let legs = r["Agents"]["CallDetailAgent"].as_array().expect("legs");
            assert!(legs.iter().any(|l| l["AgentId"] == "1912@ccctest2"));
        }
        let keys: Vec<(i64, u64)> = all
            .iter()
            .map(|r| {
                (
                    r["StartTime"].as_i64().expect("ms"),
                    r["ContactId"]
                        .as_str()
                        .expect("id")
                        .parse()
                        .expect("digits"),
                )
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] > w[1]), "newest first");
    }
}
