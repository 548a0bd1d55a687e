//! The Redis protocol backend (`REDIS_URL`): one shared multiplexed connection (redis-rs's
//! connection manager), opened lazily on first use so that `require` never blocks and a server
//! that is down at start-up is retried by later calls.
//!
//! A connection that failed or timed out is discarded, and the next call opens a fresh one:
//! replies still owed on it could otherwise be paired with later calls, and a reconnect attempt
//! that failed while the server was down must not answer the first call after it is back.

mod convert;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::options::Timeouts;
use crate::redact::{redact_url, Secrets};
use crate::script::{eval_by_sha, eval_many_by_sha, Script, ScriptCall};
use crate::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply, Result};

use convert::{from_redis_error, from_value, to_redis_cmd};

pub struct RedisBackend {
    client: redis::Client,
    /// The live connection and its generation, so a failed call discards only the connection
    /// it used, never a newer one.
    current: Mutex<Option<(u64, ConnectionManager)>>,
    /// One connection attempt at a time; the others wait for its result.
    connecting: tokio::sync::Mutex<()>,
    generations: AtomicU64,
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
        let display_url = redact_url(url);
        let password = url::Url::parse(url)
            .ok()
            .and_then(|u| u.password().map(str::to_string));
        let secrets = Secrets::new(password);
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("REDIS_URL must start with redis:// or rediss://, got {display_url}"),
            ));
        }
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
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(0),
            timeouts,
            secrets,
            display_url,
        })
    }

    /// The URL with its password masked.
    pub fn describe(&self) -> String {
        format!("redis {}", self.display_url)
    }

    async fn connection(&self) -> Result<(u64, ConnectionManager)> {
        if let Some(live) = self.current.lock().clone() {
            return Ok(live);
        }
        let _turn = self.connecting.lock().await;
        if let Some(live) = self.current.lock().clone() {
            return Ok(live);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeouts.connect()))
            // A failed connection is replaced by the next call, not retried in the background.
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(|e| self.error(e))?;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *self.current.lock() = Some((generation, manager.clone()));
        Ok((generation, manager))
    }

    fn discard(&self, generation: u64) {
        let mut current = self.current.lock();
        if matches!(&*current, Some((g, _)) if *g == generation) {
            *current = None;
        }
    }

    fn error(&self, err: redis::RedisError) -> Error {
        let mut converted = from_redis_error(&err);
        converted.message = self.secrets.redact(&converted.message);
        converted
    }

    /// Runs `op` on the connection within the call deadline; a transport failure or timeout
    /// discards the connection it used.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let deadline = self.timeouts.call();
        let used = AtomicU64::new(0);
        let work = async {
            let (generation, conn) = self.connection().await?;
            used.store(generation, Ordering::Relaxed);
            op(conn).await
        };
        let outcome = tokio::time::timeout(deadline, work)
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Timeout,
                    format!("redis call timed out after {} ms", deadline.as_millis()),
                ))
            });
        if let Err(err) = &outcome {
            let generation = used.load(Ordering::Relaxed);
            if err.is_transport() && generation != 0 {
                self.discard(generation);
            }
        }
        outcome
    }

    async fn query_pipeline(
        &self,
        mut conn: ConnectionManager,
        cmds: Vec<Cmd>,
        atomic: bool,
    ) -> Result<Vec<Result<Reply>>> {
        let mut pipe = redis::pipe();
        // Per-item errors come back as values instead of failing the whole batch.
        pipe.ignore_errors();
        if atomic {
            pipe.atomic();
        }
        for cmd in &cmds {
            pipe.add_command(to_redis_cmd(cmd));
        }
        let values: Vec<redis::Value> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        if values.len() != cmds.len() {
            return Err(Error::protocol(format!(
                "pipeline of {} commands answered {} replies",
                cmds.len(),
                values.len()
            )));
        }
        Ok(values.into_iter().map(from_value).collect())
    }

    async fn query(&self, mut conn: ConnectionManager, cmd: Cmd) -> Result<Reply> {
        let value: redis::Value = to_redis_cmd(&cmd)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        from_value(value)
    }
}

#[async_trait]
impl Backend for RedisBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Redis
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
