//! Where commands run: a Redis (one shared multiplexed connection for commands and pipelines,
//! and a dedicated connection per transaction, so MULTI state never mixes with other requests),
//! or the embedded store in this process (`--embedded`).

use std::future::Future;

use redis::aio::MultiplexedConnection;
use redis::{Client, RedisError, Value};
use tokio::sync::Semaphore;

use digis_redis_core::redact::Secrets;

use bytes::Bytes;
use digis_redis_core::options::Timeouts;
use digis_redis_core::pubsub::{subscribe_on, Event};
use digis_redis_core::redis_protocol::connector::{Connector, MultiplexedConnector};
use digis_redis_core::redis_protocol::convert::to_redis_cmd;
use digis_redis_core::redis_protocol::lazy::LazyConnection;
use digis_redis_core::{Error as CoreError, ErrorKind};
use tokio::sync::mpsc;

use crate::command::Args;
use crate::embedded::EmbeddedStore;
use crate::pubsub::{self, Kind};
use crate::reply::{server_error_text, Outcome};

/// Connecting gives up after this long, so an unreachable Redis answers 500 quickly.
const CONNECT_TIMEOUT_MS: u64 = 1000;
/// A reply slower than this is treated as a dead connection (blocking commands are refused, so
/// only a slow script or a huge KEYS gets near it).
const RESPONSE_TIMEOUT_MS: u64 = 10_000;
/// Each transaction opens its own connection; cap how many at once.
const MAX_CONCURRENT_TRANSACTIONS: usize = 64;

/// Redis could not be reached or stopped answering: HTTP 500.
#[derive(Debug)]
pub struct Unavailable(pub String);

/// How a transaction ended.
pub enum Transaction {
    /// EXEC ran: one outcome per command.
    Executed(Vec<Outcome>),
    /// Redis discarded the whole transaction (EXECABORT), nothing ran.
    Discarded(String),
}

pub enum Backend {
    // Boxed: the Redis client and its state dwarf the embedded store's handle.
    Redis(Box<RedisBackend>),
    Embedded(EmbeddedStore),
}

impl Backend {
    pub async fn warm_up(&self) {
        if let Backend::Redis(redis) = self {
            redis.warm_up().await;
        }
    }

    /// One command. `SCAN … WITHTYPE` (Upstash's) is emulated: see [`without_withtype`].
    pub async fn call(&self, args: &Args) -> Result<Outcome, Unavailable> {
        match without_withtype(args) {
            Some(scan) => {
                let outcome = self.call_as_is(&scan).await?;
                self.add_types(outcome).await
            }
            None => self.call_as_is(args).await,
        }
    }

    async fn call_as_is(&self, args: &Args) -> Result<Outcome, Unavailable> {
        match self {
            Backend::Redis(redis) => redis.call(args).await,
            Backend::Embedded(store) => Ok(store.call(args)),
        }
    }

    /// Commands in order in one round trip (two when a `SCAN … WITHTYPE` is among them); not
    /// atomic, errors per command.
    pub async fn pipeline(&self, commands: &[Args]) -> Result<Vec<Outcome>, Unavailable> {
        let scans: Vec<Option<Args>> = commands.iter().map(without_withtype).collect();
        if scans.iter().all(Option::is_none) {
            return self.pipeline_as_is(commands).await;
        }
        let sent: Vec<Args> = commands
            .iter()
            .zip(&scans)
            .map(|(args, scan)| scan.clone().unwrap_or_else(|| args.clone()))
            .collect();
        let mut outcomes = self.pipeline_as_is(&sent).await?;
        for (i, scan) in scans.iter().enumerate() {
            if scan.is_some() {
                let outcome = std::mem::replace(&mut outcomes[i], Outcome::Reply(Value::Nil));
                outcomes[i] = self.add_types(outcome).await?;
            }
        }
        Ok(outcomes)
    }

    async fn pipeline_as_is(&self, commands: &[Args]) -> Result<Vec<Outcome>, Unavailable> {
        match self {
            Backend::Redis(redis) => redis.pipeline(commands).await,
            Backend::Embedded(store) => Ok(store.pipeline(commands)),
        }
    }

