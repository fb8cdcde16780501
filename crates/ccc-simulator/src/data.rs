//! Deterministic call generation: the agent roster, each call's compact skeleton (what paging, visibility and
//! scope need) and its full record, rendered on demand from the same seed so a million calls stay small.
//!
//! Every call is a pure function of `(seed, ordinal, start time)`: its skeleton comes from one random stream,
//! its details (numbers, leg timings, recordings, survey) from another, so rendering a record never needs
//! more than its [`Slot`]. Ordinals follow start time, and the contact id grows with the ordinal, so
//! "StartTime desc, ContactId desc" is simply the reverse of the generation order.

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// Longest call the generator makes; visibility arithmetic relies on it.
pub const MAX_DURATION_S: u32 = 2 * 3600;

/// Agents per instance: four skill groups of six, the first of each group its lead.
pub const ROSTER_SIZE: usize = 24;

const GROUP_SIZE: usize = 6;
const SKILL_GROUPS: [&str; 4] = ["售后技能组", "售前技能组", "投诉技能组", "VIP客户技能组"];
/// The skill groups' ids, `<slug>@<instance id>` as CCC 2.0 writes them (`skg-night-shift@ccc-test`).
const SKILL_GROUP_SLUGS: [&str; 4] = [
    "skg-after-sales",
    "skg-pre-sales",
    "skg-complaints",
    "skg-vip",
];
/// Skill groups by share of the traffic.
const GROUP_LOAD: [(usize, u32); 4] = [(0, 40), (1, 30), (2, 15), (3, 15)];
const AGENT_NAMES: [&str; ROSTER_SIZE] = [
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄丽",
    "周杰",
    "吴敏",
    "徐强",
    "孙悦",
    "马超",
    "朱琳",
    "胡斌",
    "小美🌸",
    "何勇",
    "高翔",
    "林峰",
    "罗敏",
    "郑爽",
    "梁晨",
    "宋佳",
    "谢天",
];
const FIRST_AGENT_NUMBER: usize = 1912;
const HOTLINES: [&str; 3] = ["02566806658", "02566806659", "057187630001"];
const AREA_CODES: [&str; 8] = ["010", "020", "021", "025", "0571", "0755", "0411", "0512"];
const FEEDBACK: [&str; 5] = [
    "客户反馈：\"网速太慢\"",
    "说是\"明天再打\"",
    "附件在 C:\\工单\\备注.txt",
    "好评👍",
    "客户要求回电😊",
];
const EXTRA_ATTR: [&str; 3] = [
    r#"{"orderId":"A2024-0042","vip":true}"#,
    r#"{"note":"回访\"加急\"","path":"\\\\share\\ccc"}"#,
    "来源=小程序🚀",
];
/// Survey keys 1..=5 and what the record says for them (our guess at the service's scale).
const RATINGS: [&str; 5] = ["非常满意", "满意", "一般", "不满意", "非常不满意"];
pub const NOT_SENT: &str = "未发送";
const NOT_RATED: &str = "未评价";

/// How a call came about (`ContactType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactType {
    Inbound,
    Outbound,
    Internal,
    Back2Back,
    PredictiveDial,
    PrivacyDial,
}

impl ContactType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactType::Inbound => "Inbound",
            ContactType::Outbound => "Outbound",
            ContactType::Internal => "Internal",
            ContactType::Back2Back => "Back2Back",
            ContactType::PredictiveDial => "PredictiveDial",
            ContactType::PrivacyDial => "PrivacyDial",
        }
    }
}

/// How a call ended (`ContactDisposition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Success,
    NoAnswer,
    Rejected,
    Busy,
    AbandonedInContactFlow,
    AbandonedInQueue,
    AbandonedRing,
    QueueOverflow,
    OneStepTransfer,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Success => "Success",
            Disposition::NoAnswer => "NoAnswer",
            Disposition::Rejected => "Rejected",
            Disposition::Busy => "Busy",
            Disposition::AbandonedInContactFlow => "AbandonedInContactFlow",
            Disposition::AbandonedInQueue => "AbandonedInQueue",
            Disposition::AbandonedRing => "AbandonedRing",
            Disposition::QueueOverflow => "QueueOverflow",
            Disposition::OneStepTransfer => "OneStepTransfer",
        }
    }

    /// Whether an agent talked to the caller.
    fn answered(self) -> bool {
        matches!(self, Disposition::Success | Disposition::OneStepTransfer)
    }
}

