//! The call index: per instance, every call's [`Slot`] sorted by start time, plus per-agent position lists,
//! so a window is two binary searches and a page costs its own length plus the few calls that may still be
//! in progress, never a scan of everything. Live calls are appended lazily as the data clock passes them.

use rand::Rng;

use super::data::{self, MAX_DURATION_S, ROSTER_SIZE, Slot, Stream};

/// Live calls stop being generated past this many, so a far-off clock cannot exhaust memory.
pub const MAX_LIVE_CALLS: u32 = 5_000_000;

/// Whose calls a request may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A key without an agent: every call of the instance.
    All,
    /// A key bound to an agent: calls with a leg of that roster index.
    Agent(usize),
    /// A key bound to an agent who has no seat in this instance.
    Nobody,
}

/// `StartTime` bounds in epoch milliseconds, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Window {
    pub const ALL: Window = Window {
        from_ms: i64::MIN,
        to_ms: i64::MAX,
    };
}

/// Which end of a window a page counts from, by (`StartTime`, `ContactId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `ListRecentCallRecords`, `OrderBy=DESC`, `SortOrder=DESC`.
    NewestFirst,
    /// `OrderBy=ASC`, `SortOrder=ASC`.
    OldestFirst,
}

/// The part of a window a request wants: its order, and positions `skip .. skip + take` in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub order: Order,
    pub skip: usize,
    pub take: usize,
}

impl Slice {
    /// The whole window, newest first.
    pub const ALL: Slice = Slice::newest_first(0, usize::MAX);

    pub const fn newest_first(skip: usize, take: usize) -> Slice {
        Slice {
            order: Order::NewestFirst,
            skip,
            take,
        }
    }
}

/// One page: the records on it (in the asked order) and how many the whole window holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub total: usize,
    pub slots: Vec<Slot>,
}

/// One instance's calls.
#[derive(Debug, Default)]
pub struct Store {
    /// Sorted by [`Slot::sort_key`]; appends keep it sorted because live calls start after all others.
    slots: Vec<Slot>,
    /// For each roster index, the positions in `slots` of the calls it has a leg in, ascending.
    by_agent: Vec<Vec<u32>>,
}

/// The calls a scope sees, as a sorted sequence.
enum View<'a> {
    All(&'a [Slot]),
    Positions(&'a [Slot], &'a [u32]),
}

