//! The Redis Cluster backend (`REDIS_CLUSTER_URLS`): redis-rs's async cluster client (slot map,
//! MOVED/ASK redirects, topology refresh) behind the same deadline, lazy connection and circuit
//! breaker as the single-server backend.
//!
//! What a cluster changes, and where it is handled:
//! - single commands go to the master of their key's slot; multi-key commands whose keys span
//!   slots (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) are split per slot, sent in parallel and
//!   reassembled in the caller's order (`multikey.rs`); keyless ones that concern the whole
//!   keyspace (KEYS, DBSIZE, FLUSHDB) go to every master (the cluster client's routing);
//! - a pipeline is split by master (`pipeline.rs`, `owners.rs`), one sub-pipeline per master,
//!   all in parallel;
//! - MULTI/EXEC and scripts must name keys of one slot, as on any cluster (CROSSSLOT otherwise);
//! - SCAN walks every master behind one cursor (`scan.rs`);
//! - each master has its own circuit breaker, so a stalled master fails fast without failing
//!   calls to the others; what no single master serves (connecting, keyless commands) goes
//!   through one more circuit for the cluster as a whole.

mod direct;
mod multikey;
mod owners;
mod pipeline;
pub mod scan;
pub mod slot;
mod topology_watch;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::IntoConnectionInfo;

use crate::circuit::{Circuit, CircuitState, CircuitView};
use crate::lua::{eval_by_sha, eval_many_by_sha, Script, ScriptCall};
use crate::options::{BreakerPolicy, Timeouts};
use crate::redact::Secrets;
use crate::redis_protocol::convert::{from_value, to_redis_cmd};
use crate::redis_protocol::exchange::{
    checked_url, query, query_pipeline, redacted, within_deadline,
};
use crate::redis_protocol::lazy::LazyConnection;
use crate::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply, Result};

use owners::{host_port, slot_ranges, SlotOwners, SlotRange};
use pipeline::Group;
use scan::{masters_first_slots, next_master, ClusterCursor};
use slot::{placement, Placement};
use topology_watch::{Node, TopologyWatch};

/// Waits between the cluster client's own retries (redirects, reconnects during a failover),
/// in milliseconds: short, since the call deadline bounds the whole call anyway.
const MIN_RETRY_WAIT_MS: u64 = 10;
const MAX_RETRY_WAIT_MS: u64 = 200;

/// How much sooner than the call's deadline each master's share of a split call ends, so the
/// shares that did answer are collected before the call itself times out.
const SHARE_MARGIN: Duration = Duration::from_millis(50);

/// Calls in flight at once. redis-rs's cluster client queues requests in bounded channels (100
/// to its driver, 50 per node) that cannot be enlarged; a sender held back by a full one sends
/// on a later poll, when a call issued after it may already have sent. Below those bounds
/// every call queues its first command on its first poll, in issue order (order.rs).
const MAX_IN_FLIGHT: usize = 32;

pub struct ClusterBackend {
    /// The seed nodes' settings, parsed once from their URLs.
    seeds: Vec<redis::ConnectionInfo>,
    connection: Arc<LazyConnection<ClusterConnection>>,
    /// Discards the connection when a failover moved masters under it (topology_watch.rs).
    watch: Arc<TopologyWatch>,
    in_flight: tokio::sync::Semaphore,
    /// Which master serves which slot, to send a pipeline as one request per master and to
    /// pick a call's circuit; fetched on first need and again after a failure that may mean the
    /// slots moved.
    owners: Arc<Mutex<Option<Arc<SlotOwners>>>>,
    timeouts: Arc<Timeouts>,
    /// One circuit per master, by address (`host:port`), created on first use.
    circuits: Mutex<HashMap<Bytes, Arc<Circuit>>>,
    /// The circuit of what no single master serves: connecting, keyless commands.
    whole: Arc<Circuit>,
    breaker: Arc<BreakerPolicy>,
    secrets: Secrets,
    display_urls: String,
}

impl std::fmt::Debug for ClusterBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClusterBackend({})", self.display_urls)
    }
}

