//! The Redis protocol backend (`REDIS_URL`): one shared multiplexed connection (redis-rs's
//! connection manager), opened lazily on first use so that `require` never blocks and a server
//! that is down at start-up is retried by later calls (see `lazy.rs`).

pub(crate) mod convert;
pub(crate) mod exchange;
pub(crate) mod lazy;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::options::Timeouts;
use crate::redact::Secrets;
use crate::script::{eval_by_sha, eval_many_by_sha, Script, ScriptCall};
use crate::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply, Result};

use exchange::{checked_url, query, query_pipeline, redacted};
use lazy::LazyConnection;

/// Commands waiting for the socket queue in redis-rs's channel rather than in their senders
/// (its default bound is 50). A sender held back by a full channel sends on a later poll, when
/// a call issued after it may already have sent: order.rs hands the turn on at the first poll.
/// Tokio's channel allocates as it fills, so the bound costs nothing until used.
const PIPELINE_BUFFER: usize = 1 << 20;

pub struct RedisBackend {
    client: redis::Client,
    connection: LazyConnection<ConnectionManager>,
    timeouts: Arc<Timeouts>,
    secrets: Secrets,
    display_url: String,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisBackend({})", self.display_url)
    }
}

impl RedisBackend {
    /// Validates `url` (`redis://`, `rediss://`, with user, password and db index); connects on
    /// first use.
    pub fn new(url: &str, timeouts: Arc<Timeouts>) -> Result<RedisBackend> {
        let (display_url, secrets) = checked_url(url, "REDIS_URL")?;
        let client = redis::Client::open(url).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "invalid REDIS_URL {display_url}: {}",
                    secrets.redact(&e.to_string())
                ),
            )
        })?;
        Ok(RedisBackend {
            client,
            connection: LazyConnection::new(),
            timeouts,
            secrets,
            display_url,
        })
    }

    /// The URL with its password masked.
    pub fn describe(&self) -> String {
        format!("redis {}", self.display_url)
    }

    async fn connect(&self) -> Result<ConnectionManager> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeouts.connect()))
            // A failed connection is replaced by the next call, not retried in the background.
            .set_number_of_retries(0)
            // redis-rs would otherwise give up on any reply after 500 ms; the call deadline
            // (`timeoutMs`) is the only one.
            .set_response_timeout(None)
            .set_pipeline_buffer_size(PIPELINE_BUFFER);
        ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(|e| self.error(e))
    }

    fn error(&self, err: redis::RedisError) -> Error {
        redacted(&err, &self.secrets)
    }

    /// Runs `op` on the connection within the call deadline. Its first poll queues its first
    /// command on the connection: the next call in issue order may go then (order.rs).
    async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.connection
            .run(
                self.timeouts.call(),
                || self.connect(),
                |conn| crate::order::sends_on_first_poll(op(conn)),
            )
            .await
    }

    async fn query_pipeline(
        &self,
        mut conn: ConnectionManager,
        cmds: Vec<Cmd>,
        atomic: bool,
    ) -> Result<Vec<Result<Reply>>> {
        query_pipeline(&mut conn, &cmds, atomic, &self.secrets).await
    }

    async fn query(&self, mut conn: ConnectionManager, cmd: Cmd) -> Result<Reply> {
        query(&mut conn, &cmd, &self.secrets).await
    }
}

#[async_trait]
impl Backend for RedisBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Redis
    }

    async fn subscribe(
        &self,
        kind: crate::pubsub::Kind,
        names: Vec<Bytes>,
        events: tokio::sync::mpsc::Sender<crate::pubsub::Event>,
    ) -> Result<()> {
        let connect = self.timeouts.connect();
        exchange::subscribe_on(&self.client, connect, kind, names, events, &self.secrets).await
    }

    async fn call(&self, cmd: Cmd) -> Result<Reply> {
        self.run(|conn| self.query(conn, cmd)).await
    }

    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>> {
        self.run(|conn| self.query_pipeline(conn, cmds, atomic))
            .await
    }

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> Result<Reply> {
        self.run(|conn| eval_by_sha(script, keys, args, move |cmd| self.query(conn.clone(), cmd)))
            .await
    }

    async fn eval_many(&self, calls: Vec<ScriptCall>) -> Result<Vec<Result<Reply>>> {
        self.run(|conn| {
            eval_many_by_sha(&calls, move |cmds| {
                self.query_pipeline(conn.clone(), cmds, false)
            })
        })
        .await
    }
}
