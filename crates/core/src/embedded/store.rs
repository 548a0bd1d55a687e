//! The keyspace: ordered entries, an expiry index and a recency index kept in step with them,
//! the memory they take, and SCAN cursors.
//!
//! Entries are private to this module and every change of a deadline goes through it, which is
//! what keeps the indexes exact: sweeping reads only the expiry index, never the whole keyspace,
//! and eviction reads only the recency index.
//!
//! The recency index is brought up to date lazily: a use only stamps its entry, and eviction,
//! finding a key filed under an older stamp than its last use, files it again and goes on. The
//! key it evicts is still exactly the least recently used one, and a read or write no longer
//! pays a removal and an insertion in that B-tree. The sweeper refiles in bounded batches
//! between evictions, so an eviction refiles at most the keys used since its last pass.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::cursors::ScanCursors;
use super::value::{Kind, Value};
use crate::{Error, Result};

/// Wall-clock milliseconds since the Unix epoch; deadlines are absolute, as in Redis.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What an entry costs beyond its key and value bytes: its share of the entries, expiry and
/// recency B-trees' nodes, the entry itself, and the allocations holding its key and value.
/// Measured, not derived: the process's RSS grew by 606-673 bytes per live entry beyond key and
/// value, for 16-, 200- and 2000-byte values, with and without eviction (2026-12-05). At 128,
/// the estimate it replaced, a 64 MiB bound let RSS grow by 270 MiB with 16-byte values.
const ENTRY_OVERHEAD: usize = 640;
/// The same for one element of an aggregate, by kind, measured the same way: RSS per element of
/// a 300k-element hash, set, sorted set and list (2026-12-05: 344, 166, 288 and 96 bytes for
/// 34-, 15-, 15- and 15-byte elements). One figure of 48 for all counted a sorted set at a
/// quarter of what it takes.
const HASH_FIELD_OVERHEAD: usize = 320;
const SET_MEMBER_OVERHEAD: usize = 160;
const ZSET_MEMBER_OVERHEAD: usize = 288;
const LIST_ITEM_OVERHEAD: usize = 96;
/// Elements read to estimate an aggregate's size: exact for small ones, a sample for big ones,
/// so that accounting never walks a large aggregate on every write.
const SIZE_SAMPLE: usize = 8;

/// Bytes `key` and `value` take, estimated (see [`ENTRY_OVERHEAD`]).
fn entry_size(key: &[u8], value: &Value) -> usize {
    fn estimate(len: usize, overhead: usize, sample: impl Iterator<Item = usize>) -> usize {
        let (n, bytes) = sample
            .take(SIZE_SAMPLE)
            .fold((0usize, 0usize), |(n, b), size| (n + 1, b + size));
        if n == 0 {
            return 0;
        }
        len.saturating_mul(bytes / n + overhead)
    }
    let value_size = match value {
        Value::Str(bytes) => bytes.len(),
        Value::Hash(h) => estimate(
            h.len(),
            HASH_FIELD_OVERHEAD,
            h.iter().map(|(k, v)| k.len() + v.len()),
        ),
        Value::Set(s) => estimate(s.len(), SET_MEMBER_OVERHEAD, s.iter().map(Bytes::len)),
        Value::ZSet(z) => estimate(
            z.len(),
            ZSET_MEMBER_OVERHEAD,
            z.iter().map(|(m, _)| m.len() + 8),
        ),
        Value::List(l) => estimate(l.len(), LIST_ITEM_OVERHEAD, l.iter().map(Bytes::len)),
    };
    ENTRY_OVERHEAD + key.len() + value_size
}

/// Stamps `entry` as just used; the recency index catches up when eviction reaches it.
fn mark_used(clock: &mut u64, entry: &mut Entry) {
    *clock += 1;
    entry.used = *clock;
}

/// The recency index an entry belongs to: keys with a TTL are evicted first.
fn class(deadline: Option<u64>) -> usize {
    usize::from(deadline.is_none())
}

/// The front of a recency index after refiling: what its first key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Front {
    Empty,
    /// Filed under its last use: the least recently used key of its index.
    Current,
    /// Used since it was filed (the refiling stopped at its limit).
    Stale,
}