impl ClusterBackend {
    /// Validates the seed node URLs (`redis://`, `rediss://`, with user and password as in
    /// `REDIS_URL`); connects on first use.
    pub fn new(
        urls: &[String],
        timeouts: Arc<Timeouts>,
        breaker: Arc<BreakerPolicy>,
    ) -> Result<ClusterBackend> {
        if urls.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "REDIS_CLUSTER_URLS names no seed node",
            ));
        }
        let mut shown = Vec::with_capacity(urls.len());
        let mut secrets = Vec::new();
        for url in urls {
            let (display, url_secrets) = checked_url(url, "REDIS_CLUSTER_URLS")?;
            shown.push(display);
            secrets.push(url_secrets);
        }
        let secrets = Secrets::merge(secrets);
        let display_urls = shown.join(",");
        // The client is built once here to report bad URLs at once, and again per connection so
        // that the connect timeout follows configure().
        let seeds = urls
            .iter()
            .map(|url| url.as_str().into_connection_info())
            .collect::<redis::RedisResult<Vec<_>>>()
            .and_then(|seeds| client(&seeds, &timeouts).map(|_| seeds))
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "invalid REDIS_CLUSTER_URLS {display_urls}: {}",
                        secrets.redact(&e.to_string())
                    ),
                )
            })?;
        Ok(ClusterBackend {
            seeds,
            // A timeout means one master is slow, not that the connections (one per master,
            // which the cluster client keeps pairing replies on) are broken.
            connection: Arc::new(LazyConnection::kept_on_timeout()),
            watch: Arc::default(),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            owners: Arc::default(),
            timeouts,
            circuits: Mutex::new(HashMap::new()),
            whole: Arc::new(Circuit::within_deadline(breaker.clone())),
            breaker,
            secrets,
            display_urls,
        })
    }

    /// The seed URLs with their passwords masked.
    pub fn describe(&self) -> String {
        format!("redis-cluster {}", self.display_urls)
    }

    /// A new connection, with every script loaded on every master first, as the single-server
    /// backend does on each connection: a call meeting NOSCRIPT would be sent again by EVAL
    /// after calls issued later. redis-rs sends each SCRIPT LOAD to every master. Refusals (an
    /// ACL without SCRIPT) are ignored: EVALSHA then falls back to EVAL as before.
    ///
    /// The slot map is fetched with it: the calls that queued behind the connection attempt
    /// (which passed their turns, order.rs) then find both ready and send in issue order,
    /// instead of racing their own slot map fetches. It owns what it uses: it may outlive the
    /// call that started it (lazy.rs).
    fn connect(&self) -> impl Future<Output = Result<ClusterConnection>> + Send + 'static {
        let (seeds, timeouts, secrets) = (
            self.seeds.clone(),
            self.timeouts.clone(),
            self.secrets.clone(),
        );
        let (owners, watch) = (self.owners.clone(), self.watch.clone());
        async move {
            let seeds = direct::answering_seeds(&seeds, &secrets, timeouts.connect()).await;
            let client = client(&seeds, &timeouts).map_err(|e| redacted(&e, &secrets))?;
            let conn = client
                .get_async_connection()
                .await
                .map_err(|e| redacted(&e, &secrets))?;
            let loads = crate::lua::ALL.iter().map(|script| {
                let (mut conn, secrets) = (conn.clone(), &secrets);
                async move {
                    let load = Cmd::new("SCRIPT").arg("LOAD").arg(script.source);
                    match query(&mut conn, &load, secrets).await {
                        Err(err) if err.is_transport() => Err(err),
                        _ => Ok(()),
                    }
                }
            });
            futures_util::future::try_join_all(loads).await?;
            let ranges = fetch_slot_ranges(conn.clone(), &secrets).await?;
            *owners.lock() = Some(Arc::new(SlotOwners::new(&ranges)));
            watch.connected(&ranges);
            Ok(conn)
        }
    }

    /// Runs `op` on the connection within the call deadline, as one of at most MAX_IN_FLIGHT.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(ClusterConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        // The seeds' check and the cluster client's own connect each within the connect
        // timeout; the script loads and the slot map after them are round trips like a call's.
        let connect = || {
            let budget = self.timeouts.connect() * 2 + self.timeouts.call();
            self.whole
                .guarded(self.connection.resumable(budget, true, || self.connect()))
        };
        let outcome = self
            .connection
            .run(self.timeouts.call(), connect, |conn| async move {
                // Waited for within the deadline, and before the turn passes (the semaphore is
                // fair: calls get their permits in issue order).
                let _permit = self.in_flight.acquire().await;
                // A call's circuit comes from the slot map: fetched again here after a failure
                // dropped it, before the turn passes, it cannot let a later call overtake.
                self.owners(&conn).await?;
                crate::order::sends_on_first_poll(op(conn)).await
            })
            .await;
        if outcome.as_ref().is_err_and(Error::is_transport) {
            self.after_transport_failure();
        }
        outcome
    }

    fn after_transport_failure(&self) {
        let timeout = self.timeouts.call();
        self.watch
            .after_failure(&self.connection, &self.secrets, timeout, |watch| {
                self.nodes_to_ask(watch)
            });
    }

    /// Whom the topology watch asks on a connection of its own: the masters the connection
    /// started with, then the seeds (a promoted replica may be among them).
    fn nodes_to_ask(&self, watch: &TopologyWatch) -> Vec<Node> {
        let masters = watch.connected_masters().into_iter().filter_map(|address| {
            let settings = settings_at(&self.seeds[0], &address).ok()?;
            Some(Node { address, settings })
        });
        let seeds = self.seeds.iter().filter_map(|settings| {
            let address = match settings.addr() {
                redis::ConnectionAddr::Tcp(host, port)
                | redis::ConnectionAddr::TcpTls { host, port, .. } => format!("{host}:{port}"),
                _ => return None,
            };
            Some(Node {
                address: address.into(),
                settings: settings.clone(),
            })
        });
        let mut nodes: Vec<Node> = Vec::new();
        for node in masters.chain(seeds) {
            if !nodes.iter().any(|known| known.address == node.address) {
                nodes.push(node);
            }
        }
        nodes
    }

    /// The circuit of the master serving `slot` (the whole cluster's when none is known).
    async fn circuit_of(&self, conn: &ClusterConnection, slot: u16) -> Result<Arc<Circuit>> {
        let owners = self.owners(conn).await?;
        let Some(master) = owners.master_of(slot) else {
            return Ok(self.whole.clone());
        };
        let mut circuits = self.circuits.lock();
        let circuit = circuits
            .entry(master.clone())
            .or_insert_with(|| Arc::new(Circuit::within_deadline(self.breaker.clone())));
        Ok(circuit.clone())
    }

    /// `work`, carrying `calls` commands, through the circuit of the master serving `slot`.
    async fn on_master<T>(
        &self,
        conn: &ClusterConnection,
        slot: u16,
        calls: usize,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let circuit = self.circuit_of(conn, slot).await?;
        let outcome = circuit.guarded_for(calls, work).await;
        if outcome.as_ref().is_err_and(slots_may_have_moved) {
            *self.owners.lock() = None;
        }
        outcome
    }

    /// `work` for `cmd` through the circuit of the master its keys live on, or of the whole
    /// cluster when it has no single slot.
    async fn on_master_of<T>(
        &self,
        conn: &ClusterConnection,
        cmd: &Cmd,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match placement(cmd) {
            Placement::Slot(slot) => self.on_master(conn, slot, 1, work).await,
            Placement::Alone => self.whole.guarded(work).await,
        }
    }

    /// One command, routed by the cluster client; SCAN walks every master. `deadline` is the
    /// call's: a command split over masters gives each master's share a little less.
    async fn query(
        &self,
        mut conn: ClusterConnection,
        cmd: Cmd,
        deadline: Instant,
    ) -> Result<Reply> {
        if cmd.name() == "SCAN" {
            return self.scan_step(conn, cmd).await;
        }
        if let Some(split) = multikey::split(&cmd) {
            let parts: Vec<Cmd> = split.parts.iter().map(|(part, _)| part.clone()).collect();
            let replies = self.grouped(conn, &parts, deadline).await?;
            return multikey::merge(&split, replies);
        }
        let routed = conn.clone();
        self.on_master_of(&routed, &cmd, query(&mut conn, &cmd, &self.secrets))
            .await
    }

    /// One step of a keyspace walk across every master (see `scan.rs` for the cursor).
    async fn scan_step(&self, mut conn: ClusterConnection, cmd: Cmd) -> Result<Reply> {
        let parts = cmd.parts();
        let Some(cursor) = parts.get(1) else {
            return Err(Error::wrong_arity("scan"));
        };
        let cursor = ClusterCursor::parse(cursor)?;
        let node_cmd = Cmd::from_parts(
            [
                Bytes::from_static(b"SCAN"),
                cursor.node_cursor.to_string().into(),
            ]
            .into_iter()
            .chain(parts[2..].iter().cloned())
            .collect(),
        );
        let master = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(
            cursor.slot,
            SlotAddr::Master,
        )));
        let walked = conn.clone();
        let step = async {
            conn.route_command(to_redis_cmd(node_cmd.parts()), master)
                .await
                .map_err(|e| redacted(&e, &self.secrets))
                .and_then(from_value)
        };
        let reply = self.on_master(&walked, cursor.slot, 1, step).await?;
        let Reply::Array(mut pair) = reply else {
            return Err(Error::protocol("SCAN did not answer [cursor, keys]"));
        };
        if pair.len() != 2 {
            return Err(Error::protocol("SCAN did not answer [cursor, keys]"));
        }
        let node_next = pair[0]
            .clone()
            .into_bytes()
            .and_then(|c| std::str::from_utf8(&c).ok()?.parse::<u64>().ok())
            .ok_or_else(|| Error::protocol("SCAN answered a cursor that is not a number"))?;
        let next = if node_next != 0 {
            ClusterCursor {
                slot: cursor.slot,
                node_cursor: node_next,
            }
            .encode()
        } else {
            // This master is done: on to the next one, found in the current slot map.
            let ranges = self.slot_ranges(conn).await?;
            match next_master(&masters_first_slots(&ranges), cursor.slot) {
                Some(slot) => ClusterCursor {
                    slot,
                    node_cursor: 0,
                }
                .encode(),
                None => Bytes::from_static(b"0"),
            }
        };
        pair[0] = Reply::Bulk(next);
        Ok(Reply::Array(pair))
    }

    async fn slot_ranges(&self, conn: ClusterConnection) -> Result<Vec<SlotRange>> {
        fetch_slot_ranges(conn, &self.secrets).await
    }

    /// Connection settings for each master of `ranges`: the first seed's, at the master's
    /// address.
    fn master_settings(&self, ranges: &[SlotRange]) -> Result<Vec<redis::ConnectionInfo>> {
        let mut masters: Vec<&Bytes> = ranges.iter().map(|range| &range.master).collect();
        masters.sort();
        masters.dedup();
        masters
            .into_iter()
            .map(|master| settings_at(&self.seeds[0], master))
            .collect()
    }

    async fn owners(&self, conn: &ClusterConnection) -> Result<Arc<SlotOwners>> {
        if let Some(owners) = self.owners.lock().clone() {
            return Ok(owners);
        }
        let owners = Arc::new(SlotOwners::new(&self.slot_ranges(conn.clone()).await?));
        *self.owners.lock() = Some(owners.clone());
        Ok(owners)
    }

    /// `cmds` (of slots served by one master) as one pipeline to the master of `route`.
    async fn node_pipeline(
        &self,
        mut conn: ClusterConnection,
        route: u16,
        cmds: Vec<Cmd>,
    ) -> Result<Vec<Result<Reply>>> {
        let mut pipe = redis::pipe();
        for cmd in &cmds {
            pipe.add_command(to_redis_cmd(cmd.parts()));
        }
        let master = SingleNodeRoutingInfo::SpecificNode(Route::new(route, SlotAddr::Master));
        let routed = conn.clone();
        let sent = async {
            conn.route_pipeline(pipe, 0, cmds.len(), master)
                .await
                .map_err(|e| redacted(&e, &self.secrets))
        };
        let values = self.on_master(&routed, route, cmds.len(), sent).await?;
        if values.len() != cmds.len() {
            return Err(Error::protocol(format!(
                "pipeline of {} commands answered {} replies",
                cmds.len(),
                values.len()
            )));
        }
        Ok(values.into_iter().map(from_value).collect())
    }

    /// `cmds` as one request per master, all in parallel, replies in order. Each request ends
    /// a little before the call's `deadline`, so a stalled master fails only its own share and
    /// the others' replies still make it back (a tick's batch mixes every caller's keys).
    async fn grouped(
        &self,
        conn: ClusterConnection,
        cmds: &[Cmd],
        deadline: Instant,
    ) -> Result<Vec<Result<Reply>>> {
        let owners = self.owners(&conn).await?;
        let budget = deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(SHARE_MARGIN);
        let outcome = pipeline::run_split(
            cmds,
            |slot| owners.group_of(slot),
            |group| {
                let conn = conn.clone();
                let share = async move {
                    match group {
                        Group::Node { route, cmds } => self.node_pipeline(conn, route, cmds).await,
                        // Boxed: a command alone may be split again (an MGET across slots).
                        Group::Alone(cmd) => match self.query_boxed(conn, cmd, deadline).await {
                            Ok(reply) => Ok(vec![Ok(reply)]),
                            Err(err) if err.is_transport() => Err(err),
                            Err(err) => Ok(vec![Err(err)]),
                        },
                    }
                };
                within_deadline(budget, share)
            },
        )
        .await;
        if topology_changed(&outcome) {
            *self.owners.lock() = None;
        }
        if let Ok(items) = &outcome {
            if items
                .iter()
                .any(|item| item.as_ref().is_err_and(Error::is_transport))
            {
                self.after_transport_failure();
            }
        }
        outcome
    }

    fn query_boxed(
        &self,
        conn: ClusterConnection,
        cmd: Cmd,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<Reply>> + Send + '_>> {
        Box::pin(self.query(conn, cmd, deadline))
    }

    async fn split_pipeline(
        &self,
        conn: ClusterConnection,
        cmds: Vec<Cmd>,
        atomic: bool,
        deadline: Instant,
    ) -> Result<Vec<Result<Reply>>> {
        if atomic {
            let slot = pipeline::same_slot(&cmds)?;
            let routed = conn.clone();
            let mut conn = conn;
            let sent = query_pipeline(&mut conn, &cmds, true, &self.secrets);
            return match slot {
                Some(slot) => self.on_master(&routed, slot, 1, sent).await,
                None => self.whole.guarded(sent).await,
            };
        }
        self.grouped(conn, &cmds, deadline).await
    }

    /// When a call started now must be answered.
    fn deadline(&self) -> Instant {
        Instant::now() + self.timeouts.call()
    }
}

