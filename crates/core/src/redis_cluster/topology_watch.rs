//! Notices a failover the cluster client missed. redis-rs refreshes its slot map after MOVED
//! and a few other errors, but a call to a dead master is retried by redis-rs itself until the
//! call deadline ends it as a timeout: after the replica's promotion, calls on that master's
//! slots could go on timing out for seconds. So after a call failed in transport (at most once
//! per CHECK_EVERY), CLUSTER SLOTS is asked in the background; when its masters differ from
//! those the connection started with, the connection is discarded and the next call connects
//! with the new slot map. No call waits for the check.
//!
//! The slot map alone can miss it: the connection's own map may come from another node than the
//! answer it was compared with, read while the cluster's views still differed (a CI run once
//! kept timing out on the promoted master's slots for seconds with both answers alike). So the
//! check also asks each master of the answer for a PING on a connection of its own: when every
//! one answers, the cluster is fine and the failing calls are the connection's fault; twice so
//! within HEALTHY_SPAN and the connection is replaced. A master that is only slow (its calls
//! time out, its PING too) keeps the connection, which its peers' calls still use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, ConnectionInfo};

use super::owners::{slot_ranges, SlotRange};
use crate::redact::Secrets;
use crate::redis_protocol::exchange::query;
use crate::redis_protocol::lazy::LazyConnection;
use crate::{Cmd, Result};

const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How close together two checks that found every master answering must be to replace the
/// connection: one alone may be a call that timed out on a loaded machine.
const HEALTHY_SPAN: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(super) struct TopologyWatch {
    /// The masters of the slot ranges the current connection started with, by range start.
    connected_with: Mutex<Option<Vec<SlotRange>>>,
    last_check: Mutex<Option<Instant>>,
    /// When a check last found the slot map unchanged and every master answering, since the
    /// current connection started.
    healthy_while_failing: Mutex<Option<Instant>>,
}

fn sorted(mut ranges: Vec<SlotRange>) -> Vec<SlotRange> {
    ranges.sort_by_key(|range| range.start);
    ranges
}

impl TopologyWatch {
    /// A new connection started with `ranges`.
    pub(super) fn connected(&self, ranges: &[SlotRange]) {
        *self.connected_with.lock() = Some(sorted(ranges.to_vec()));
        *self.healthy_while_failing.lock() = None;
    }

    /// A call failed in transport: checks the slot map and the masters in the background,
    /// unless a check started less than CHECK_EVERY ago (or there is no runtime to run it on).
    /// `masters` gives the connection settings of the masters of an answer.
    pub(super) fn after_failure(
        self: &Arc<Self>,
        connection: &Arc<LazyConnection<ClusterConnection>>,
        secrets: &Secrets,
        timeout: Duration,
        masters: impl FnOnce(&[SlotRange]) -> Result<Vec<ConnectionInfo>> + Send + 'static,
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
            if watch.moved_since_connect(&now) {
                connection.discard(generation);
                return;
            }
            let Ok(masters) = masters(&now) else {
                return;
            };
            let healthy = !masters.is_empty() && every_master_answers(masters, timeout).await;
            if watch.failing_while_healthy(healthy, Instant::now()) {
                connection.discard(generation);
            }
        });
    }

    fn moved_since_connect(&self, now: &[SlotRange]) -> bool {
        let now = sorted(now.to_vec());
        // An empty answer is a node that lost its view (it knows no slots), not a new map.
        !now.is_empty()
            && self
                .connected_with
                .lock()
                .as_ref()
                .is_some_and(|then| *then != now)
    }

    /// Records a check's finding; true when calls failed while every master answered twice
    /// within HEALTHY_SPAN: the connection is what is wrong.
    fn failing_while_healthy(&self, healthy: bool, at: Instant) -> bool {
        let mut last = self.healthy_while_failing.lock();
        if !healthy {
            *last = None;
            return false;
        }
        if last.is_some_and(|then| at.saturating_duration_since(then) <= HEALTHY_SPAN) {
            *last = None;
            return true;
        }
        *last = Some(at);
        false
    }
}

/// Whether each master answers a PING within `timeout` on a connection of its own.
async fn every_master_answers(masters: Vec<ConnectionInfo>, timeout: Duration) -> bool {
    let pings = masters.into_iter().map(|info| async move {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let ping = async {
            let client = redis::Client::open(info)?;
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            redis::cmd("PING")
                .query_async::<redis::Value>(&mut conn)
                .await
        };
        matches!(tokio::time::timeout(timeout, ping).await, Ok(Ok(_)))
    });
    futures_util::future::join_all(pings)
        .await
        .into_iter()
        .all(|answered| answered)
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
            !watch.moved_since_connect(&[range(0, 9, "a:1")]),
            "nothing to compare"
        );
        watch.connected(&[range(0, 9, "a:1"), range(10, 16383, "b:1")]);
        assert!(!watch.moved_since_connect(&[range(10, 16383, "b:1"), range(0, 9, "a:1")]));
        assert!(watch.moved_since_connect(&[range(0, 9, "a:1"), range(10, 16383, "c:1")]));
        assert!(!watch.moved_since_connect(&[]), "a node without a view");
    }

    #[test]
    fn the_connection_is_blamed_when_every_master_answered_twice_within_the_span() {
        let watch = TopologyWatch::default();
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert!(
            !watch.failing_while_healthy(true, at(0)),
            "once may be a loaded machine"
        );
        assert!(watch.failing_while_healthy(true, at(300)));
        assert!(
            !watch.failing_while_healthy(true, at(600)),
            "counted afresh after a discard"
        );

        assert!(
            !watch.failing_while_healthy(false, at(900)),
            "a master did not answer"
        );
        assert!(!watch.failing_while_healthy(true, at(1200)));
        assert!(
            !watch.failing_while_healthy(true, at(1200 + 2001)),
            "too far apart"
        );
        assert!(watch.failing_while_healthy(true, at(1200 + 2300)));

        assert!(!watch.failing_while_healthy(true, at(6000)));
        watch.connected(&[range(0, 16383, "a:1")]);
        assert!(
            !watch.failing_while_healthy(true, at(6100)),
            "a new connection starts afresh"
        );
    }
}