    /// A SCAN reply `[cursor, [keys]]` as Upstash answers `SCAN … WITHTYPE`:
    /// `[cursor, [key, type, key, type, …]]`, the types read by one pipeline of TYPE right
    /// after (a key deleted in between reads `none`).
    async fn add_types(&self, outcome: Outcome) -> Result<Outcome, Unavailable> {
        let Outcome::Reply(Value::Array(mut reply)) = outcome else {
            return Ok(outcome);
        };
        let two = reply.len() == 2;
        let keys = match reply.get_mut(1) {
            Some(Value::Array(keys)) if two => std::mem::take(keys),
            _ => return Ok(Outcome::Reply(Value::Array(reply))),
        };
        let types: Vec<Args> = keys
            .iter()
            .filter_map(|key| match key {
                Value::BulkString(bytes) => Some(vec![b"TYPE".to_vec(), bytes.clone()]),
                _ => None,
            })
            .collect();
        if types.len() != keys.len() {
            // Not a SCAN reply after all: leave it as it is.
            reply[1] = Value::Array(keys);
            return Ok(Outcome::Reply(Value::Array(reply)));
        }
        let answers = self.pipeline_as_is(&types).await?;
        let mut pairs = Vec::with_capacity(keys.len() * 2);
        for (key, answer) in keys.into_iter().zip(answers) {
            pairs.push(key);
            pairs.push(match answer {
                Outcome::Reply(value) => value,
                Outcome::Error(text) => return Ok(Outcome::Error(text)),
            });
        }
        reply[1] = Value::Array(pairs);
        Ok(Outcome::Reply(Value::Array(reply)))
    }

    /// Subscribes `names` and feeds their events, as SSE lines, to `lines` until it closes (the
    /// client went away). Fails before any event when Redis cannot be reached or refuses the
    /// subscription.
    pub async fn subscribe(
        &self,
        kind: Kind,
        names: Vec<Vec<u8>>,
        lines: mpsc::Sender<Bytes>,
    ) -> Result<(), Unavailable> {
        let (events, received) = mpsc::channel(pubsub::QUEUE);
        let names = names.into_iter().map(Bytes::from).collect();
        match self {
            Backend::Redis(redis) => redis.subscribe(kind, names, events).await?,
            Backend::Embedded(store) => store.subscribe(kind, names, events).await,
        }
        tokio::spawn(pubsub::forward(kind, received, lines));
        Ok(())
    }

    /// MULTI … EXEC.
    pub async fn transaction(&self, commands: &[Args]) -> Result<Transaction, Unavailable> {
        // The emulation reads the types after the SCAN, which a transaction cannot hold.
        if let Some(i) = commands.iter().position(|a| without_withtype(a).is_some()) {
            return Ok(Transaction::Discarded(format!(
                "ERR SCAN WITHTYPE is not supported inside /multi-exec (command {}); send it alone \
                 or in /pipeline",
                i + 1
            )));
        }
        match self {
            Backend::Redis(redis) => redis.transaction(commands).await,
            Backend::Embedded(store) => Ok(store.transaction(commands).await),
        }
    }
}

pub struct RedisBackend {
    client: Client,
    timeouts: Timeouts,
    /// Commands and pipelines share one connection, opened and replaced as the package's own
    /// Redis backend does.
    shared: LazyConnection<MultiplexedConnection>,
    transactions: Semaphore,
    secrets: Secrets,
}

impl RedisBackend {
    /// Validates the URL; connects only when the first request comes (a Redis that is down must
    /// not keep the server from starting).
    pub fn new(redis_url: &str, secrets: Secrets) -> Result<RedisBackend, String> {
        let timeouts = Timeouts::new(RESPONSE_TIMEOUT_MS, CONNECT_TIMEOUT_MS, 0);
        RedisBackend::with_timeouts(redis_url, secrets, timeouts)
    }

