//! The near cache: recent reads of the hot namespaces kept in process memory and answered
//! without a round trip, for as long as the server says they have not changed.
//!
//! - On Redis and Redis Cluster the server tells us (`tracking.rs`): one connection per server
//!   with `CLIENT TRACKING on BCAST` hears of every key change, expiry, eviction and flush. Until
//!   every such connection is up nothing is served; when one drops, fails a PING or the
//!   cluster's masters change, everything is flushed first.
//! - On Upstash REST there is no push channel: entries live at most `max_staleness`.
//! - Writes sent by this process drop their keys as they are sent (`local_writes.rs`), so a
//!   process reads its own writes; a read racing a change never stores the old value
//!   (`store.rs`'s placeholders).
//! - Every entry also ends with its key's server TTL, read with the GET that fills it.

pub(crate) mod local_writes;
mod settings;
mod space;
mod store;
mod tracking;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;

pub use local_writes::ForgetOnWrite;
pub use settings::{NearSettings, DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, MIN_MAX_BYTES};
pub use space::{NearSpace, SPACES};
use store::Lookup;
pub use store::SpaceCounts;
pub use tracking::track;

/// Whether entries are being served, and why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracking {
    /// Invalidation connections are being opened (or reopened after a failure).
    Connecting = 0,
    /// Every server's invalidations are flowing: entries are served.
    Live = 1,
    /// No push channel (Upstash REST): entries are served for at most `max_staleness`.
    TtlOnly = 2,
    /// Turned off.
    Off = 3,
}

impl Tracking {
    pub fn name(self) -> &'static str {
        match self {
            Tracking::Connecting => "connecting",
            Tracking::Live => "live",
            Tracking::TtlOnly => "ttl-only",
            Tracking::Off => "off",
        }
    }

    fn from_u8(value: u8) -> Tracking {
        match value {
            1 => Tracking::Live,
            2 => Tracking::TtlOnly,
            3 => Tracking::Off,
            _ => Tracking::Connecting,
        }
    }
}

/// What `analytics.stats()` shows of the near cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearStats {
    pub tracking: Tracking,
    pub entries: usize,
    pub bytes: usize,
    pub max_bytes: usize,
    pub max_entries: usize,
    pub evictions: u64,
    pub spaces: [SpaceCounts; SPACES.len()],
    /// Key changes the servers announced (a flush counts one), cached here or not.
    pub announced: u64,
    /// Why tracking is not live, secrets masked.
    pub last_error: Option<String>,
    /// While live: the servers (`host:port`, sorted) whose announcements are heard, so a
    /// failover shows as the new master here.
    pub tracked_servers: Vec<String>,
}

pub struct NearCache {
    store: Mutex<store::Store>,
    /// Bit per `NearSpace` the cache answers.
    spaces: AtomicU8,
    /// 0: no bound beyond the server's TTL.
    max_staleness_ms: AtomicU64,
    tracking: AtomicU8,
    last_error: Mutex<Option<String>>,
    stopped: AtomicBool,
    stop: tokio::sync::Notify,
    /// The raw keys the `cache` namespace answers, by prefix (`None`: any).
    cache_prefixes: parking_lot::RwLock<Option<Vec<String>>>,
    /// The namespaces changed: tracking must be set up again for their prefixes.
    retrack: tokio::sync::Notify,
    announced: AtomicU64,
    /// Rounds of tracking connections (tracking.rs), and the one entries are served under.
    rounds: AtomicU64,
    live_round: AtomicU64,
    /// The servers of the live round; empty when not live.
    tracked_servers: Mutex<Vec<String>>,
}

/// `prefixes` without those another one covers (a server refuses overlapping BCAST prefixes).
fn minimal_prefixes(mut prefixes: Vec<String>) -> Vec<String> {
    prefixes.sort();
    let mut kept: Vec<String> = Vec::with_capacity(prefixes.len());
    for prefix in prefixes {
        if !kept
            .iter()
            .any(|shorter| prefix.starts_with(shorter.as_str()))
        {
            kept.push(prefix);
        }
    }
    kept
}

fn space_bits(spaces: &[NearSpace]) -> u8 {
    spaces.iter().fold(0, |bits, space| bits | space.bit())
}

impl NearCache {
    /// A near cache whose entries are served once `tracking.rs` says invalidations flow.
    pub fn tracked(settings: &NearSettings) -> Arc<NearCache> {
        NearCache::with_state(settings, Tracking::Connecting)
    }

    /// A near cache with no push channel: served at once, each entry for at most
    /// `max_staleness`, which is then required.
    pub fn ttl_only(settings: &NearSettings) -> Arc<NearCache> {
        NearCache::with_state(settings, Tracking::TtlOnly)
    }

