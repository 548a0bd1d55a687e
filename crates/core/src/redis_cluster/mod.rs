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
//! - SCAN walks every master behind one cursor (`scan.rs`).

mod multikey;
mod owners;
mod pipeline;
pub mod scan;
pub mod slot;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

use crate::options::Timeouts;
use crate::redact::Secrets;
use crate::redis_protocol::convert::{from_value, to_redis_cmd};
use crate::redis_protocol::exchange::{checked_url, query, query_pipeline, redacted};
use crate::redis_protocol::lazy::LazyConnection;
use crate::script::{eval_by_sha, eval_many_by_sha, Script, ScriptCall};
use crate::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply, Result};

use owners::{slot_ranges, SlotOwners, SlotRange};
use pipeline::Group;
use scan::{masters_first_slots, next_master, ClusterCursor};

/// Waits between the cluster client's own retries (redirects, reconnects during a failover),
/// in milliseconds: short, since the call deadline bounds the whole call anyway.
const MIN_RETRY_WAIT_MS: u64 = 10;
const MAX_RETRY_WAIT_MS: u64 = 200;

/// Calls in flight at once. redis-rs's cluster client queues requests in bounded channels (100
/// to its driver, 50 per node) that cannot be enlarged; a sender held back by a full one sends
/// on a later poll, when a call issued after it may already have sent. Below those bounds
/// every call queues its first command on its first poll, in issue order (order.rs).
const MAX_IN_FLIGHT: usize = 32;

pub struct ClusterBackend {
    urls: Vec<String>,
    connection: LazyConnection<ClusterConnection>,
    in_flight: tokio::sync::Semaphore,
    /// Which master serves which slot, to send a pipeline as one request per master; fetched
    /// on first need and again after a split call failed.
    owners: Mutex<Option<Arc<SlotOwners>>>,
    timeouts: Arc<Timeouts>,
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
    pub fn new(urls: &[String], timeouts: Arc<Timeouts>) -> Result<ClusterBackend> {
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
        // Built once here to report bad URLs at once, and again per connection so that the
        // connect timeout follows configure().
        client(urls, &timeouts).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "invalid REDIS_CLUSTER_URLS {display_urls}: {}",
                    secrets.redact(&e.to_string())
                ),
            )
        })?;
        Ok(ClusterBackend {
            urls: urls.to_vec(),
            connection: LazyConnection::new(),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            owners: Mutex::new(None),
            timeouts,
            secrets,
            display_urls,
        })
    }

    /// The seed URLs with their passwords masked.
    pub fn describe(&self) -> String {
        format!("redis-cluster {}", self.display_urls)
    }

    async fn connect(&self) -> Result<ClusterConnection> {
        let client = client(&self.urls, &self.timeouts).map_err(|e| redacted(&e, &self.secrets))?;
        client
            .get_async_connection()
            .await
            .map_err(|e| redacted(&e, &self.secrets))
    }

    /// Runs `op` on the connection within the call deadline, as one of at most MAX_IN_FLIGHT.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(ClusterConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.connection
            .run(
                self.timeouts.call(),
                || self.connect(),
                |conn| async move {
                    // Waited for within the deadline, and before the turn passes (the semaphore is
                    // fair: calls get their permits in issue order).
                    let _permit = self.in_flight.acquire().await;
                    crate::order::sends_on_first_poll(op(conn)).await
                },
            )
            .await
    }

    /// One command, routed by the cluster client; SCAN walks every master.
    async fn query(&self, mut conn: ClusterConnection, cmd: Cmd) -> Result<Reply> {
        if cmd.name() == "SCAN" {
            return self.scan_step(conn, cmd).await;
        }
        if let Some(split) = multikey::split(&cmd) {
            let parts: Vec<Cmd> = split.parts.iter().map(|(part, _)| part.clone()).collect();
            let replies = self.grouped(conn, &parts).await?;
            return multikey::merge(&split, replies);
        }
        query(&mut conn, &cmd, &self.secrets).await
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
        let reply = conn
            .route_command(to_redis_cmd(&node_cmd), master)
            .await
            .map_err(|e| redacted(&e, &self.secrets))
            .and_then(from_value)?;
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

    async fn slot_ranges(&self, mut conn: ClusterConnection) -> Result<Vec<SlotRange>> {
        let cmd = Cmd::new("CLUSTER").arg("SLOTS");
        slot_ranges(query(&mut conn, &cmd, &self.secrets).await?)
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
            pipe.add_command(to_redis_cmd(cmd));
        }
        let master = SingleNodeRoutingInfo::SpecificNode(Route::new(route, SlotAddr::Master));
        let values = conn
            .route_pipeline(pipe, 0, cmds.len(), master)
            .await
            .map_err(|e| redacted(&e, &self.secrets))?;
        if values.len() != cmds.len() {
            return Err(Error::protocol(format!(
                "pipeline of {} commands answered {} replies",
                cmds.len(),
                values.len()
            )));
        }
        Ok(values.into_iter().map(from_value).collect())
    }

    /// `cmds` as one request per master, all in parallel, replies in order.
    async fn grouped(&self, conn: ClusterConnection, cmds: &[Cmd]) -> Result<Vec<Result<Reply>>> {
        let owners = self.owners(&conn).await?;
        let outcome = pipeline::run_split(
            cmds,
            |slot| owners.group_of(slot),
            |group| {
                let conn = conn.clone();
                async move {
                    match group {
                        Group::Node { route, cmds } => self.node_pipeline(conn, route, cmds).await,
                        // Boxed: a command alone may be split again (an MGET across slots).
                        Group::Alone(cmd) => match self.query_boxed(conn, cmd).await {
                            Ok(reply) => Ok(vec![Ok(reply)]),
                            Err(err) if err.is_transport() => Err(err),
                            Err(err) => Ok(vec![Err(err)]),
                        },
                    }
                }
            },
        )
        .await;
        if topology_changed(&outcome) {
            *self.owners.lock() = None;
        }
        outcome
    }

    fn query_boxed(
        &self,
        conn: ClusterConnection,
        cmd: Cmd,
    ) -> Pin<Box<dyn Future<Output = Result<Reply>> + Send + '_>> {
        Box::pin(self.query(conn, cmd))
    }

    async fn split_pipeline(
        &self,
        conn: ClusterConnection,
        cmds: Vec<Cmd>,
        atomic: bool,
    ) -> Result<Vec<Result<Reply>>> {
        if atomic {
            pipeline::same_slot(&cmds)?;
            let mut conn = conn;
            return query_pipeline(&mut conn, &cmds, true, &self.secrets).await;
        }
        self.grouped(conn, &cmds).await
    }
}