#[derive(Debug)]
struct Entry {
    value: Value,
    deadline: Option<u64>,
    /// Bytes it takes, as of the last time it was measured.
    size: usize,
    /// When it was last used, on the keyspace's recency clock.
    used: u64,
    /// The stamp it is filed under in `recency`: its last use, or an earlier one.
    filed: u64,
}

impl Entry {
    /// Redis's rule: a key expires once the clock has passed its deadline.
    fn expired(&self, now: u64) -> bool {
        self.deadline.is_some_and(|d| now > d)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Keyspace {
    entries: BTreeMap<Bytes, Entry>,
    expiries: BTreeSet<(u64, Bytes)>,
    /// The clock of the current execution unit (command, transaction or script), frozen for its
    /// duration as Redis 7 does, so that one unit sees one consistent keyspace.
    now: u64,
    pub(crate) cursors: ScanCursors,
    /// Keys by last use, least recent first: `[with a TTL, without]`.
    recency: [BTreeMap<u64, Bytes>; 2],
    /// Ticks on every use, so that recency is exact even within one millisecond.
    clock: u64,
    /// Bytes all entries take, as of their last measurement.
    used_bytes: usize,
    /// The memory bound; 0 for none.
    max_bytes: usize,
    /// Keys whose value was handed out for changing in this execution unit, to measure again.
    changed: Vec<Bytes>,
}

impl Keyspace {
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    pub(crate) fn set_now(&mut self, now: u64) {
        self.now = now;
    }

    /// Entries physically held, expired-but-not-yet-reclaimed ones included.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Lazy expiry: a key found expired on access is reclaimed there and then.
    fn expire_if_needed(&mut self, key: &[u8]) {
        if self.entries.get(key).is_some_and(|e| e.expired(self.now)) {
            self.remove_entry(key);
        }
    }

    fn remove_entry(&mut self, key: &[u8]) -> Option<Entry> {
        let (key, entry) = self.entries.remove_entry(key)?;
        self.recency[class(entry.deadline)].remove(&entry.filed);
        self.used_bytes = self.used_bytes.saturating_sub(entry.size);
        if let Some(deadline) = entry.deadline {
            self.expiries.remove(&(deadline, key));
        }
        Some(entry)
    }

    /// Adds an entry for a key that has none.
    fn insert_entry(&mut self, key: Bytes, value: Value, deadline: Option<u64>) {
        let size = entry_size(&key, &value);
        self.clock += 1;
        let used = self.clock;
        self.recency[class(deadline)].insert(used, key.clone());
        self.used_bytes += size;
        if let Some(deadline) = deadline {
            self.expiries.insert((deadline, key.clone()));
        }
        self.entries.insert(
            key,
            Entry {
                value,
                deadline,
                size,
                used,
                filed: used,
            },
        );
    }

    /// The live entry at `key`, marked as just used (and, when `changing`, as to be measured
    /// again); an expired one is reclaimed. Two lookups where each step on its own took one.
    fn live_entry(&mut self, key: &[u8], changing: bool) -> Option<&mut Entry> {
        let (stored_key, entry) = self.entries.get_key_value(key)?;
        if entry.expired(self.now) {
            self.remove_entry(key);
            return None;
        }
        if changing {
            self.changed.push(stored_key.clone());
        }
        let entry = self.entries.get_mut(key)?;
        mark_used(&mut self.clock, entry);
        Some(entry)
    }

    /// The least recently used key of the first recency index that has one (keys with a TTL
    /// first), taken out of that index. Keys used since they were filed are filed again under
    /// their last use on the way.
    fn least_recently_used(&mut self) -> Option<Bytes> {
        for class in 0..self.recency.len() {
            if self.refile_front(class, usize::MAX) == Front::Current {
                return self.recency[class].pop_first().map(|(_, key)| key);
            }
        }
        None
    }

    /// Refiles keys used since they were filed, oldest first, until the first key of recency
    /// index `class` is filed under its last use, or `limit` keys were refiled.
    fn refile_front(&mut self, class: usize, limit: usize) -> Front {
        let mut refiled = 0;
        loop {
            let Some((&filed, key)) = self.recency[class].first_key_value() else {
                return Front::Empty;
            };
            let Some(used) = self.entries.get(key).map(|entry| entry.used) else {
                // Cannot happen (every entry's key is filed exactly once); dropped, not looped on.
                self.recency[class].pop_first();
                continue;
            };
            if used == filed {
                return Front::Current;
            }
            if refiled == limit {
                return Front::Stale;
            }
            if let Some((_, key)) = self.recency[class].pop_first() {
                if let Some(entry) = self.entries.get_mut(&key) {
                    entry.filed = used;
                }
                self.recency[class].insert(used, key);
            }
            refiled += 1;
        }
    }

    /// Refiles up to `limit` keys per recency index used since they were filed, from the front,
    /// so that the next eviction finds few to refile: after a long run of reads without a write
    /// needing room, the first such write would otherwise refile them all while holding the
    /// store. Returns whether more may wait. Nothing to do without a memory bound.
    pub(crate) fn refile_used(&mut self, limit: usize) -> bool {
        if self.max_bytes == 0 {
            return false;
        }
        let mut more = false;
        for class in 0..self.recency.len() {
            more |= self.refile_front(class, limit) == Front::Stale;
        }
        more
    }

    /// Sets the memory bound in bytes (0: none); the next write evicts down to it.
    pub(crate) fn set_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = max_bytes;
    }

    /// Bytes the entries take (estimated), and the bound.
    pub(crate) fn memory(&self) -> (usize, usize) {
        (self.used_bytes, self.max_bytes)
    }

    /// Measures again the entries changed in place since the last call; run at the end of
    /// every execution unit.
    pub(crate) fn settle(&mut self) {
        for key in std::mem::take(&mut self.changed) {
            if let Some(entry) = self.entries.get_mut(&key) {
                let size = entry_size(&key, &entry.value);
                self.used_bytes = self.used_bytes.saturating_sub(entry.size) + size;
                entry.size = size;
            }
        }
    }

    /// Makes room for a write of about `incoming` bytes under the memory bound: evicts the least
    /// recently used keys with a TTL, then the least recently used of all. A write that cannot
    /// fit even in an empty store is refused (Redis's OOM error) and evicts nothing.
    pub(crate) fn make_room(&mut self, incoming: usize) -> Result<()> {
        if self.max_bytes == 0 {
            return Ok(());
        }
        self.settle();
        let needed = incoming.saturating_add(ENTRY_OVERHEAD);
        if needed > self.max_bytes {
            return Err(Error::new(
                crate::ErrorKind::Command,
                format!(
                    "OOM command not allowed when used memory > 'maxmemory': a write of \
                     {incoming} bytes cannot fit in the embedded store's bound of {} bytes \
                     (embeddedMaxBytes / DIGIS_REDIS_EMBEDDED_MAX_BYTES)",
                    self.max_bytes
                ),
            ));
        }
        while self.used_bytes.saturating_add(needed) > self.max_bytes {
            let Some(victim) = self.least_recently_used() else {
                break;
            };
            self.remove_entry(&victim);
        }
        Ok(())
    }

    pub(crate) fn get(&mut self, key: &[u8]) -> Option<&Value> {
        self.live_entry(key, false).map(|e| &e.value)
    }

    pub(crate) fn contains(&mut self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// The value at `key` as a `T`, `None` when missing, WRONGTYPE when it is something else.
    pub(crate) fn read<T: Kind>(&mut self, key: &[u8]) -> Result<Option<&T>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => T::of(value).map(Some).ok_or_else(Error::wrong_type),
        }
    }