    fn with_timeouts(
        redis_url: &str,
        secrets: Secrets,
        timeouts: Timeouts,
    ) -> Result<RedisBackend, String> {
        let client = Client::open(redis_url).map_err(|e| {
            format!(
                "invalid redis URL (expected redis://, rediss:// or unix://): {}",
                secrets.redact(&e.to_string())
            )
        })?;
        Ok(RedisBackend {
            client,
            timeouts,
            shared: LazyConnection::new(),
            transactions: Semaphore::new(MAX_CONCURRENT_TRANSACTIONS),
            secrets,
        })
    }

    /// A new connection (the shared one's, or a transaction's own).
    async fn open(&self) -> digis_redis_core::Result<MultiplexedConnection> {
        MultiplexedConnector
            .open(&self.client, &self.timeouts)
            .await
            .map_err(|e| self.failure("cannot connect to redis", &e))
    }

    /// `op` on the shared connection within the response timeout; a transport failure (an `Err`
    /// from `op`) replaces the connection.
    async fn on_shared<T, F, Fut>(&self, op: F) -> Result<T, Unavailable>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = digis_redis_core::Result<T>>,
    {
        self.shared
            .run(self.timeouts.call(), || self.open(), op)
            .await
            .map_err(|err| match err.kind {
                // The deadline's own error: said as a failed request, as redis-rs's reply
                // timeout was before.
                ErrorKind::Timeout => {
                    Unavailable(format!("ERR redis request failed: {}", err.message))
                }
                _ => Unavailable(format!("ERR {}", err.message)),
            })
    }

    /// A transport failure, secrets masked.
    fn failure(&self, what: &str, err: &RedisError) -> CoreError {
        let text = self.secrets.redact(&err.to_string());
        CoreError::new(ErrorKind::Connection, format!("{what}: {text}"))
    }

    fn unavailable(&self, what: &str, err: &RedisError) -> Unavailable {
        Unavailable(format!("ERR {}", self.failure(what, err).message))
    }

    /// Starts connecting in the background so the first request does not pay for it.
    pub async fn warm_up(&self) {
        let _ = self.on_shared(|_| async { Ok(()) }).await;
    }

    /// One command on the shared connection.
    pub async fn call(&self, args: &Args) -> Result<Outcome, Unavailable> {
        self.on_shared(|mut conn| async move {
            match conn.send_packed_command(&to_redis_cmd(args)).await {
                Ok(value) => Ok(Outcome::from_value(value)),
                Err(err) => match server_error(&err) {
                    Some(text) => Ok(Outcome::Error(text)),
                    None => Err(self.failure("redis request failed", &err)),
                },
            }
        })
        .await
    }