/// What the store keeps per call: 24 bytes, enough to page, scope and decide visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub start_ms: i64,
    /// Position in generation order; seeds the details and makes the contact id.
    pub ordinal: u32,
    pub duration_s: u32,
    pub contact_type: ContactType,
    pub disposition: Disposition,
    n_legs: u8,
    /// Roster indices of the agents with a leg, distinct, in leg order.
    legs: [u8; 3],
}

impl Slot {
    /// Roster indices of the agents with a leg in this call.
    pub fn legs(&self) -> &[u8] {
        &self.legs[..usize::from(self.n_legs)]
    }

    /// When the record is written: the call's end plus the service's write delay.
    pub fn visible_at_ms(&self, write_delay_ms: i64) -> i64 {
        self.start_ms + i64::from(self.duration_s) * 1000 + write_delay_ms
    }

    /// Service order is the reverse of this key: StartTime, then ContactId (which grows with the ordinal).
    pub fn sort_key(&self) -> (i64, u32) {
        (self.start_ms, self.ordinal)
    }
}

/// The digits the service would use as this call's `ContactId`: unique and growing with the ordinal.
pub fn contact_id(seed: u64, ordinal: u32) -> String {
    let jitter = stream_seed(seed, Stream::ContactId, u64::from(ordinal)) % 5;
    (2_030_000_000 + u64::from(ordinal) * 5 + jitter).to_string()
}

/// The ordinal of the call whose `ContactId` is `contact_id`, if one could have it (the inverse of
/// [`contact_id`]; whether that call exists is the store's business).
pub fn ordinal_of(seed: u64, contact_id: &str) -> Option<u32> {
    let digits: u64 = contact_id.parse().ok()?;
    let ordinal = u32::try_from(digits.checked_sub(2_030_000_000)? / 5).ok()?;
    (self::contact_id(seed, ordinal) == contact_id).then_some(ordinal)
}

/// The id of the skill group named `name` in `instance_id`; empty for a name not on the roster.
pub fn skill_group_id(instance_id: &str, name: &str) -> String {
    SKILL_GROUPS
        .iter()
        .position(|g| *g == name)
        .map_or_else(String::new, |i| {
            format!("{}@{instance_id}", SKILL_GROUP_SLUGS[i])
        })
}

/// `SkillGroupNames` turned into the parallel comma list of ids.
pub fn skill_group_ids(instance_id: &str, names: &str) -> String {
    if names.is_empty() {
        return String::new();
    }
    names
        .split(',')
        .map(|n| skill_group_id(instance_id, n))
        .collect::<Vec<_>>()
        .join(",")
}

/// The agent ids of instance number `instance_index` (0-based, in configuration order), e.g. `1912@ccctest`.
pub fn agent_ids(instance_index: usize) -> Vec<String> {
    (0..ROSTER_SIZE)
        .map(|j| agent_id(instance_index, j))
        .collect()
}

fn agent_id(instance_index: usize, j: usize) -> String {
    format!(
        "{}@{}",
        FIRST_AGENT_NUMBER + j,
        instance_alias(instance_index)
    )
}

fn instance_alias(instance_index: usize) -> String {
    match instance_index {
        0 => "ccctest".to_owned(),
        n => format!("ccctest{}", n + 1),
    }
}

/// Where a roster index sits: its skill group, and whether it leads it.
fn group_of(agent: usize) -> usize {
    agent / GROUP_SIZE
}

/// The independent random streams drawn from one seed.
#[derive(Clone, Copy)]
pub enum Stream {
    StartTimes = 1,
    Skeleton = 2,
    Details = 3,
    Instance = 4,
    ContactId = 5,
    Live = 6,
    Survey = 7,
    /// What only CCC 2.0 records say: locations, call ids, release reasons, dialling.
    Ccc2 = 8,
    /// The quality-check ids of CCC 1.0 whole-instance recordings.
    Quality = 9,
}

/// SplitMix64's finaliser: spreads neighbouring seeds over the whole space.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn stream_seed(seed: u64, stream: Stream, n: u64) -> u64 {
    mix(mix(mix(seed) ^ stream as u64) ^ n)
}