    /// `read` without reclaiming: an expired entry is reported missing and left to the sweeper,
    /// so a plain read costs one lookup. A value found is marked as just used.
    pub(crate) fn peek<T: Kind>(&mut self, key: &[u8]) -> Result<Option<&T>> {
        match self.entries.get_mut(key) {
            Some(entry) if !entry.expired(self.now) => {
                if T::of(&entry.value).is_none() {
                    return Err(Error::wrong_type());
                }
                mark_used(&mut self.clock, entry);
                Ok(T::of(&entry.value))
            }
            _ => Ok(None),
        }
    }

    pub(crate) fn write<T: Kind>(&mut self, key: &[u8]) -> Result<Option<&mut T>> {
        match self.live_entry(key, true) {
            None => Ok(None),
            Some(entry) => T::of_mut(&mut entry.value)
                .map(Some)
                .ok_or_else(Error::wrong_type),
        }
    }

    /// Like `write`, creating an empty `T` (without expiry) when the key is missing. A command
    /// that may leave it empty must call `remove_if_empty` afterwards.
    pub(crate) fn write_or_create<T: Kind>(&mut self, key: &Bytes) -> Result<&mut T> {
        if self.live_entry(key, true).is_none() {
            self.insert_entry(key.clone(), T::default().wrap(), None);
            self.changed.push(key.clone());
        }
        let entry = self
            .entries
            .get_mut(key)
            .expect("present: found or inserted above");
        T::of_mut(&mut entry.value).ok_or_else(Error::wrong_type)
    }