    /// Commands in one round trip on the shared connection; not atomic, errors per command.
    pub async fn pipeline(&self, commands: &[Args]) -> Result<Vec<Outcome>, Unavailable> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for args in commands {
            pipe.add_command(to_redis_cmd(args));
        }
        self.on_shared(|mut conn| async move {
            match conn.send_packed_commands(&pipe, 0, commands.len()).await {
                Ok(values) if values.len() == commands.len() => {
                    Ok(values.into_iter().map(Outcome::from_value).collect())
                }
                Ok(_) => Err(CoreError::protocol(
                    "redis answered the pipeline with the wrong number of replies",
                )),
                Err(err) => Err(self.failure("redis request failed", &err)),
            }
        })
        .await
    }

    /// A pub/sub connection of its own per subscription request (core's, as the package's
    /// Redis backend subscribes), forwarding events until `events`' receiver is dropped.
    async fn subscribe(
        &self,
        kind: Kind,
        names: Vec<Bytes>,
        events: mpsc::Sender<Event>,
    ) -> Result<(), Unavailable> {
        let client = &self.client;
        subscribe_on(
            client,
            self.timeouts.connect(),
            kind,
            names,
            events,
            &self.secrets,
        )
        .await
        .map_err(|err| {
            let what = match err.kind {
                ErrorKind::Command => "redis subscription failed",
                _ => "cannot connect to redis",
            };
            Unavailable(format!("ERR {what}: {}", err.message))
        })
    }

    /// MULTI … EXEC on a connection of its own, dropped afterwards so no transaction state can
    /// leak into another request.
    pub async fn transaction(&self, commands: &[Args]) -> Result<Transaction, Unavailable> {
        let _permit = self
            .transactions
            .acquire()
            .await
            .map_err(|_| Unavailable("ERR server is shutting down".into()))?;
        // Its connection is not the shared one, so the same reply timeout is applied here.
        let limit = self.timeouts.call();
        tokio::time::timeout(limit, self.transaction_on_own_connection(commands))
            .await
            .unwrap_or_else(|_| {
                Err(Unavailable(format!(
                    "ERR redis transaction failed: no reply within {} ms",
                    limit.as_millis()
                )))
            })
    }

    async fn transaction_on_own_connection(
        &self,
        commands: &[Args],
    ) -> Result<Transaction, Unavailable> {
        let mut conn = self
            .open()
            .await
            .map_err(|err| Unavailable(format!("ERR {}", err.message)))?;
        let failed = |err: RedisError| self.unavailable("redis transaction failed", &err);

        // MULTI alone first: if it were refused (an ACL, say), pipelining the commands behind it
        // would run them one by one, outside any transaction.
        match conn.send_packed_command(&redis::cmd("MULTI")).await {
            Ok(Value::Okay) => {}
            Ok(value) => {
                return Ok(Transaction::Discarded(match Outcome::from_value(value) {
                    Outcome::Error(text) => text,
                    Outcome::Reply(_) => "ERR MULTI was not accepted".into(),
                }))
            }
            Err(err) => {
                return match server_error(&err) {
                    Some(text) => Ok(Transaction::Discarded(text)),
                    None => Err(failed(err)),
                }
            }
        }

        let mut pipe = redis::pipe();
        for args in commands {
            pipe.add_command(to_redis_cmd(args));
        }
        pipe.add_command(redis::cmd("EXEC"));
        let mut replies = conn
            .send_packed_commands(&pipe, 0, commands.len() + 1)
            .await
            .map_err(failed)?;
        let exec = replies.pop();
        match exec {
            Some(Value::Array(items)) if items.len() == commands.len() => Ok(
                Transaction::Executed(items.into_iter().map(Outcome::from_value).collect()),
            ),
            Some(Value::ServerError(err)) => {
                let mut text = server_error_text(err.code(), err.details());
                // Say which command made Redis discard the transaction.
                let queued = replies.into_iter().enumerate().find_map(|(i, v)| match v {
                    Value::ServerError(e) => Some((i, server_error_text(e.code(), e.details()))),
                    _ => None,
                });
                if let Some((i, cause)) = queued {
                    text.push_str(&format!(" (command {}: {cause})", i + 1));
                }
                Ok(Transaction::Discarded(text))
            }
            Some(Value::Nil) => Ok(Transaction::Discarded(
                "EXECABORT Transaction discarded".into(),
            )),
            _ => Err(Unavailable(
                "ERR redis answered EXEC with an unexpected reply".into(),
            )),
        }
    }
}

/// `SCAN cursor [MATCH p] [COUNT n] [TYPE t] WITHTYPE` without its `WITHTYPE` flag (an Upstash
/// extension Redis does not know), or `None` for any other command. Options are read in pairs,
/// so a pattern spelt "withtype" stays a pattern.
fn without_withtype(args: &Args) -> Option<Args> {
    if !args.first()?.eq_ignore_ascii_case(b"SCAN") {
        return None;
    }
    let mut kept = args[..args.len().min(2)].to_vec();
    let mut found = false;
    let mut i = 2;
    while i < args.len() {
        let option = &args[i];
        if option.eq_ignore_ascii_case(b"WITHTYPE") {
            found = true;
            i += 1;
            continue;
        }
        let takes_value = [&b"MATCH"[..], b"COUNT", b"TYPE"]
            .iter()
            .any(|name| option.eq_ignore_ascii_case(name));
        let end = if takes_value { i + 2 } else { i + 1 }.min(args.len());
        kept.extend_from_slice(&args[i..end]);
        i = end;
    }
    found.then_some(kept)
}