pub fn rng(seed: u64, stream: Stream, n: u64) -> SmallRng {
    SmallRng::seed_from_u64(stream_seed(seed, stream, n))
}

fn pick<T: Copy>(rng: &mut SmallRng, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for &(item, weight) in table {
        if roll < weight {
            return item;
        }
        roll -= weight;
    }
    table[table.len() - 1].0
}

/// Call starts for the history: `calls` whole seconds in `[anchor - days, anchor]`, busier in the
/// Shanghai working day, sorted.
pub fn historical_starts(seed: u64, calls: usize, days: u32, anchor_ms: i64) -> Vec<i64> {
    let anchor_s = anchor_ms.div_euclid(1000);
    let span_s = i64::from(days) * 86_400;
    let mut rng = rng(seed, Stream::StartTimes, 0);
    let mut starts = Vec::with_capacity(calls);
    while starts.len() < calls {
        let t = anchor_s - rng.random_range(0..=span_s);
        let shanghai_hour = ((t + 8 * 3600).rem_euclid(86_400) / 3600) as usize;
        if rng.random_range(0..100) < HOURLY_LOAD[shanghai_hour] {
            starts.push(t * 1000);
        }
    }
    starts.sort_unstable();
    starts
}

/// Relative call volume per hour of the day in Asia/Shanghai, out of 100.
const HOURLY_LOAD: [u32; 24] = [
    4, 3, 2, 2, 2, 3, 6, 15, 45, 85, 100, 95, 70, 80, 95, 100, 90, 75, 55, 45, 35, 22, 12, 6,
];

/// Which configured instance a call belongs to.
pub fn instance_of(seed: u64, ordinal: u32, instances: usize) -> usize {
    (stream_seed(seed, Stream::Instance, u64::from(ordinal)) % instances as u64) as usize
}

/// The compact part of a call: type, outcome, duration and the agents with a leg.
pub fn skeleton(seed: u64, ordinal: u32, start_ms: i64) -> Slot {
    use ContactType as T;
    use Disposition as D;
    let mut rng = rng(seed, Stream::Skeleton, u64::from(ordinal));
    let contact_type = pick(
        &mut rng,
        &[
            (T::Inbound, 55),
            (T::Outbound, 32),
            (T::Internal, 6),
            (T::PredictiveDial, 4),
            (T::Back2Back, 2),
            (T::PrivacyDial, 1),
        ],
    );
    let disposition = match contact_type {
        T::Inbound => pick(
            &mut rng,
            &[
                (D::Success, 70),
                (D::AbandonedInContactFlow, 9),
                (D::AbandonedInQueue, 7),
                (D::AbandonedRing, 5),
                (D::NoAnswer, 4),
                (D::QueueOverflow, 3),
                (D::OneStepTransfer, 2),
            ],
        ),
        T::Internal => pick(
            &mut rng,
            &[
                (D::Success, 80),
                (D::NoAnswer, 12),
                (D::Rejected, 5),
                (D::Busy, 3),
            ],
        ),
        _ => pick(
            &mut rng,
            &[
                (D::Success, 55),
                (D::NoAnswer, 24),
                (D::Rejected, 10),
                (D::Busy, 9),
                (D::OneStepTransfer, 2),
            ],
        ),
    };
    let n_legs: usize = match (contact_type, disposition) {
        (T::Inbound, D::Success) => pick(&mut rng, &[(1, 78), (2, 18), (3, 4)]),
        (T::Inbound, D::AbandonedInContactFlow | D::AbandonedInQueue | D::QueueOverflow) => 0,
        (T::Internal, D::Success) => 2,
        (T::PredictiveDial, d) if !d.answered() => 0,
        (T::Outbound | T::Back2Back | T::PrivacyDial, D::Success) => {
            pick(&mut rng, &[(1, 92), (2, 8)])
        }
        _ => 1,
    };
    let mut legs = [0u8; 3];
    for i in 0..n_legs {
        legs[i] = choose_agent(&mut rng, &legs[..i]) as u8;
    }
    let duration_s = duration(&mut rng, contact_type, disposition, n_legs);
    Slot {
        start_ms,
        ordinal,
        duration_s,
        contact_type,
        disposition,
        n_legs: n_legs as u8,
        legs,
    }
}