    /// Stores `value` at `key`, replacing whatever was there along with its expiry.
    pub(crate) fn set(&mut self, key: Bytes, value: Value, deadline: Option<u64>) {
        self.remove_entry(&key);
        self.insert_entry(key, value, deadline);
    }

    /// Stores `value` at `key`, keeping the expiry of a live key that was there.
    pub(crate) fn set_keep_ttl(&mut self, key: Bytes, value: Value) {
        self.expire_if_needed(&key);
        let deadline = self.entries.get(&key).map(|e| e.deadline);
        self.set(key, value, deadline.flatten());
    }

    /// Deletes a live key; true when there was one.
    pub(crate) fn remove(&mut self, key: &[u8]) -> bool {
        self.expire_if_needed(key);
        self.remove_entry(key).is_some()
    }

    /// Deletes `key` if it holds an empty aggregate, as Redis does after every removal.
    pub(crate) fn remove_if_empty(&mut self, key: &[u8]) {
        if self
            .entries
            .get(key)
            .is_some_and(|e| e.value.is_empty_aggregate())
        {
            self.remove_entry(key);
        }
    }

    /// `None` for a missing key, `Some(None)` for a key without expiry.
    pub(crate) fn deadline(&mut self, key: &[u8]) -> Option<Option<u64>> {
        self.expire_if_needed(key);
        self.entries.get(key).map(|e| e.deadline)
    }