/// The server's error line when `err` is an error reply rather than a transport failure.
fn server_error(err: &RedisError) -> Option<String> {
    err.code().map(|code| server_error_text(code, err.detail()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Args {
        line.split(' ').map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn withtype_is_found_as_a_flag_and_never_as_an_option_value() {
        assert_eq!(
            without_withtype(&args("scan 0 match user:* count 100 withtype")),
            Some(args("scan 0 match user:* count 100"))
        );
        assert_eq!(
            without_withtype(&args("SCAN 0 WITHTYPE")),
            Some(args("SCAN 0"))
        );
        assert_eq!(without_withtype(&args("scan 0 match withtype")), None);
        assert_eq!(without_withtype(&args("scan 0 count 10")), None);
        assert_eq!(without_withtype(&args("get withtype")), None);
    }

    /// A Redis that answers +OK to every command until MULTI, then never again.
    async fn redis_stalling_at_multi() -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = socket.read(&mut buf).await {
                        let text = String::from_utf8_lossy(&buf[..n]).to_string();
                        if n == 0 || text.to_ascii_uppercase().contains("MULTI") {
                            // Holds the connection open, silent.
                            std::future::pending::<()>().await;
                        }
                        // Each command starts with an array header line.
                        let commands = text.split("\r\n").filter(|l| l.starts_with('*')).count();
                        let _ = socket.write_all(&b"+OK\r\n".repeat(commands)).await;
                    }
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn a_transaction_on_a_stalled_redis_fails_within_the_reply_timeout() {
        let port = redis_stalling_at_multi().await;
        let backend = RedisBackend::with_timeouts(
            &format!("redis://127.0.0.1:{port}"),
            Secrets::default(),
            Timeouts::new(300, 1000, 0),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let outcome = backend.transaction(&[args("SET k v")]).await;
        assert!(
            matches!(&outcome, Err(Unavailable(text)) if text.starts_with("ERR redis transaction failed")),
            "{:?}",
            outcome.as_ref().err()
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // A plain command stalls too, and fails as a request (the same limit).
        let call = backend.call(&args("MULTI")).await;
        assert!(
            matches!(&call, Err(Unavailable(text)) if text.starts_with("ERR redis request failed")),
            "{:?}",
            call.as_ref().err()
        );
    }

    #[tokio::test]
    async fn scan_withtype_answers_each_key_with_its_type_alone_and_in_a_pipeline() {
        let backend = Backend::Embedded(EmbeddedStore::new());
        backend.call(&args("SET s v")).await.unwrap();
        backend.call(&args("HSET h f v")).await.unwrap();
        let pairs = |outcome: Outcome| match outcome {
            Outcome::Reply(Value::Array(reply)) => match &reply[1] {
                Value::Array(items) => {
                    let mut pairs: Vec<(Value, Value)> = items
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect();
                    pairs.sort_by_key(|(k, _)| format!("{k:?}"));
                    pairs
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        let expected = vec![
            (
                Value::BulkString(b"h".to_vec()),
                Value::SimpleString("hash".into()),
            ),
            (
                Value::BulkString(b"s".to_vec()),
                Value::SimpleString("string".into()),
            ),
        ];
        let alone = backend
            .call(&args("SCAN 0 COUNT 100 WITHTYPE"))
            .await
            .unwrap();
        assert_eq!(pairs(alone), expected);
        let batch = backend
            .pipeline(&[args("GET s"), args("scan 0 withtype"), args("scan 0")])
            .await
            .unwrap();
        let mut batch = batch.into_iter();
        assert!(matches!(
            batch.next(),
            Some(Outcome::Reply(Value::BulkString(_)))
        ));
        assert_eq!(pairs(batch.next().unwrap()), expected);
        // A plain SCAN is untouched.
        assert!(matches!(
            batch.next(),
            Some(Outcome::Reply(Value::Array(ref r))) if matches!(&r[1], Value::Array(k) if k.len() == 2)
        ));
        let refused = backend
            .transaction(&[args("scan 0 withtype")])
            .await
            .unwrap();
        assert!(
            matches!(refused, Transaction::Discarded(t) if t.contains("not supported inside /multi-exec"))
        );
    }
}