    fn with_state(settings: &NearSettings, tracking: Tracking) -> Arc<NearCache> {
        let near = NearCache {
            store: Mutex::new(store::Store::new(settings.max_bytes, settings.max_entries)),
            // Set here, not by `apply`, which would take it for a change of namespaces.
            spaces: AtomicU8::new(space_bits(&settings.spaces)),
            max_staleness_ms: AtomicU64::new(0),
            tracking: AtomicU8::new(tracking as u8),
            last_error: Mutex::new(None),
            stopped: AtomicBool::new(false),
            stop: tokio::sync::Notify::new(),
            cache_prefixes: parking_lot::RwLock::new(settings.cache_prefixes.clone()),
            retrack: tokio::sync::Notify::new(),
            announced: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            live_round: AtomicU64::new(0),
            tracked_servers: Mutex::new(Vec::new()),
        };
        near.apply(settings);
        Arc::new(near)
    }

    /// New bounds, namespaces or staleness; entries over the bounds go now. An entry stored
    /// under a longer staleness bound is dropped too, so none outlives the new one.
    pub fn apply(&self, settings: &NearSettings) {
        let spaces = space_bits(&settings.spaces);
        let tracked = matches!(self.tracking(), Tracking::Live | Tracking::Connecting);
        let new_spaces = self.spaces.swap(spaces, Ordering::AcqRel) != spaces;
        let new_prefixes = {
            let mut prefixes = self.cache_prefixes.write();
            std::mem::replace(&mut *prefixes, settings.cache_prefixes.clone())
                != settings.cache_prefixes
        };
        if (new_spaces || new_prefixes) && tracked {
            // Other prefixes to track: nothing is served until the servers announce them.
            self.go_dark(None);
            self.retrack.notify_one();
        }
        let ms = settings
            .max_staleness
            .map_or(0, |d| (d.as_millis() as u64).max(1));
        let before = self.max_staleness_ms.swap(ms, Ordering::AcqRel);
        let mut store = self.store.lock();
        if ms != 0 && (before == 0 || ms < before) {
            store.clear(false);
        }
        store.set_bounds(settings.max_bytes, settings.max_entries);
    }

    pub fn tracking(&self) -> Tracking {
        Tracking::from_u8(self.tracking.load(Ordering::Acquire))
    }

    fn serving(&self) -> bool {
        matches!(self.tracking(), Tracking::Live | Tracking::TtlOnly)
    }

    /// The key prefixes the servers must announce changes of; `None`: every key (the `cache`
    /// namespace's keys are any).
    pub(crate) fn tracked_prefixes(&self) -> Option<Vec<String>> {
        let mut prefixes = Vec::new();
        for space in SPACES.into_iter().filter(|space| self.answers(*space)) {
            match (space.key_prefix(), &*self.cache_prefixes.read()) {
                (Some(prefix), _) => prefixes.push(prefix.to_string()),
                (None, Some(cache)) => prefixes.extend(cache.iter().cloned()),
                (None, None) => return None,
            }
        }
        Some(minimal_prefixes(prefixes))
    }

    /// Whether the near cache answers a read of `key` in `space`.
    fn answers_key(&self, space: NearSpace, key: &[u8]) -> bool {
        self.answers(space)
            && (space != NearSpace::Cache
                || self.cache_prefixes.read().as_ref().is_none_or(|prefixes| {
                    prefixes
                        .iter()
                        .any(|prefix| key.starts_with(prefix.as_bytes()))
                }))
    }

    /// Whether reads of `space` go through the near cache.
    pub fn answers(&self, space: NearSpace) -> bool {
        self.spaces.load(Ordering::Acquire) & space.bit() != 0
    }

    /// The entry for `key`, counted as a hit or a miss of `space`; on a miss, a placeholder
    /// for the read being issued now, whose reply may fill it (`None`: nothing may be stored
    /// now). Taken when the read is issued, in the caller's order: a write issued after it
    /// drops the placeholder, and the reply, which reads what was there before that write, is
    /// then not kept, however late it is sent or answered.
    pub fn read(&self, key: &[u8], space: NearSpace) -> NearRead {
        let serving = self.serving() && self.answers_key(space, key);
        let mut store = self.store.lock();
        if !serving {
            store.counts[space as usize].misses += 1;
            return NearRead::Miss(None);
        }
        let now = Instant::now();
        match store.lookup(key, space, now) {
            Lookup::Hit(value) => NearRead::Hit(value),
            Lookup::Miss => NearRead::Miss(Some(Fill(store.begin_fill(key, space, now)))),
        }
    }