/// The first agent by skill-group load; later legs are transfers, most often to the group's lead, so
/// agents of one group share calls (the scopes of agent-bound keys overlap).
fn choose_agent(rng: &mut SmallRng, earlier: &[u8]) -> usize {
    let taken = |a: usize| earlier.iter().any(|&e| usize::from(e) == a);
    let candidate = match earlier.first() {
        None => {
            let group = pick(rng, &GROUP_LOAD);
            let member = pick(rng, &[(0, 3), (1, 2), (2, 2), (3, 2), (4, 2), (5, 2)]);
            group * GROUP_SIZE + member
        }
        Some(&first) if rng.random_bool(0.55) => group_of(usize::from(first)) * GROUP_SIZE,
        Some(_) => rng.random_range(0..ROSTER_SIZE),
    };
    // Walk to the next free agent, so legs are always distinct.
    (0..ROSTER_SIZE)
        .map(|step| (candidate + step) % ROSTER_SIZE)
        .find(|&a| !taken(a))
        .unwrap_or(candidate)
}

fn duration(rng: &mut SmallRng, t: ContactType, d: Disposition, legs: usize) -> u32 {
    use Disposition as D;
    let seconds = match d {
        D::AbandonedInContactFlow => rng.random_range(4..=60),
        D::AbandonedInQueue => rng.random_range(15..=300),
        D::QueueOverflow => rng.random_range(30..=180),
        D::AbandonedRing => rng.random_range(20..=90),
        D::NoAnswer if t == ContactType::Inbound => rng.random_range(20..=90),
        D::NoAnswer => rng.random_range(15..=60),
        D::Busy => rng.random_range(2..=15),
        D::Rejected => rng.random_range(2..=25),
        D::Success | D::OneStepTransfer if rng.random_bool(0.006) => {
            rng.random_range(40 * 60..=MAX_DURATION_S)
        }
        D::Success | D::OneStepTransfer => {
            let talk = -rng.random::<f64>().max(1e-9).ln() * 170.0;
            30 + talk as u32 * legs.max(1) as u32
        }
    };
    seconds.clamp(1, MAX_DURATION_S)
}

/// The record's shape: the wrapped wire form every official parser reads, or the flat form of the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Wrapped,
    Flat,
}

/// A list as the chosen shape writes it: `[..]` (flat) or `{"<inner>": [..]}` (wrapped).
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    pub shape: Shape,
    pub inner: &'static str,
    pub items: Vec<T>,
}

impl<T: Serialize> Serialize for Listed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.shape {
            Shape::Flat => self.items.serialize(serializer),
            Shape::Wrapped => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(self.inner, &self.items)?;
                map.end()
            }
        }
    }
}

/// One `CallDetailRecord`, exactly as the API serves it at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub agent_names: String,
    pub agents: Listed<Leg>,
    pub called_number: String,
    pub calling_number: String,
    pub contact_disposition: &'static str,
    pub contact_id: String,
    pub contact_type: &'static str,
    pub duration: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_attr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    pub instance_id: String,
    pub recordings: Listed<RecordingOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<u8>,
    pub satisfaction_desc: &'static str,
    pub skill_group_names: String,
    pub start_time: i64,
}

/// One `CallDetailAgent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Leg {
    pub agent_id: String,
    pub agent_name: &'static str,
    pub contact_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<&'static str>,
    pub hold_time: u32,
    pub queue_time: u32,
    pub ring_time: u32,
    pub satisfaction: &'static str,
    pub skill_group_name: &'static str,
    pub start_time: i64,
    pub talk_time: u32,
    pub work_time: u32,
}

/// One `Recording`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordingOut {
    pub agent_id: String,
    pub agent_name: &'static str,
    pub called_number: String,
    pub calling_number: String,
    pub channel: &'static str,
    pub contact_id: String,
    pub contact_type: &'static str,
    pub duration: u32,
    pub file_description: &'static str,
    pub file_name: String,
    pub file_path: String,
    pub instance_id: String,
    pub start_time: i64,
}

/// What rendering a record needs besides its slot.
#[derive(Debug, Clone)]
pub struct RenderContext<'a> {
    pub seed: u64,
    pub instance_index: usize,
    pub instance_id: &'a str,
    pub write_delay_ms: i64,
    pub shape: Shape,
}

