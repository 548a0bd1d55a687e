//! Notices a failover the cluster client missed. redis-rs refreshes its slot map after MOVED
//! and a few other errors, but a call to a dead master is retried by redis-rs itself until the
//! call deadline ends it as a timeout: after the replica's promotion, calls on that master's
//! slots could go on timing out for seconds. So after a call failed in transport (at most once
//! per CHECK_EVERY), CLUSTER SLOTS is asked in the background; when its masters differ from
//! those the connection started with, the connection is discarded and the next call connects
//! with the new slot map. No call waits for the check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::cluster_async::ClusterConnection;

use super::owners::{slot_ranges, SlotRange};
use crate::redact::Secrets;
use crate::redis_protocol::exchange::query;
use crate::redis_protocol::lazy::LazyConnection;
use crate::Cmd;

const CHECK_EVERY: Duration = Duration::from_millis(250);

#[derive(Default)]
pub(super) struct TopologyWatch {
    /// The masters of the slot ranges the current connection started with, by range start.
    connected_with: Mutex<Option<Vec<SlotRange>>>,
    last_check: Mutex<Option<Instant>>,
}

fn sorted(mut ranges: Vec<SlotRange>) -> Vec<SlotRange> {
    ranges.sort_by_key(|range| range.start);
    ranges
}

impl TopologyWatch {
    /// A new connection started with `ranges`.
    pub(super) fn connected(&self, ranges: &[SlotRange]) {
        *self.connected_with.lock() = Some(sorted(ranges.to_vec()));
    }

    /// A call failed in transport: checks the slot map in the background, unless a check
    /// started less than CHECK_EVERY ago (or there is no runtime to run it on).
    pub(super) fn after_failure(
        self: &Arc<Self>,
        connection: &Arc<LazyConnection<ClusterConnection>>,
        secrets: &Secrets,
        timeout: Duration,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // No connection: the next call connects with a fresh slot map anyway.
        let Some((generation, mut conn)) = connection.current() else {
            return;
        };
        {
            let mut last = self.last_check.lock();
            if last.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let (watch, connection, secrets) = (self.clone(), connection.clone(), secrets.clone());
        runtime.spawn(async move {
            let cmd = Cmd::new("CLUSTER").arg("SLOTS");
            let Ok(Ok(reply)) =
                tokio::time::timeout(timeout, query(&mut conn, &cmd, &secrets)).await
            else {
                return;
            };
            let Ok(now) = slot_ranges(reply) else {
                return;
            };
            if watch.moved_since_connect(now) {
                connection.discard(generation);
            }
        });
    }

    fn moved_since_connect(&self, now: Vec<SlotRange>) -> bool {
        let now = sorted(now);
        // An empty answer is a node that lost its view (it knows no slots), not a new map.
        !now.is_empty()
            && self
                .connected_with
                .lock()
                .as_ref()
                .is_some_and(|then| *then != now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn range(start: u16, end: u16, master: &str) -> SlotRange {
        SlotRange {
            start,
            end,
            master: Bytes::from(master.to_owned()),
        }
    }

    #[test]
    fn a_new_master_for_any_range_is_a_move_whatever_the_order_of_the_answer() {
        let watch = TopologyWatch::default();
        assert!(
            !watch.moved_since_connect(vec![range(0, 9, "a:1")]),
            "nothing to compare"
        );
        watch.connected(&[range(0, 9, "a:1"), range(10, 16383, "b:1")]);
        assert!(!watch.moved_since_connect(vec![range(10, 16383, "b:1"), range(0, 9, "a:1")]));
        assert!(watch.moved_since_connect(vec![range(0, 9, "a:1"), range(10, 16383, "c:1")]));
        assert!(
            !watch.moved_since_connect(Vec::new()),
            "a node without a view"
        );
    }
}
