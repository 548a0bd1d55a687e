//! Blocks answered from memory. A client the limiter refused is refused again here, without a
//! round trip, until its retry time, but for at most MAX_LOCAL_BLOCK at a time: a reset in
//! another process (which cannot reach this memory) lifts the block here within that bound,
//! while a blocked client hammering the limiter costs at most one round trip per second and
//! process.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::rate_limit::{RateLimitDecision, RateLimitRequest};

/// Blocks kept at most; past this, expired ones are dropped, then arbitrary ones.
const MAX_ENTRIES: usize = 10_000;
const MAX_LOCAL_BLOCK: Duration = Duration::from_secs(1);

struct Block {
    /// When a request of the same cost is allowed again.
    until: Instant,
    /// When the whole quota is available again.
    reset_at: Instant,
    /// Until when this block is answered from memory.
    local_until: Instant,
}

/// Keyed by the whole request: a block for one limit says nothing about another.
#[derive(Default)]
pub(crate) struct LocalBlocks {
    entries: Mutex<HashMap<RateLimitRequest, Block>>,
}

impl LocalBlocks {
    /// The refusal to answer from memory, if `request` is known to be blocked.
    pub(crate) fn known(&self, request: &RateLimitRequest) -> Option<RateLimitDecision> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let block = entries.get(request)?;
        if block.local_until <= now {
            entries.remove(request);
            return None;
        }
        // Rounded up, as the server's own milliseconds are: a block never reads shorter.
        let ms = |at: Instant| at.saturating_duration_since(now).as_micros().div_ceil(1000) as u64;
        Some(RateLimitDecision {
            allowed: false,
            remaining: 0,
            reset_ms: ms(block.reset_at),
            retry_after_ms: ms(block.until),
        })
    }

    /// Remembers a refusal the server answered.
    pub(crate) fn record(&self, request: &RateLimitRequest, decision: &RateLimitDecision) {
        if decision.allowed || decision.retry_after_ms == 0 {
            return;
        }
        let now = Instant::now();
        let until = now + Duration::from_millis(decision.retry_after_ms);
        let block = Block {
            until,
            reset_at: now + Duration::from_millis(decision.reset_ms),
            local_until: until.min(now + MAX_LOCAL_BLOCK),
        };
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(request) {
            entries.retain(|_, block| block.local_until > now);
            // Still full of live blocks: a tenth goes at once, so the sweep is not paid again
            // on every refusal (a dropped block only costs its client one round trip).
            if entries.len() >= MAX_ENTRIES {
                let dropped: Vec<RateLimitRequest> =
                    entries.keys().take(MAX_ENTRIES / 10).cloned().collect();
                for request in dropped {
                    entries.remove(&request);
                }
            }
        }
        entries.insert(request.clone(), block);
    }

    /// Forgets every block of `id` (its limits were reset).
    pub(crate) fn forget(&self, id: &str) {
        self.entries.lock().retain(|request, _| request.id != id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Algorithm;

    fn request(id: &str, limit: u64) -> RateLimitRequest {
        RateLimitRequest {
            id: id.into(),
            algorithm: Algorithm::TokenBucket,
            limit,
            window_seconds: 60,
            cost: 1,
        }
    }

    fn refused(retry_after_ms: u64, reset_ms: u64) -> RateLimitDecision {
        RateLimitDecision {
            allowed: false,
            remaining: 0,
            reset_ms,
            retry_after_ms,
        }
    }

    #[test]
    fn a_refusal_is_answered_locally_for_that_exact_limit_until_reset() {
        let blocks = LocalBlocks::default();
        blocks.record(&request("a", 2), &refused(30_000, 60_000));
        let known = blocks.known(&request("a", 2)).expect("blocked");
        assert!(!known.allowed);
        assert!((29_000..=30_000).contains(&known.retry_after_ms));
        assert!((59_000..=60_000).contains(&known.reset_ms));
        assert!(blocks.known(&request("a", 3)).is_none(), "another limit");
        assert!(blocks.known(&request("b", 2)).is_none(), "another client");
        blocks.forget("a");
        assert!(blocks.known(&request("a", 2)).is_none());
    }

    #[test]
    fn an_allowed_answer_or_one_without_retry_time_is_not_remembered() {
        let blocks = LocalBlocks::default();
        let allowed = RateLimitDecision {
            allowed: true,
            remaining: 1,
            reset_ms: 1000,
            retry_after_ms: 0,
        };
        blocks.record(&request("a", 2), &allowed);
        blocks.record(&request("b", 2), &refused(0, 1000));
        assert_eq!(blocks.len(), 0);
    }

    #[test]
    fn a_block_is_answered_from_memory_for_at_most_its_retry_time() {
        let blocks = LocalBlocks::default();
        blocks.record(&request("a", 2), &refused(20, 20));
        assert!(blocks.known(&request("a", 2)).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(blocks.known(&request("a", 2)).is_none());
        assert_eq!(blocks.len(), 0, "the expired block was dropped");
    }

    #[test]
    fn the_number_of_blocks_is_bounded() {
        let blocks = LocalBlocks::default();
        for i in 0..MAX_ENTRIES + 500 {
            blocks.record(&request(&i.to_string(), 2), &refused(30_000, 60_000));
        }
        assert!(blocks.len() <= MAX_ENTRIES, "{}", blocks.len());
        let last = (MAX_ENTRIES + 499).to_string();
        assert!(
            blocks.known(&request(&last, 2)).is_some(),
            "the newest is kept"
        );
    }
}