/// The survey as it stands over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Survey {
    NotSent,
    Unrated,
    /// Rated before the record was written.
    Rated(u8),
    /// Rated this long after the record became visible: the record changes then.
    RatedLater(u8, i64),
}

/// Seconds of one agent leg, and where it starts relative to the call.
#[derive(Debug, Clone, Copy, Default)]
struct LegTimes {
    offset_s: u32,
    queue: u32,
    ring: u32,
    talk: u32,
    hold: u32,
}

/// Renders the record of `slot` as the API would serve it at `at_ms`.
pub fn record(ctx: &RenderContext<'_>, slot: &Slot, at_ms: i64) -> Record {
    let mut rng = rng(ctx.seed, Stream::Details, u64::from(slot.ordinal));
    let contact_id = contact_id(ctx.seed, slot.ordinal);
    let customer = customer_number(&mut rng);
    let hotline = HOTLINES[rng.random_range(0..HOTLINES.len())].to_owned();
    let (calling, called) = match slot.contact_type {
        ContactType::Inbound => (customer, hotline),
        ContactType::Internal => {
            let caller = slot.legs().first().map_or(0, |&a| usize::from(a));
            let callee = slot.legs().get(1).map_or_else(
                || (caller + 1 + rng.random_range(0..ROSTER_SIZE - 1)) % ROSTER_SIZE,
                |&a| usize::from(a),
            );
            (
                (FIRST_AGENT_NUMBER + caller).to_string(),
                (FIRST_AGENT_NUMBER + callee).to_string(),
            )
        }
        ContactType::PrivacyDial => (
            format!("170{:08}", rng.random_range(0..100_000_000)),
            customer,
        ),
        _ => (hotline, customer),
    };
    let survey = survey(ctx.seed, slot);
    let visible_at = slot.visible_at_ms(ctx.write_delay_ms);
    let (satisfaction, satisfaction_desc) = match survey {
        Survey::NotSent => (None, NOT_SENT),
        Survey::Unrated => (None, NOT_RATED),
        Survey::Rated(key) => (Some(key), RATINGS[usize::from(key) - 1]),
        Survey::RatedLater(key, after_ms) if at_ms >= visible_at + after_ms => {
            (Some(key), RATINGS[usize::from(key) - 1])
        }
        Survey::RatedLater(..) => (None, NOT_RATED),
    };
    let times = leg_times(&mut rng, slot);
    let mut legs = Vec::with_capacity(times.len());
    let mut recordings = Vec::new();
    for (i, (&agent, t)) in slot.legs().iter().zip(&times).enumerate() {
        let agent = usize::from(agent);
        let leg_start = slot.start_ms + i64::from(t.offset_s) * 1000;
        let agent_id = agent_id(ctx.instance_index, agent);
        let last = i + 1 == times.len();
        legs.push(Leg {
            agent_id: agent_id.clone(),
            agent_name: AGENT_NAMES[agent],
            contact_id: contact_id.clone(),
            feedback: match rng.random_range(0..100) {
                0..60 => None,
                60..95 => Some(""),
                _ => Some(FEEDBACK[rng.random_range(0..FEEDBACK.len())]),
            },
            hold_time: t.hold,
            queue_time: t.queue,
            ring_time: t.ring,
            satisfaction: if last { satisfaction_desc } else { NOT_RATED },
            skill_group_name: SKILL_GROUPS[group_of(agent)],
            start_time: leg_start,
            talk_time: t.talk,
            work_time: if t.talk > 0 {
                rng.random_range(0..=120)
            } else {
                0
            },
        });
        if t.talk >= 5 && recordings.len() < 2 && rng.random_bool(0.8) {
            let talk_start = leg_start + i64::from(t.queue + t.ring) * 1000;
            let file_name = format!(
                "{contact_id}-{}-{}.wav",
                FIRST_AGENT_NUMBER + agent,
                stamp(talk_start)
            );
            recordings.push(RecordingOut {
                agent_id,
                agent_name: AGENT_NAMES[agent],
                called_number: called.clone(),
                calling_number: calling.clone(),
                channel: if rng.random_bool(0.5) {
                    "left"
                } else {
                    "right"
                },
                contact_id: contact_id.clone(),
                contact_type: slot.contact_type.as_str(),
                duration: t.talk + t.hold,
                file_description: if rng.random_bool(0.7) {
                    ""
                } else {
                    "通话录音"
                },
                file_path: format!(
                    "oss://ccc-record-cn-shanghai/{}/{}/{file_name}",
                    ctx.instance_id,
                    day(talk_start)
                ),
                file_name,
                instance_id: ctx.instance_id.to_owned(),
                start_time: talk_start,
            });
        }
    }
    let queued_group = SKILL_GROUPS[pick(&mut rng, &GROUP_LOAD)];
    let skill_group_names = if legs.is_empty() {
        match slot.disposition {
            Disposition::AbandonedInQueue | Disposition::QueueOverflow => queued_group.to_owned(),
            _ => String::new(),
        }
    } else {
        join(legs.iter().map(|l| l.skill_group_name))
    };
    let feedback = match rng.random_range(0..100) {
        0..50 => None,
        50..90 => Some(String::new()),
        _ => Some(FEEDBACK[rng.random_range(0..FEEDBACK.len())].to_owned()),
    };
    let extra_attr = match rng.random_range(0..100) {
        0..60 => None,
        60..85 => Some(String::new()),
        _ => Some(EXTRA_ATTR[rng.random_range(0..EXTRA_ATTR.len())].to_owned()),
    };
    Record {
        agent_names: join(legs.iter().map(|l| l.agent_name)),
        agents: Listed {
            shape: ctx.shape,
            inner: "CallDetailAgent",
            items: legs,
        },
        called_number: called,
        calling_number: calling,
        contact_disposition: slot.disposition.as_str(),
        contact_id,
        contact_type: slot.contact_type.as_str(),
        duration: slot.duration_s,
        extra_attr,
        feedback,
        instance_id: ctx.instance_id.to_owned(),
        recordings: Listed {
            shape: ctx.shape,
            inner: "Recording",
            items: recordings,
        },
        satisfaction,
        satisfaction_desc,
        skill_group_names,
        start_time: slot.start_ms,
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts.collect::<Vec<_>>().join(",")
}

/// A mobile, a mobile dialled with a trunk `0`, or a landline with its area code: often a leading zero.
fn customer_number(rng: &mut SmallRng) -> String {
    match rng.random_range(0..100) {
        0..55 => format!(
            "1{}{:09}",
            [3, 5, 7, 8, 9][rng.random_range(0..5)],
            rng.random_range(0..1_000_000_000)
        ),
        55..65 => format!(
            "01{}{:09}",
            [3, 5, 8][rng.random_range(0..3)],
            rng.random_range(0..1_000_000_000)
        ),
        _ => {
            let area = AREA_CODES[rng.random_range(0..AREA_CODES.len())];
            let local = if area.len() == 3 {
                rng.random_range(20_000_000..90_000_000)
            } else {
                rng.random_range(2_000_000..9_000_000)
            };
            format!("{area}{local}")
        }
    }
}

/// Whether a survey was sent and when it was answered; its own stream, so tests can ask for it.
fn survey(seed: u64, slot: &Slot) -> Survey {
    let rng = &mut rng(seed, Stream::Survey, u64::from(slot.ordinal));
    let send_rate = match (slot.contact_type, slot.disposition) {
        (ContactType::Inbound, Disposition::Success) => 0.65,
        (_, Disposition::Success) if !slot.legs().is_empty() => 0.3,
        _ => 0.0,
    };
    if !rng.random_bool(send_rate) {
        return Survey::NotSent;
    }
    let key = pick(rng, &[(1, 45), (2, 30), (3, 15), (4, 6), (5, 4)]);
    match rng.random_range(0..100) {
        0..35 => Survey::Rated(key),
        35..65 => Survey::RatedLater(key, rng.random_range(60_000..=900_000)),
        _ => Survey::Unrated,
    }
}

/// Splits the call's duration over its legs so every leg fits inside the call.
fn leg_times(rng: &mut SmallRng, slot: &Slot) -> Vec<LegTimes> {
    let n = slot.legs().len();
    if n == 0 {
        return Vec::new();
    }
    let dur = slot.duration_s;
    let inbound = slot.contact_type == ContactType::Inbound;
    let ivr = if inbound {
        rng.random_range(3..=40).min(dur / 4)
    } else {
        0
    };
    let rest = dur - ivr;
    if !slot.disposition.answered() {
        let queue = if inbound {
            rng.random_range(0..=rest / 2)
        } else {
            0
        };
        return vec![LegTimes {
            offset_s: ivr,
            queue,
            ring: rest - queue,
            ..LegTimes::default()
        }];
    }
    if slot.contact_type == ContactType::Internal {
        let ring = rng.random_range(2..=10).min(dur / 2);
        let caller = LegTimes {
            talk: dur,
            ..LegTimes::default()
        };
        let callee = LegTimes {
            ring,
            talk: dur - ring,
            ..LegTimes::default()
        };
        return [caller, callee].into_iter().take(n).collect();
    }
    let mut times: Vec<LegTimes> = (0..n)
        .map(|i| {
            let queue = match (inbound, i) {
                (false, 0) => 0,
                (true, 0) => rng.random_range(0..=90),
                _ => rng.random_range(0..=20),
            };
            let ring = if inbound || i > 0 {
                rng.random_range(2..=12)
            } else {
                0
            };
            LegTimes {
                queue: queue.min(rest / (4 * n as u32)),
                ring: ring.min(rest / (4 * n as u32)),
                ..LegTimes::default()
            }
        })
        .collect();
    let overhead: u32 = times.iter().map(|t| t.queue + t.ring).sum();
    let mut talk_left = rest - overhead;
    let mut offset = ivr;
    for (i, t) in times.iter_mut().enumerate() {
        let span = if i + 1 == n {
            talk_left
        } else {
            talk_left * rng.random_range(2..=6) / 10
        };
        talk_left -= span;
        t.hold = if rng.random_bool(0.2) {
            span * rng.random_range(5..=30) / 100
        } else {
            0
        };
        t.talk = span - t.hold;
        t.offset_s = offset;
        offset += t.queue + t.ring + span;
    }
    times
}

fn stamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y%m%d%H%M%S")
        .to_string()
}