impl View<'_> {
    fn len(&self) -> usize {
        match self {
            View::All(s) => s.len(),
            View::Positions(_, p) => p.len(),
        }
    }

    fn get(&self, i: usize) -> &Slot {
        match self {
            View::All(s) => &s[i],
            View::Positions(s, p) => &s[p[i] as usize],
        }
    }

    /// The first index whose start is not `before` the bound.
    fn partition(&self, before: impl Fn(i64) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(self.get(mid).start_ms) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

impl Store {
    fn new() -> Store {
        Store {
            slots: Vec::new(),
            by_agent: vec![Vec::new(); ROSTER_SIZE],
        }
    }

    fn push(&mut self, slot: Slot) {
        debug_assert!(
            self.slots
                .last()
                .is_none_or(|l| l.sort_key() <= slot.sort_key())
        );
        let position = u32::try_from(self.slots.len()).expect("fewer than 2^32 calls per instance");
        for &agent in slot.legs() {
            self.by_agent[usize::from(agent)].push(position);
        }
        self.slots.push(slot);
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    fn view(&self, scope: Scope) -> View<'_> {
        match scope {
            Scope::All => View::All(&self.slots),
            Scope::Agent(a) => View::Positions(&self.slots, &self.by_agent[a]),
            Scope::Nobody => View::All(&[]),
        }
    }

    /// The call with this ordinal: ordinals grow with the sort key, so it is a binary search.
    pub fn find(&self, ordinal: u32) -> Option<Slot> {
        self.slots
            .binary_search_by_key(&ordinal, |s| s.ordinal)
            .ok()
            .map(|i| self.slots[i])
    }

    /// The `slice` of the calls in `window` visible at `now_ms`.
    ///
    /// Calls that started more than the longest call plus the write delay ago are certainly visible, so
    /// only the calls after that horizon are checked one by one.
    pub fn select(
        &self,
        scope: Scope,
        window: Window,
        slice: Slice,
        now_ms: i64,
        write_delay_ms: i64,
    ) -> Selection {
        let Slice { order, skip, take } = slice;
        let view = self.view(scope);
        let lo = view.partition(|s| s < window.from_ms);
        let hi = view.partition(|s| s <= window.to_ms.min(now_ms)).max(lo);
        let horizon = now_ms.saturating_sub(i64::from(MAX_DURATION_S) * 1000 + write_delay_ms);
        let certain_end = view.partition(|s| s <= horizon).clamp(lo, hi);
        let visible = |i: &usize| view.get(*i).visible_at_ms(write_delay_ms) <= now_ms;
        let recent = (certain_end..hi).rev().filter(visible);
        let total = (certain_end - lo) + recent.clone().count();
        let older = (lo..certain_end).rev();
        let positions: Vec<usize> = match order {
            Order::NewestFirst => recent.chain(older).skip(skip).take(take).collect(),
            Order::OldestFirst => older
                .rev()
                .chain(recent.rev())
                .skip(skip)
                .take(take)
                .collect(),
        };
        let slots = positions.into_iter().map(|i| *view.get(i)).collect();
        Selection { total, slots }
    }
}

/// Every instance's calls and the live arrival process that extends them.
#[derive(Debug)]
pub struct Dataset {
    seed: u64,
    stores: Vec<Store>,
    live: Option<Live>,
}

/// The next live call: arrivals are a Poisson process from the anchor, drawn per call from its own
/// stream, so the sequence is the same whenever and however often it is extended.
#[derive(Debug)]
struct Live {
    rate_per_s: f64,
    next_ordinal: u32,
    first_live_ordinal: u32,
    /// Exact arrival time of the next call; its `StartTime` is this rounded down to the second.
    next_at_ms: f64,
}

impl Live {
    fn gap_ms(&self, seed: u64) -> f64 {
        let mut rng = data::rng(seed, Stream::Live, u64::from(self.next_ordinal));
        -rng.random::<f64>().max(1e-12).ln() / self.rate_per_s * 1000.0
    }
}

impl Dataset {
    /// The history: `calls` calls over `days` days up to `anchor_ms`, spread over `instances`.
    pub fn generate(
        seed: u64,
        calls: usize,
        days: u32,
        anchor_ms: i64,
        instances: usize,
        live_rate: Option<f64>,
    ) -> Dataset {
        let mut stores: Vec<Store> = (0..instances).map(|_| Store::new()).collect();
        for (ordinal, start) in data::historical_starts(seed, calls, days, anchor_ms)
            .into_iter()
            .enumerate()
        {
            let ordinal = u32::try_from(ordinal).expect("fewer than 2^32 calls");
            stores[data::instance_of(seed, ordinal, instances)]
                .push(data::skeleton(seed, ordinal, start));
        }
        let live = live_rate.filter(|r| *r > 0.0).map(|rate_per_s| {
            let first = u32::try_from(calls).expect("fewer than 2^32 calls");
            let mut live = Live {
                rate_per_s,
                next_ordinal: first,
                first_live_ordinal: first,
                next_at_ms: anchor_ms as f64,
            };
            live.next_at_ms += live.gap_ms(seed);
            live
        });
        Dataset { seed, stores, live }
    }

    pub fn store(&self, instance: usize) -> &Store {
        &self.stores[instance]
    }

    pub fn stores(&self) -> &[Store] {
        &self.stores
    }

    /// Whether [`Dataset::extend_to`] has calls to add for `now_ms`.
    pub fn needs_extension(&self, now_ms: i64) -> bool {
        self.live.as_ref().is_some_and(|l| {
            l.next_at_ms <= now_ms as f64 && l.next_ordinal - l.first_live_ordinal < MAX_LIVE_CALLS
        })
    }

    /// Appends every live call that has started by `now_ms`; returns how many were added.
    pub fn extend_to(&mut self, now_ms: i64) -> usize {
        let instances = self.stores.len();
        let Some(live) = self.live.as_mut() else {
            return 0;
        };
        let mut added = 0;
        while live.next_at_ms <= now_ms as f64
            && live.next_ordinal - live.first_live_ordinal < MAX_LIVE_CALLS
        {
            let start_ms = (live.next_at_ms as i64).div_euclid(1000) * 1000;
            let ordinal = live.next_ordinal;
            self.stores[data::instance_of(self.seed, ordinal, instances)]
                .push(data::skeleton(self.seed, ordinal, start_ms));
            live.next_ordinal += 1;
            live.next_at_ms += live.gap_ms(self.seed);
            added += 1;
        }
        if live.next_ordinal - live.first_live_ordinal == MAX_LIVE_CALLS && added > 0 {
            tracing::warn!(
                max = MAX_LIVE_CALLS,
                "Live call limit reached; no more calls will arrive"
            );
        }
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const DELAY: i64 = 5_000;

    fn dataset() -> Dataset {
        Dataset::generate(7, 3_000, 2, T0, 1, None)
    }

    /// The page the store serves, checked against a plain filter-and-sort over every call.
    fn brute_force(store: &Store, scope: Scope, window: Window, now: i64) -> Vec<Slot> {
        let mut all: Vec<Slot> = store
            .slots
            .iter()
            .filter(|s| s.start_ms >= window.from_ms && s.start_ms <= window.to_ms)
            .filter(|s| s.visible_at_ms(DELAY) <= now)
            .filter(|s| match scope {
                Scope::All => true,
                Scope::Agent(a) => s.legs().contains(&(a as u8)),
                Scope::Nobody => false,
            })
            .copied()
            .collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.sort_key()));
        all
    }

    #[test]
    fn pages_are_newest_first_and_add_up_to_the_window_exactly() {
        let data = dataset();
        let store = data.store(0);
        let now = T0 - 3_600_000;
        let window = Window {
            from_ms: T0 - 30 * 3_600_000,
            to_ms: T0,
        };
        for scope in [Scope::All, Scope::Agent(0), Scope::Agent(7), Scope::Nobody] {
            let expected = brute_force(store, scope, window, now);
            let mut got = Vec::new();
            for page in 0.. {
                let sel = store.select(
                    scope,
                    window,
                    Slice::newest_first(page * 37, 37),
                    now,
                    DELAY,
                );
                assert_eq!(sel.total, expected.len());
                got.extend_from_slice(&sel.slots);
                if sel.slots.len() < 37 {
                    break;
                }
            }
            assert_eq!(got, expected, "{scope:?}");
            let oldest_first = store.select(
                scope,
                window,
                Slice {
                    order: Order::OldestFirst,
                    skip: 5,
                    take: 40,
                },
                now,
                DELAY,
            );
            let reversed: Vec<Slot> = expected.iter().rev().skip(5).take(40).copied().collect();
            assert_eq!(oldest_first.slots, reversed, "{scope:?} ascending");
            assert_eq!(oldest_first.total, expected.len());
        }
    }

    #[test]
    fn a_call_is_found_by_its_ordinal() {
        let data = Dataset::generate(7, 3_000, 2, T0, 2, None);
        for store in data.stores() {
            for slot in store.slots.iter().step_by(97) {
                assert_eq!(store.find(slot.ordinal), Some(*slot));
            }
        }
        let first = data.store(0).slots[0].ordinal;
        let elsewhere = data.store(1).slots[0].ordinal;
        assert_eq!(data.store(0).find(elsewhere), None);
        assert!(data.store(1).find(first).is_none());
    }

    #[test]
    fn ties_on_start_time_are_broken_by_contact_id_descending() {
        let data = dataset();
        let store = data.store(0);
        let sel = store.select(Scope::All, Window::ALL, Slice::ALL, T0 + 86_400_000, DELAY);
        assert!(sel.slots.windows(2).any(|w| w[0].start_ms == w[1].start_ms));
        for w in sel.slots.windows(2) {
            assert!(w[0].sort_key() > w[1].sort_key());
            let ids: Vec<u64> = w
                .iter()
                .map(|s| data::contact_id(7, s.ordinal).parse().expect("digits"))
                .collect();
            assert!(w[0].start_ms > w[1].start_ms || ids[0] > ids[1]);
        }
    }

    #[test]
    fn a_call_is_visible_only_from_its_end_plus_the_write_delay() {
        let data = dataset();
        let store = data.store(0);
        // A long call and a shorter one that started after it but ended before it.
        let slots = &store.slots;
        let (long, short) = slots
            .iter()
            .enumerate()
            .find_map(|(i, a)| {
                slots[i + 1..]
                    .iter()
                    .find(|b| {
                        b.start_ms > a.start_ms && b.visible_at_ms(DELAY) < a.visible_at_ms(DELAY)
                    })
                    .map(|b| (*a, *b))
            })
            .expect("some call overtakes a longer one");
        let between = short.visible_at_ms(DELAY);
        let seen = store
            .select(Scope::All, Window::ALL, Slice::ALL, between, DELAY)
            .slots;
        assert!(seen.contains(&short));
        assert!(!seen.contains(&long));
        let just_before = store
            .select(Scope::All, Window::ALL, Slice::ALL, between - 1, DELAY)
            .slots;
        assert!(!just_before.contains(&short));
        let later = store
            .select(
                Scope::All,
                Window::ALL,
                Slice::ALL,
                long.visible_at_ms(DELAY),
                DELAY,
            )
            .slots;
        assert!(later.contains(&long));
    }

    #[test]
    fn agent_scopes_see_only_their_calls_and_overlap_within_a_group() {
        let data = dataset();
        let store = data.store(0);
        let lead = store
            .select(Scope::Agent(0), Window::ALL, Slice::ALL, i64::MAX, DELAY)
            .slots;
        let member = store
            .select(Scope::Agent(1), Window::ALL, Slice::ALL, i64::MAX, DELAY)
            .slots;
        assert!(lead.iter().all(|s| s.legs().contains(&0)));
        assert!(member.iter().all(|s| s.legs().contains(&1)));
        let shared = lead.iter().filter(|s| member.contains(s)).count();
        assert!(shared >= 5, "only {shared} calls shared by 1912 and 1913");
        assert!(lead.len() < store.len());
    }

    #[test]
    fn live_calls_arrive_lazily_and_the_same_way_however_the_clock_moves() {
        let mut stepwise = Dataset::generate(7, 100, 1, T0, 2, Some(2.0));
        let mut at_once = Dataset::generate(7, 100, 1, T0, 2, Some(2.0));
        assert!(!stepwise.needs_extension(T0));
        let mut added = 0;
        for minute in 1..=10 {
            added += stepwise.extend_to(T0 + minute * 60_000);
        }
        assert!(at_once.needs_extension(T0 + 600_000));
        assert_eq!(at_once.extend_to(T0 + 600_000), added);
        assert!(
            (900..1500).contains(&added),
            "{added} calls in 10 minutes at 2/s"
        );
        for (a, b) in stepwise.stores().iter().zip(at_once.stores()) {
            assert_eq!(a.slots, b.slots);
        }
        let last = stepwise
            .stores()
            .iter()
            .filter_map(|s| s.slots.last())
            .map(|s| s.start_ms)
            .max();
        assert!(last.is_some_and(|l| l > T0 && l <= T0 + 600_000));
    }
}