    /// The entry for `key` as it stands (`None`: none), without counting it or taking a
    /// placeholder: for tests and diagnostics.
    pub fn peek(&self, key: &[u8]) -> Option<Option<Bytes>> {
        self.store.lock().peek(key, Instant::now())
    }

    /// Stores the reply to `fill`'s GET unless the key changed since the read was issued;
    /// `pttl_ms` is the server's PTTL for it (negative: no expiry, or no key).
    pub fn complete_fill(&self, key: &[u8], fill: Fill, value: Option<Bytes>, pttl_ms: i64) {
        let staleness = self.max_staleness_ms.load(Ordering::Acquire);
        self.store
            .lock()
            .complete_fill(key, fill.0, value, pttl_ms, staleness);
    }

    /// The GET of `fill` failed: nothing is stored.
    pub fn abandon_fill(&self, key: &[u8], fill: Fill) {
        self.store.lock().abandon_fill(key, fill.0);
    }

    /// A write of `key` by this process is about to be sent.
    pub fn forget(&self, key: &[u8]) {
        self.store.lock().forget(key, false);
    }

    /// The server says these keys changed.
    pub fn invalidate<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut store = self.store.lock();
        for key in keys {
            store.forget(key, true);
        }
    }

    /// Everything goes (a flush on the server, or this process wrote with FLUSHALL/FLUSHDB).
    pub fn invalidate_all(&self) {
        self.store.lock().clear(true);
    }

    /// The servers announced `changes` key changes (tracking.rs).
    pub(crate) fn heard(&self, changes: usize) {
        self.announced.fetch_add(changes as u64, Ordering::Relaxed);
    }

    /// Invalidations stopped flowing: nothing is served or stored until `go_live`.
    pub(crate) fn go_dark(&self, why: Option<String>) {
        let mut store = self.store.lock();
        if self.tracking() != Tracking::Off {
            self.tracking
                .store(Tracking::Connecting as u8, Ordering::Release);
        }
        self.end_live_round();
        store.clear(true);
        drop(store);
        if why.is_some() {
            *self.last_error.lock() = why;
        }
    }

    /// A new round of tracking connections is being opened.
    pub(crate) fn next_round(&self) -> u64 {
        self.rounds.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Invalidations flow from every server of `round` (`servers`): entries may be served
    /// (from an empty cache, as whatever was stored before may have missed a change).
    pub(crate) fn go_live(&self, round: u64, servers: Vec<String>) {
        let mut store = self.store.lock();
        store.clear(false);
        if self.tracking() == Tracking::Connecting {
            self.tracking.store(Tracking::Live as u8, Ordering::Release);
            self.live_round.store(round, Ordering::Release);
            *self.tracked_servers.lock() = servers;
        }
        *self.last_error.lock() = None;
    }

    /// A connection of `round` is gone: dark at once, where the loss is read, if that round is
    /// the one being served (a late loss from an earlier round changes nothing).
    pub(crate) fn lose(&self, round: u64) {
        let mut store = self.store.lock();
        if self.live_round.load(Ordering::Acquire) == round && self.tracking() == Tracking::Live {
            self.tracking
                .store(Tracking::Connecting as u8, Ordering::Release);
            self.end_live_round();
            store.clear(true);
        }
    }

    /// No round is served any more, and so no server is heard.
    fn end_live_round(&self) {
        self.live_round.store(0, Ordering::Release);
        self.tracked_servers.lock().clear();
    }

    /// Turned off: entries go, the tracking connections close.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.tracking.store(Tracking::Off as u8, Ordering::Release);
        self.tracked_servers.lock().clear();
        self.store.lock().clear(false);
        self.stop.notify_waiters();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> NearStats {
        let store = self.store.lock();
        NearStats {
            tracking: self.tracking(),
            entries: store.len(),
            bytes: store.bytes(),
            max_bytes: store.max_bytes,
            max_entries: store.max_entries,
            evictions: store.evictions,
            spaces: store.counts,
            announced: self.announced.load(Ordering::Relaxed),
            last_error: self.last_error.lock().clone(),
            tracked_servers: self.tracked_servers.lock().clone(),
        }
    }
}

/// What the near cache answers a read.
#[derive(Debug, PartialEq, Eq)]
pub enum NearRead {
    /// The stored value (`None`: the key does not exist).
    Hit(Option<Bytes>),
    /// Not here; the read goes to the server, and its reply fills the placeholder, if any.
    Miss(Option<Fill>),
}

/// A read's placeholder: only its reply may fill the entry. It crosses to JS and back as a
/// number (tickets stay far below 2^53).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill(u64);

impl Fill {
    pub fn ticket(self) -> u64 {
        self.0
    }

    pub fn from_ticket(ticket: u64) -> Fill {
        Fill(ticket)
    }
}

#[cfg(test)]
mod tests;