fn day(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y/%m/%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: u64 = 1912;
    const T0: i64 = 1_700_000_000_000;

    fn ctx(shape: Shape) -> RenderContext<'static> {
        RenderContext {
            seed: SEED,
            instance_index: 0,
            instance_id: "inst",
            write_delay_ms: 5_000,
            shape,
        }
    }

    fn slots(n: u32) -> Vec<Slot> {
        (0..n)
            .map(|o| skeleton(SEED, o, T0 + i64::from(o) * 1000))
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_calls_and_another_seed_different_ones() {
        let a: Vec<Record> = slots(200)
            .iter()
            .map(|s| record(&ctx(Shape::Wrapped), s, T0))
            .collect();
        let b: Vec<Record> = slots(200)
            .iter()
            .map(|s| record(&ctx(Shape::Wrapped), s, T0))
            .collect();
        assert_eq!(a, b);
        assert_eq!(
            historical_starts(SEED, 500, 3, T0),
            historical_starts(SEED, 500, 3, T0)
        );
        let other: Vec<Slot> = (0..200).map(|o| skeleton(SEED + 1, o, T0)).collect();
        assert_ne!(
            slots(200).iter().map(|s| s.duration_s).collect::<Vec<_>>(),
            other.iter().map(|s| s.duration_s).collect::<Vec<_>>()
        );
    }

    #[test]
    fn historical_starts_are_sorted_whole_seconds_inside_the_span() {
        let starts = historical_starts(SEED, 2_000, 3, T0 + 123);
        assert_eq!(starts.len(), 2_000);
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
        assert!(starts.iter().all(|s| s % 1000 == 0));
        assert!(
            starts
                .iter()
                .all(|s| (T0 - 3 * 86_400_000..=T0).contains(s))
        );
    }

    #[test]
    fn contact_ids_are_digits_that_grow_with_the_ordinal() {
        let ids: Vec<u64> = (0..1000)
            .map(|o| contact_id(SEED, o).parse().expect("digits"))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn every_contact_type_and_disposition_occurs() {
        let all = slots(20_000);
        for t in [
            "Inbound",
            "Outbound",
            "Internal",
            "Back2Back",
            "PredictiveDial",
            "PrivacyDial",
        ] {
            assert!(all.iter().any(|s| s.contact_type.as_str() == t), "no {t}");
        }
        for d in [
            "Success",
            "NoAnswer",
            "Rejected",
            "Busy",
            "AbandonedInContactFlow",
            "AbandonedInQueue",
            "AbandonedRing",
            "QueueOverflow",
            "OneStepTransfer",
        ] {
            assert!(all.iter().any(|s| s.disposition.as_str() == d), "no {d}");
        }
        for n in 0..=3 {
            assert!(
                all.iter().any(|s| s.legs().len() == n),
                "no call with {n} legs"
            );
        }
    }

    #[test]
    fn legs_fit_inside_their_call_and_agents_are_distinct() {
        for slot in slots(5_000) {
            let r = record(&ctx(Shape::Wrapped), &slot, T0);
            let end = slot.start_ms + i64::from(slot.duration_s) * 1000;
            for leg in &r.agents.items {
                let busy = leg.queue_time + leg.ring_time + leg.talk_time + leg.hold_time;
                assert!(leg.start_time >= slot.start_ms);
                assert!(leg.start_time + i64::from(busy) * 1000 <= end, "{r:?}");
            }
            let mut ids: Vec<_> = r.agents.items.iter().map(|l| &l.agent_id).collect();
            ids.dedup();
            assert_eq!(ids.len(), slot.legs().len());
            assert!(r.recordings.items.len() <= 2);
            assert!(
                r.recordings
                    .items
                    .iter()
                    .all(|x| x.file_path.starts_with("oss://"))
            );
        }
    }

    #[test]
    fn a_late_survey_changes_the_record_after_it_becomes_visible() {
        let ctx = ctx(Shape::Wrapped);
        let (slot, after) = slots(5_000)
            .into_iter()
            .find_map(|s| match survey(SEED, &s) {
                Survey::RatedLater(_, after) => Some((s, after)),
                _ => None,
            })
            .expect("some survey is answered late");
        let visible = slot.visible_at_ms(ctx.write_delay_ms);
        let before = record(&ctx, &slot, visible);
        let later = record(&ctx, &slot, visible + after);
        assert_eq!(before.satisfaction, None);
        assert_eq!(before.satisfaction_desc, NOT_RATED);
        assert!(later.satisfaction.is_some());
        assert_ne!(later.satisfaction_desc, NOT_RATED);
        assert_eq!(
            later.agents.items.last().map(|l| l.satisfaction),
            Some(later.satisfaction_desc)
        );
        assert_eq!(before.contact_id, later.contact_id);
    }

    #[test]
    fn the_wrapped_shape_nests_lists_and_the_flat_shape_does_not() {
        let slot = slots(100)
            .into_iter()
            .find(|s| !s.legs().is_empty())
            .expect("a call with a leg");
        let wrapped = serde_json::to_value(record(&ctx(Shape::Wrapped), &slot, T0)).expect("json");
        let flat = serde_json::to_value(record(&ctx(Shape::Flat), &slot, T0)).expect("json");
        assert!(wrapped["Agents"]["CallDetailAgent"].is_array());
        assert!(wrapped["Recordings"]["Recording"].is_array());
        assert!(flat["Agents"].is_array());
        assert!(flat["Recordings"].is_array());
    }

    #[test]
    fn a_contact_id_leads_back_to_its_ordinal_and_nothing_else_does() {
        for ordinal in [0, 1, 7, 123_456, u32::MAX / 5] {
            assert_eq!(ordinal_of(SEED, &contact_id(SEED, ordinal)), Some(ordinal));
        }
        let real = contact_id(SEED, 42);
        let neighbour = (real.parse::<u64>().expect("digits") + 1).to_string();
        assert_ne!(ordinal_of(SEED, &neighbour), Some(42));
        for junk in ["", "abc", "12", "-2030000000", "job-1"] {
            assert_eq!(ordinal_of(SEED, junk), None, "{junk}");
        }
    }

    #[test]
    fn skill_group_ids_follow_their_names() {
        assert_eq!(
            skill_group_ids("inst", "售后技能组,VIP客户技能组"),
            "skg-after-sales@inst,skg-vip@inst"
        );
        assert_eq!(skill_group_ids("inst", ""), "");
    }

    #[test]
    fn agent_ids_look_like_the_services() {
        assert_eq!(agent_ids(0)[0], "1912@ccctest");
        assert_eq!(agent_ids(1)[1], "1913@ccctest2");
        assert_eq!(agent_ids(0).len(), ROSTER_SIZE);
    }
}
