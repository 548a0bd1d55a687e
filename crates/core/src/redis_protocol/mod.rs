//! The Redis protocol backend (`REDIS_URL`): one shared, auto-reconnecting multiplexed
//! connection (redis-rs's connection manager), opened lazily on first use so that `require`
//! never blocks and a server that is down at start-up is retried by later calls.

mod convert;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::options::Timeouts;
use crate::redact::{redact_url, Secrets};
use crate::script::{eval_by_sha, Script};
use crate::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply, Result};

use convert::{from_redis_error, from_value, to_redis_cmd};

pub struct RedisBackend {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
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
            connection: OnceCell::new(),
            timeouts,
            secrets,
            display_url,
        })
    }

    /// The URL with its password masked.
    pub fn describe(&self) -> String {
        format!("redis {}", self.display_url)
    }

    async fn connection(&self) -> Result<ConnectionManager> {
        let manager = self
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeouts.connect()))
                    // Reconnection attempts run in the background; each call is bounded by its
                    // own deadline, so a few quick attempts are enough.
                    .set_number_of_retries(2)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                ConnectionManager::new_with_config(self.client.clone(), config)
                    .await
                    .map_err(|e| self.error(e))
            })
            .await?;
        Ok(manager.clone())
    }

    fn error(&self, err: redis::RedisError) -> Error {
        let mut converted = from_redis_error(&err);
        converted.message = self.secrets.redact(&converted.message);
        converted
    }

    /// Bounds `work` by the call deadline.
    async fn within_deadline<T>(
        &self,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let deadline = self.timeouts.call();
        tokio::time::timeout(deadline, work)
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Timeout,
                    format!("redis call timed out after {} ms", deadline.as_millis()),
                ))
            })
    }

    async fn call_now(&self, cmd: Cmd) -> Result<Reply> {
        let mut conn = self.connection().await?;
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
        self.within_deadline(self.call_now(cmd)).await
    }

    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>> {
        self.within_deadline(async {
            let mut conn = self.connection().await?;
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
        })
        .await
    }

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> Result<Reply> {
        self.within_deadline(eval_by_sha(script, keys, args, |cmd| self.call_now(cmd)))
            .await
    }
}
