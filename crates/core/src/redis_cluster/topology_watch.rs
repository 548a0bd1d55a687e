//! Notices what the cluster client cannot get out of by itself, after a call failed in
//! transport (at most once per CHECK_EVERY, in the background; no call waits for the check):
//!
//! - a failover it missed: a call to a dead master is retried by redis-rs itself until the call
//!   deadline ends it, so after the replica's promotion calls on that master's slots could go on
//!   timing out for seconds;
//! - its own driver stuck: redis-rs 1.8 refreshes its slot map under a lock that requests also
//!   take, and stops polling requests while it refreshes; when a request was granted the lock
//!   but is never polled again, the refresh, and every call with it, can wait forever, on every
//!   master (seen after a master was killed: all calls timed out, 7.7 s in one run, until the
//!   run ended).
//!
//! So the check asks CLUSTER SLOTS on connections of its own, of the masters the connection
//! started with and the seeds at once, and takes the first answer. When the masters differ
//! from those the connection started with, the connection is discarded and the next call
//! connects with the new slot map. When they are the same, a PING goes to the node that just
//! answered through the cluster client: if it times out twice in a row within STUCK_SPAN, the
//! client is what is wrong and the connection is discarded too. A master that is only slow
//! keeps the connection: the node the check asks is one that answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::StreamExt;
use parking_lot::Mutex;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::ConnectionInfo;

use super::direct;
use super::owners::{host_port, slot_ranges, SlotRange};
use crate::redact::Secrets;
use crate::redis_protocol::lazy::LazyConnection;
use crate::Cmd;

const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How close together two checks that found the cluster client stuck must be to replace the
/// connection: one alone may be a PING that waited behind a burst on a loaded machine.
const STUCK_SPAN: Duration = Duration::from_secs(2);

/// A node the check may ask directly: its address as CLUSTER SLOTS names it (`host:port`) and
/// the settings to connect to it with.
pub(super) struct Node {
    pub(super) address: Bytes,
    pub(super) settings: ConnectionInfo,
}

#[derive(Default)]
pub(super) struct TopologyWatch {
    /// The masters of the slot ranges the current connection started with, by range start.
    connected_with: Mutex<Option<Vec<SlotRange>>>,
    last_check: Mutex<Option<Instant>>,
    /// The connection (its generation) a check last found stuck, and when that check ended.
    stuck_at: Mutex<Option<(u64, Instant)>>,
}

fn sorted(mut ranges: Vec<SlotRange>) -> Vec<SlotRange> {
    ranges.sort_by_key(|range| range.start);
    ranges
}

impl TopologyWatch {
    /// A new connection started with `ranges`.
    pub(super) fn connected(&self, ranges: &[SlotRange]) {
        *self.connected_with.lock() = Some(sorted(ranges.to_vec()));
        *self.stuck_at.lock() = None;
    }

    /// The masters the current connection started with, each once, in slot order.
    pub(super) fn connected_masters(&self) -> Vec<Bytes> {
        let mut masters: Vec<Bytes> = Vec::new();
        for range in self.connected_with.lock().iter().flatten() {
            if !masters.contains(&range.master) {
                masters.push(range.master.clone());
            }
        }
        masters
    }