    /// Sets or clears the expiry of a live key; false when the key is missing.
    pub(crate) fn set_deadline(&mut self, key: &[u8], deadline: Option<u64>) -> bool {
        let Some((stored_key, entry)) = self.entries.get_key_value(key) else {
            return false;
        };
        if entry.expired(self.now) {
            self.remove_entry(key);
            return false;
        }
        let key = stored_key.clone();
        let (old, filed) = (entry.deadline, entry.filed);
        if let Some(old) = old {
            self.expiries.remove(&(old, key.clone()));
        }
        if let Some(new) = deadline {
            self.expiries.insert((new, key.clone()));
        }
        if class(old) != class(deadline) {
            self.recency[class(old)].remove(&filed);
            self.recency[class(deadline)].insert(filed, key.clone());
        }
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.deadline = deadline;
        }
        true
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.expiries.clear();
        self.recency = Default::default();
        self.used_bytes = 0;
        self.changed.clear();
    }

    /// Live keys, in order, for which `keep` holds.
    pub(crate) fn keys(&self, mut keep: impl FnMut(&Bytes, &Value) -> bool) -> Vec<Bytes> {
        self.entries
            .iter()
            .filter(|(key, entry)| !entry.expired(self.now) && keep(key, &entry.value))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// One SCAN step: examines up to `count` keys after `after` and returns the live ones for
    /// which `keep` holds, plus the key to resume after (`None` once the keyspace is exhausted).
    /// Resuming strictly after the last examined key is what guarantees that a key present for
    /// the whole scan is returned.
    pub(crate) fn scan(
        &mut self,
        after: Option<&Bytes>,
        count: usize,
        mut keep: impl FnMut(&Bytes, &Value) -> bool,
    ) -> (Vec<Bytes>, Option<Bytes>) {
        let lower = match after {
            Some(key) => Bound::Excluded(key.as_ref()),
            None => Bound::Unbounded,
        };
        let mut iter = self.entries.range::<[u8], _>((lower, Bound::Unbounded));
        let mut found = Vec::new();
        let mut expired = Vec::new();
        let mut last = None;
        for (key, entry) in iter.by_ref().take(count) {
            if entry.expired(self.now) {
                expired.push(key.clone());
            } else if keep(key, &entry.value) {
                found.push(key.clone());
            }
            last = Some(key.clone());
        }
        let exhausted = iter.next().is_none();
        for key in expired {
            self.remove_entry(&key);
        }
        (found, if exhausted { None } else { last })
    }

    /// Reclaims up to `limit` expired entries as of `now`, oldest deadline first. Returns how
    /// many it removed and whether more are waiting.
    pub(crate) fn sweep(&mut self, now: u64, limit: usize) -> (usize, bool) {
        let mut removed = 0;
        while let Some((deadline, _)) = self.expiries.first() {
            if now <= *deadline {
                return (removed, false);
            }
            if removed == limit {
                return (removed, true);
            }
            if let Some((_, key)) = self.expiries.pop_first() {
                self.remove_entry(&key);
                removed += 1;
            }
        }
        (removed, false)
    }

    /// Test-only consistency check between the entries and the expiry index.
    #[cfg(test)]
    pub(crate) fn assert_index_consistent(&self) {
        let from_entries: BTreeSet<(u64, Bytes)> = self
            .entries
            .iter()
            .filter_map(|(k, e)| e.deadline.map(|d| (d, k.clone())))
            .collect();
        assert_eq!(from_entries, self.expiries);
        for (which, index) in self.recency.iter().enumerate() {
            for (filed, key) in index {
                let entry = &self.entries[key];
                assert_eq!((entry.filed, class(entry.deadline)), (*filed, which));
                assert!(entry.filed <= entry.used);
            }
        }
        assert_eq!(
            self.recency[0].len() + self.recency[1].len(),
            self.entries.len()
        );
        let measured: usize = self.entries.values().map(|e| e.size).sum();
        assert_eq!(measured, self.used_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(Bytes::copy_from_slice(v.as_bytes()))
    }

    fn key(k: &str) -> Bytes {
        Bytes::copy_from_slice(k.as_bytes())
    }

    #[test]
    fn index_follows_every_deadline_change() {
        let mut ks = Keyspace::default();
        ks.set_now(1000);
        ks.set(key("a"), s("1"), Some(2000));
        ks.set(key("b"), s("2"), None);
        ks.assert_index_consistent();
        assert!(ks.set_deadline(b"b", Some(3000)));
        assert!(ks.set_deadline(b"a", None));
        assert!(!ks.set_deadline(b"zz", Some(1)));
        ks.assert_index_consistent();
        ks.set(key("b"), s("3"), Some(4000));
        ks.set_keep_ttl(key("b"), s("4"));
        assert_eq!(ks.deadline(b"b"), Some(Some(4000)));
        ks.assert_index_consistent();
        assert!(ks.remove(b"b"));
        ks.assert_index_consistent();
        assert_eq!(ks.expiries.len(), 0);
    }

    #[test]
    fn eviction_order_is_exact_lru_although_uses_are_filed_lazily() {
        let mut ks = Keyspace::default();
        ks.set_now(1000);
        ks.set_max_bytes(1 << 30);
        // The reference, an exact LRU: per live key its last use and whether it has a TTL (keys
        // with one are evicted first).
        let mut model: Vec<(usize, u64, bool)> = Vec::new();
        let expected_victim = |model: &[(usize, u64, bool)]| {
            model
                .iter()
                .filter(|(_, _, ttl)| *ttl)
                .min_by_key(|(_, used, _)| *used)
                .or_else(|| model.iter().min_by_key(|(_, used, _)| *used))
                .map(|(k, _, _)| key(&format!("k{k}")))
        };
        let mut step = 0u64;
        let mut seed = 7u64;
        for round in 0..4000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = (seed >> 33) as usize % 40;
            let name = key(&format!("k{k}"));
            let known = model.iter().position(|(other, _, _)| *other == k);
            step += 1;
            match (seed >> 20) % 8 {
                0 | 1 => {
                    let ttl = (seed >> 40).is_multiple_of(2);
                    ks.set(name, s("v"), ttl.then_some(1_000_000_000));
                    model.retain(|(other, _, _)| *other != k);
                    model.push((k, step, ttl));
                }
                // Reads and writes mark a key as used; a changed deadline does not.
                2 => assert_eq!(ks.get(&name).is_some(), known.is_some()),
                3 => assert_eq!(ks.peek::<Bytes>(&name).unwrap().is_some(), known.is_some()),
                4 => assert_eq!(ks.write::<Bytes>(&name).unwrap().is_some(), known.is_some()),
                5 => {
                    let ttl = (seed >> 40).is_multiple_of(2);
                    assert_eq!(
                        ks.set_deadline(&name, ttl.then_some(1_000_000_000)),
                        known.is_some()
                    );
                    if let Some(i) = known {
                        model[i].2 = ttl;
                    }
                    continue;
                }
                6 => {
                    ks.refile_used(3);
                    continue;
                }
                _ => {
                    let victim = ks.least_recently_used();
                    assert_eq!(victim, expected_victim(&model), "eviction at round {round}");
                    if let Some(victim) = victim {
                        ks.remove_entry(&victim);
                        model.retain(|(other, _, _)| key(&format!("k{other}")) != victim);
                    }
                    continue;
                }
            }
            if let Some(i) = model.iter().position(|(other, _, _)| *other == k) {
                model[i].1 = step;
            }
            if round % 100 == 0 {
                ks.settle();
                ks.assert_index_consistent();
            }
        }
        ks.settle();
        ks.assert_index_consistent();
        while let Some(victim) = ks.least_recently_used() {
            assert_eq!(Some(victim.clone()), expected_victim(&model));
            ks.remove_entry(&victim);
            model.retain(|(other, _, _)| key(&format!("k{other}")) != victim);
        }
        assert!(model.is_empty());
        assert_eq!(ks.len(), 0);
    }

    #[test]
    fn refiling_between_evictions_leaves_the_front_current() {
        let mut ks = Keyspace::default();
        ks.set_now(1000);
        for i in 0..100 {
            ks.set(key(&format!("k{i}")), s("v"), None);
        }
        // Read again newest first: every filed stamp is now older than its key's last use.
        for i in (0..100).rev() {
            ks.peek::<Bytes>(&key(&format!("k{i}"))).unwrap();
        }
        assert!(!ks.refile_used(30), "nothing to do without a memory bound");
        ks.set_max_bytes(1 << 20);
        assert!(ks.refile_used(30), "more wait after 30");
        while ks.refile_used(30) {}
        ks.assert_index_consistent();
        // The front is filed under its last use: k99, read first.
        let (filed, front) = ks.recency[1].first_key_value().unwrap();
        assert_eq!((front, ks.entries[front].used), (&key("k99"), *filed));
        assert_eq!(ks.least_recently_used(), Some(key("k99")));
    }

    #[test]
    fn lazy_expiry_and_bounded_sweep() {
        let mut ks = Keyspace::default();
        ks.set_now(1000);
        for i in 0..10 {
            ks.set(key(&format!("k{i}")), s("v"), Some(1000 + i));
        }
        ks.set(key("forever"), s("v"), None);
        // At the deadline itself a key is still alive.
        assert!(ks.contains(b"k0"));
        ks.set_now(1005);
        assert_eq!(ks.len(), 11);
        assert!(!ks.contains(b"k0"));
        assert_eq!(ks.len(), 10);
        assert_eq!(ks.sweep(1005, 2), (2, true));
        assert_eq!(ks.sweep(1005, 100), (2, false));
        assert_eq!(ks.len(), 6);
        assert_eq!(ks.sweep(2000, 100), (5, false));
        assert_eq!(ks.len(), 1);
        ks.assert_index_consistent();
    }
}