async fn fetch_slot_ranges(
    mut conn: ClusterConnection,
    secrets: &Secrets,
) -> Result<Vec<SlotRange>> {
    let cmd = Cmd::new("CLUSTER").arg("SLOTS");
    slot_ranges(query(&mut conn, &cmd, secrets).await?)
}

/// `seed`'s settings (credentials, TLS) at `address` (`host:port`, as CLUSTER SLOTS names it).
fn settings_at(seed: &redis::ConnectionInfo, address: &Bytes) -> Result<redis::ConnectionInfo> {
    let (host, port) = host_port(address).ok_or_else(|| {
        Error::protocol(format!(
            "CLUSTER SLOTS named {}",
            String::from_utf8_lossy(address)
        ))
    })?;
    let addr = match seed.addr() {
        redis::ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => redis::ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => redis::ConnectionAddr::Tcp(host, port),
    };
    Ok(seed.clone().set_addr(addr))
}

fn client(
    seeds: &[redis::ConnectionInfo],
    timeouts: &Timeouts,
) -> redis::RedisResult<ClusterClient> {
    ClusterClientBuilder::new(seeds.iter().cloned())
        .connection_timeout(timeouts.connect())
        .min_retry_wait(MIN_RETRY_WAIT_MS)
        .max_retry_wait(MAX_RETRY_WAIT_MS)
        .build()
}