    /// A call failed in transport: checks in the background, unless a check started less than
    /// CHECK_EVERY ago (or there is no runtime to run it on). `nodes` lists whom to ask.
    pub(super) fn after_failure(
        self: &Arc<Self>,
        connection: &Arc<LazyConnection<ClusterConnection>>,
        secrets: &Secrets,
        timeout: Duration,
        nodes: impl FnOnce(&TopologyWatch) -> Vec<Node>,
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
        let nodes = nodes(self);
        let started = Instant::now();
        let (watch, connection, secrets) = (self.clone(), connection.clone(), secrets.clone());
        runtime.spawn(async move {
            // No node answers: the cluster itself is down, nothing to learn from the client.
            let Some((node, now)) = ask_directly(nodes, &secrets, timeout).await else {
                return;
            };
            if watch.moved_since_connect(now) {
                connection.discard(generation);
                return;
            }
            let reached = tokio::time::timeout(timeout, ping_through(&mut conn, &node)).await;
            if watch.found_stuck(generation, reached.is_err(), started, Instant::now()) {
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

    /// Records a finding of a check of connection `generation` that ran from `started` to
    /// `ended`; true on the second in a row, within STUCK_SPAN, that found the cluster client
    /// unable to reach a node that answered on its own connection. The two must not overlap
    /// (one stall would count twice) and must concern the same connection.
    fn found_stuck(&self, generation: u64, stuck: bool, started: Instant, ended: Instant) -> bool {
        let mut last = self.stuck_at.lock();
        let same = |then: &(u64, Instant)| then.0 == generation;
        if !stuck {
            if last.as_ref().is_some_and(same) {
                *last = None;
            }
            return false;
        }
        let second = last.as_ref().is_some_and(|then| {
            same(then) && started >= then.1 && ended.saturating_duration_since(then.1) <= STUCK_SPAN
        });
        *last = if second {
            None
        } else {
            Some((generation, ended))
        };
        second
    }
}

/// CLUSTER SLOTS from whichever of `nodes` answers first within `timeout` (all asked at once,
/// each on a connection of its own): the node's address and its slot map.
async fn ask_directly(
    nodes: Vec<Node>,
    secrets: &Secrets,
    timeout: Duration,
) -> Option<(Bytes, Vec<SlotRange>)> {
    let cmd = Cmd::new("CLUSTER").arg("SLOTS");
    let (addresses, settings): (Vec<_>, Vec<_>) = nodes
        .into_iter()
        .map(|node| (node.address, node.settings))
        .unzip();
    let mut replies = direct::answers(settings, &cmd, secrets, timeout);
    while let Some((i, reply)) = replies.next().await {
        if let Ok(ranges) = slot_ranges(reply) {
            return Some((addresses[i].clone(), ranges));
        }
    }
    None
}

/// A PING to the node at `address` through the cluster client. Any answer, even an error
/// (a node the client has no connection to), shows that the client's driver runs.
async fn ping_through(conn: &mut ClusterConnection, address: &Bytes) {
    let Some((host, port)) = host_port(address) else {
        return;
    };
    let node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
    let _ = conn.route_command(redis::cmd("PING"), node).await;
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_connection_is_stuck_only_after_two_findings_in_a_row_close_together() {
        let watch = TopologyWatch::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // (started, ended) of checks of connection 1.
        assert!(
            !watch.found_stuck(1, true, t0, t0 + ms(500)),
            "one finding alone"
        );
        assert!(watch.found_stuck(1, true, t0 + ms(600), t0 + ms(1100)));
        assert!(
            !watch.found_stuck(1, true, t0 + ms(1200), t0 + ms(1700)),
            "starts over"
        );
        assert!(!watch.found_stuck(1, false, t0 + ms(1800), t0 + ms(1900)));
        assert!(
            !watch.found_stuck(1, true, t0 + ms(2000), t0 + ms(2500)),
            "an answer between breaks the row"
        );
        assert!(
            !watch.found_stuck(1, true, t0 + ms(2250), t0 + ms(2750)),
            "overlapping the first: the same stall"
        );
        assert!(
            !watch.found_stuck(
                1,
                true,
                t0 + ms(2800) + STUCK_SPAN * 2,
                t0 + ms(3300) + STUCK_SPAN * 2
            ),
            "too far apart"
        );
        assert!(
            !watch.found_stuck(2, true, t0 + ms(9000), t0 + ms(9500)),
            "another connection's finding does not count"
        );
        watch.connected(&[range(0, 16383, "a:1")]);
        assert!(
            !watch.found_stuck(2, true, t0 + ms(9600), t0 + ms(10000)),
            "a new connection starts over"
        );
    }

    #[test]
    fn the_masters_it_started_with_each_once() {
        let watch = TopologyWatch::default();
        assert!(watch.connected_masters().is_empty());
        watch.connected(&[
            range(10, 19, "b:1"),
            range(0, 9, "a:1"),
            range(20, 29, "b:1"),
        ]);
        assert_eq!(
            watch.connected_masters(),
            vec![Bytes::from("a:1"), Bytes::from("b:1")]
        );
    }
}
