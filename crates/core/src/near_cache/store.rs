//! The near cache's entries: stored text by key, least recently used first out, bounded by
//! bytes and by count. A read that misses leaves a placeholder (a fill ticket) before its GET is
//! sent; an invalidation or a local write removes it, so a reply that raced a change is never
//! stored (the placeholder scheme of Redis's client-side caching documentation).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lru::LruCache;

use super::space::{NearSpace, SPACES};

/// What one entry costs beyond its key and value: the map's slot, the list links, the
/// `Bytes` handles. Measured: RSS grew 180-210 bytes per entry beyond key and value for 16-byte
/// values and 190-200 for 100-byte ones (marginal growth between bounds of 16, 32 and 64 MiB).
pub(super) const ENTRY_OVERHEAD: usize = 192;

/// Fill tickets, unique across every near cache of the process (one turned off and on again
/// must not take a ticket of the one before for its own).
static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

enum Slot {
    /// A read was issued at `since`; only the reply of this ticket may fill the entry.
    Filling {
        ticket: u64,
        space: NearSpace,
        since: Instant,
    },
    Ready {
        /// `None`: the key did not exist (absence is cached too).
        value: Option<Bytes>,
        expires: Option<Instant>,
        space: NearSpace,
    },
}

impl Slot {
    fn space(&self) -> NearSpace {
        match self {
            Slot::Filling { space, .. } | Slot::Ready { space, .. } => *space,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            Slot::Ready {
                value: Some(value), ..
            } => value.len(),
            _ => 0,
        }
    }
}

/// Counters per namespace (indexed like `SPACES`).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct SpaceCounts {
    pub hits: u64,
    pub misses: u64,
    pub invalidations: u64,
}

pub(super) struct Store {
    entries: LruCache<Bytes, Slot>,
    bytes: usize,
    pub(super) max_bytes: usize,
    pub(super) max_entries: usize,
    pub(super) counts: [SpaceCounts; SPACES.len()],
    pub(super) evictions: u64,
}

/// A lookup's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The stored value (`None`: the key does not exist).
    Hit(Option<Bytes>),
    Miss,
}

fn size(key: &[u8], slot: &Slot) -> usize {
    key.len() + slot.value_len() + ENTRY_OVERHEAD
}

impl Store {
    pub(super) fn new(max_bytes: usize, max_entries: usize) -> Store {
        Store {
            entries: LruCache::unbounded(),
            bytes: 0,
            max_bytes,
            max_entries,
            counts: Default::default(),
            evictions: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn lookup(&mut self, key: &[u8], space: NearSpace, now: Instant) -> Lookup {
        let found = match self.entries.get(key) {
            Some(Slot::Ready { value, expires, .. }) => {
                if expires.is_some_and(|at| at <= now) {
                    None
                } else {
                    Some(value.clone())
                }
            }
            _ => None,
        };
        let counts = &mut self.counts[space as usize];
        match found {
            Some(value) => {
                counts.hits += 1;
                Lookup::Hit(value)
            }
            None => {
                counts.misses += 1;
                // An expired entry goes, like the key the server expired; a placeholder stays.
                if matches!(self.entries.peek(key), Some(Slot::Ready { .. })) {
                    self.remove(key);
                }
                Lookup::Miss
            }
        }
    }

    /// The entry for `key` as it stands, without counting, reordering or a placeholder.
    pub(super) fn peek(&self, key: &[u8], now: Instant) -> Option<Option<Bytes>> {
        match self.entries.peek(key)? {
            Slot::Ready { value, expires, .. } if expires.is_none_or(|at| at > now) => {
                Some(value.clone())
            }
            _ => None,
        }
    }

    /// A placeholder for a read just issued; its ticket fills it. A read already on its way
    /// for the same key shares its ticket. A ready entry is replaced (it was stale or expired).
    pub(super) fn begin_fill(&mut self, key: &[u8], space: NearSpace, now: Instant) -> u64 {
        if let Some(Slot::Filling { ticket, .. }) = self.entries.peek(key) {
            return *ticket;
        }
        let ticket = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
        self.remove(key);
        let slot = Slot::Filling {
            ticket,
            space,
            since: now,
        };
        self.insert(Bytes::copy_from_slice(key), slot);
        ticket
    }

    /// Stores the reply of `ticket`'s GET, unless the placeholder is gone (invalidated, written,
    /// flushed or evicted meanwhile). It ends `pttl_ms` (the key's PTTL; negative: none) or
    /// `staleness_ms` (0: none) after the read was issued, whichever comes first. Whether it
    /// was stored.
    pub(super) fn complete_fill(
        &mut self,
        key: &[u8],
        ticket: u64,
        value: Option<Bytes>,
        pttl_ms: i64,
        staleness_ms: u64,
    ) -> bool {
        let (space, since) = match self.entries.peek(key) {
            Some(Slot::Filling {
                ticket: t,
                space,
                since,
            }) if *t == ticket => (*space, *since),
            _ => return false,
        };
        let mut expires = (pttl_ms >= 0).then(|| since + Duration::from_millis(pttl_ms as u64));
        if staleness_ms != 0 {
            let bound = since + Duration::from_millis(staleness_ms);
            expires = Some(expires.map_or(bound, |at| at.min(bound)));
        }
        let Some((key, old)) = self.entries.pop_entry(key) else {
            return false;
        };
        self.bytes -= size(&key, &old);
        let slot = Slot::Ready {
            value,
            expires,
            space,
        };
        if size(&key, &slot) > self.max_bytes {
            return false;
        }
        self.insert(key, slot);
        true
    }

    /// The read of `ticket` failed: its placeholder goes.
    pub(super) fn abandon_fill(&mut self, key: &[u8], ticket: u64) {
        if matches!(self.entries.peek(key), Some(Slot::Filling { ticket: t, .. }) if *t == ticket) {
            self.remove(key);
        }
    }

    /// Drops `key`'s entry or placeholder; counted as an invalidation of its namespace when
    /// `invalidation`. Whether there was one.
    pub(super) fn forget(&mut self, key: &[u8], invalidation: bool) -> bool {
        match self.remove(key) {
            Some(space) => {
                if invalidation {
                    self.counts[space as usize].invalidations += 1;
                }
                true
            }
            None => false,
        }
    }

    /// Drops everything (placeholders too: their replies will not be stored).
    pub(super) fn clear(&mut self, invalidation: bool) {
        if invalidation {
            for (_, slot) in self.entries.iter() {
                self.counts[slot.space() as usize].invalidations += 1;
            }
        }
        self.entries.clear();
        self.bytes = 0;
    }

    fn remove(&mut self, key: &[u8]) -> Option<NearSpace> {
        let (key, slot) = self.entries.pop_entry(key)?;
        self.bytes -= size(&key, &slot);
        Some(slot.space())
    }

    fn insert(&mut self, key: Bytes, slot: Slot) {
        self.bytes += size(&key, &slot);
        self.entries.put(key, slot);
        self.evict_over_bounds();
    }

    fn evict_over_bounds(&mut self) {
        while self.bytes > self.max_bytes || self.entries.len() > self.max_entries {
            let Some((key, slot)) = self.entries.pop_lru() else {
                break;
            };
            self.bytes -= size(&key, &slot);
            self.evictions += 1;
        }
    }

    /// New bounds; entries beyond them go now.
    pub(super) fn set_bounds(&mut self, max_bytes: usize, max_entries: usize) {
        self.max_bytes = max_bytes;
        self.max_entries = max_entries;
        self.evict_over_bounds();
    }
}