/// Whether a failure may mean the slots moved (a node gone, a redirect): then the slot map is
/// fetched again before the next call. Not a timeout: a slow master still serves its slots,
/// and the refetch could wait on it.
fn slots_may_have_moved(err: &Error) -> bool {
    use redis::ServerErrorKind as S;
    matches!(err.kind, ErrorKind::Connection | ErrorKind::Protocol)
        || matches!(
            err.server,
            Some(S::Moved | S::Ask | S::ClusterDown | S::TryAgain)
        )
}

/// `slots_may_have_moved` for a split call: the call as a whole, or any of its items.
fn topology_changed(outcome: &Result<Vec<Result<Reply>>>) -> bool {
    match outcome {
        Err(err) => slots_may_have_moved(err),
        Ok(items) => items
            .iter()
            .any(|item| item.as_ref().is_err_and(slots_may_have_moved)),
    }
}

#[async_trait]
impl Backend for ClusterBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::RedisCluster
    }

    fn atomic_scope(&self, key: &[u8]) -> u16 {
        slot::key_slot(key)
    }

    /// Every master of the current slot map, with the first seed URL's credentials and TLS.
    async fn tracking_servers(&self) -> Option<Result<Vec<redis::ConnectionInfo>>> {
        let ranges = self
            .run(|conn| async move { self.slot_ranges(conn).await })
            .await;
        Some(ranges.and_then(|ranges| self.master_settings(&ranges)))
    }

    /// On the first seed node that answers: a cluster broadcasts every PUBLISH to all nodes, so
    /// any one of them hears every channel.
    async fn subscribe(
        &self,
        kind: crate::pubsub::Kind,
        names: Vec<Bytes>,
        events: tokio::sync::mpsc::Sender<crate::pubsub::Event>,
    ) -> Result<()> {
        let mut last = None;
        for seed in &self.seeds {
            let client = redis::Client::open(seed.clone())
                .map_err(|e| crate::redis_protocol::exchange::redacted(&e, &self.secrets))?;
            let connect = self.timeouts.connect();
            let attempt = crate::redis_protocol::exchange::subscribe_on(
                &client,
                connect,
                kind,
                names.clone(),
                events.clone(),
                &self.secrets,
            )
            .await;
            match attempt {
                Err(err) if matches!(err.kind, ErrorKind::Connection | ErrorKind::Timeout) => {
                    last = Some(err)
                }
                done => return done,
            }
        }
        Err(last.unwrap_or_else(|| Error::new(ErrorKind::Connection, "no seed node")))
    }

    async fn call(&self, cmd: Cmd) -> Result<Reply> {
        let deadline = self.deadline();
        self.run(|conn| self.query(conn, cmd, deadline)).await
    }

    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>> {
        let deadline = self.deadline();
        self.run(|conn| self.split_pipeline(conn, cmds, atomic, deadline))
            .await
    }

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> Result<Reply> {
        self.run(|conn| {
            eval_by_sha(script, keys, args, move |cmd| {
                let mut conn = conn.clone();
                async move {
                    let routed = conn.clone();
                    self.on_master_of(&routed, &cmd, query(&mut conn, &cmd, &self.secrets))
                        .await
                }
            })
        })
        .await
    }

    async fn eval_many(&self, calls: Vec<ScriptCall>) -> Result<Vec<Result<Reply>>> {
        let deadline = self.deadline();
        self.run(|conn| {
            eval_many_by_sha(&calls, move |cmds| {
                self.split_pipeline(conn.clone(), cmds, false, deadline)
            })
        })
        .await
    }
}

