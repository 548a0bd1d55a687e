//! The Redis protocol backend (`REDIS_URL`): one shared multiplexed connection (redis-rs's, or
//! one the host drives: connector.rs), opened lazily on first use so that
//! `require` never blocks and a server that is down at start-up is retried by later calls (see
//! `lazy.rs`).

pub mod connector;
pub mod convert;
pub(crate) mod exchange;
pub mod handshake;
pub mod lazy;
pub mod reply_frame;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::lua::{eval_by_sha, eval_many_by_sha, Script, ScriptCall};
use crate::options::Timeouts;
use crate::redact::Secrets;
use crate::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply, Result};

use connector::{Connector, MultiplexedConnector};
use exchange::{checked_url, query, query_pipeline, redacted};
use lazy::LazyConnection;

pub struct RedisBackend<K: Connector = MultiplexedConnector> {
    connector: Arc<K>,
    client: redis::Client,
    connection: LazyConnection<K::Connection>,
    timeouts: Arc<Timeouts>,
    secrets: Secrets,
    display_url: String,
}

impl<K: Connector> std::fmt::Debug for RedisBackend<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisBackend({})", self.display_url)
    }
}

impl RedisBackend {
    /// Validates `url` (`redis://`, `rediss://`, with user, password and db index); connects on
    /// first use, through redis-rs's multiplexed connection.
    pub fn new(url: &str, timeouts: Arc<Timeouts>) -> Result<RedisBackend> {
        RedisBackend::with_connector(url, timeouts, MultiplexedConnector)
    }
}

impl<K: Connector> RedisBackend<K> {
    /// As [`RedisBackend::new`], with connections opened by `connector`.
    pub fn with_connector(url: &str, timeouts: Arc<Timeouts>, connector: K) -> Result<Self> {
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
            connector: Arc::new(connector),
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

    /// Where the server is, for a connector that checks whether it can reach it.
    pub fn connection_info(&self) -> &redis::ConnectionInfo {
        self.client.get_connection_info()
    }

    /// A new connection, with every script loaded first. A server that restarted or failed
    /// over has forgotten them; a call that met NOSCRIPT would be sent again by EVAL after
    /// calls issued later, out of program order. Loading them here, before any call uses the
    /// connection, keeps that to a `SCRIPT FLUSH` on a live server. Refusals (an ACL without
    /// SCRIPT) are ignored: EVALSHA then falls back to EVAL as before. It owns what it uses:
    /// it may outlive the call that started it (lazy.rs).
    fn connect(&self) -> impl std::future::Future<Output = Result<K::Connection>> + Send + 'static {
        let (connector, client) = (self.connector.clone(), self.client.clone());
        let (timeouts, secrets) = (self.timeouts.clone(), self.secrets.clone());
        async move {
            let mut conn = connector
                .open(&client, &timeouts)
                .await
                .map_err(|e| redacted(&e, &secrets))?;
            let loads = crate::lua::ALL
                .iter()
                .map(|script| Cmd::new("SCRIPT").arg("LOAD").arg(script.source))
                .collect::<Vec<_>>();
            query_pipeline(&mut conn, &loads, false, &secrets).await?;
            Ok(conn)
        }
    }

    /// Runs `op` on the connection within the call deadline. Its first poll queues its first
    /// command on the connection: the next call in issue order may go then (order.rs).
    async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(K::Connection) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.connection
            .run(
                self.timeouts.call(),
                || {
                    // The connect timeout bounds opening the socket; the script loads after it
                    // are a round trip like any call's.
                    let budget = self.timeouts.connect() + self.timeouts.call();
                    self.connection
                        .resumable(budget, K::OPENS_ON_ANY_THREAD, || self.connect())
                },
                |conn| crate::order::sends_on_first_poll(op(conn)),
            )
            .await
    }

    async fn query_pipeline(
        &self,
        mut conn: K::Connection,
        cmds: Vec<Cmd>,
        atomic: bool,
    ) -> Result<Vec<Result<Reply>>> {
        query_pipeline(&mut conn, &cmds, atomic, &self.secrets).await
    }

    async fn query(&self, mut conn: K::Connection, cmd: Cmd) -> Result<Reply> {
        query(&mut conn, &cmd, &self.secrets).await
    }
}

#[async_trait]
impl<K: Connector> Backend for RedisBackend<K> {
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

    async fn tracking_servers(&self) -> Option<Result<Vec<redis::ConnectionInfo>>> {
        Some(Ok(vec![self.client.get_connection_info().clone()]))
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