fn client(urls: &[String], timeouts: &Timeouts) -> redis::RedisResult<ClusterClient> {
    ClusterClientBuilder::new(urls.iter().map(String::as_str))
        .connection_timeout(timeouts.connect())
        .min_retry_wait(MIN_RETRY_WAIT_MS)
        .max_retry_wait(MAX_RETRY_WAIT_MS)
        .build()
}

/// Whether a split call met a failure that may mean the slots moved: then the grouping by
/// master is fetched again before the next one.
fn topology_changed(outcome: &Result<Vec<Result<Reply>>>) -> bool {
    let moved = |err: &Error| {
        err.is_transport()
            || ["MOVED", "ASK", "CLUSTERDOWN", "TRYAGAIN"]
                .iter()
                .any(|code| err.message.starts_with(code))
    };
    match outcome {
        Err(err) => moved(err),
        Ok(items) => items.iter().any(|item| item.as_ref().is_err_and(moved)),
    }
}

#[async_trait]
impl Backend for ClusterBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::RedisCluster
    }

    async fn call(&self, cmd: Cmd) -> Result<Reply> {
        self.run(|conn| self.query(conn, cmd)).await
    }

    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>> {
        self.run(|conn| self.split_pipeline(conn, cmds, atomic))
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
                async move { query(&mut conn, &cmd, &self.secrets).await }
            })
        })
        .await
    }

    async fn eval_many(&self, calls: Vec<ScriptCall>) -> Result<Vec<Result<Reply>>> {
        self.run(|conn| {
            eval_many_by_sha(&calls, move |cmds| {
                self.split_pipeline(conn.clone(), cmds, false)
            })
        })
        .await
    }
}