impl CircuitView for ClusterBackend {
    /// Open while any master's circuit (or the whole cluster's) is open.
    fn state(&self) -> CircuitState {
        let rank = |state: CircuitState| match state {
            CircuitState::Closed => 0,
            CircuitState::HalfOpen => 1,
            CircuitState::Open => 2,
        };
        let circuits = self.circuits.lock();
        circuits
            .values()
            .map(|c| c.state())
            .chain([self.whole.state()])
            .max_by_key(|&state| rank(state))
            .unwrap_or(CircuitState::Closed)
    }

    fn take_transitions(&self) -> Vec<(CircuitState, Option<String>)> {
        let mut events: Vec<(CircuitState, Option<String>)> = self
            .whole
            .take_transitions()
            .into_iter()
            .map(|state| (state, Some("cluster".to_string())))
            .collect();
        for (master, circuit) in self.circuits.lock().iter() {
            let master = String::from_utf8_lossy(master).into_owned();
            let states = circuit.take_transitions().into_iter();
            events.extend(states.map(|state| (state, Some(format!("master {master}")))));
        }
        events
    }

    fn last_error(&self) -> Option<String> {
        let circuits = self.circuits.lock();
        circuits
            .values()
            .chain([&self.whole])
            .filter_map(|c| c.last_failure())
            .max_by_key(|(at, _)| *at)
            .map(|(_, error)| error)
    }
}

#[cfg(test)]
mod redirect_tests {
    use super::*;
    use redis::ServerErrorKind as S;

    #[test]
    fn slots_are_refetched_on_the_typed_kind_not_on_text() {
        assert!(slots_may_have_moved(&Error::server(
            S::Moved,
            "MOVED 1 127.0.0.1:7001"
        )));
        assert!(slots_may_have_moved(&Error::server(
            S::Ask,
            "ASK 1 127.0.0.1:7001"
        )));
        // A command error whose text merely starts like a redirect (a Lua error_reply) is not one.
        assert!(!slots_may_have_moved(&Error::command("MOVED along")));
        assert!(!slots_may_have_moved(&Error::new(
            ErrorKind::Timeout,
            "slow"
        )));
    }
}
