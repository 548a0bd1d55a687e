use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::lua::{Script, ScriptCall};
use crate::pubsub::{Event, Kind};
use crate::{Cmd, Error, ErrorKind, Reply, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Embedded,
    Redis,
    RedisCluster,
    Upstash,
    /// No backend at all: a production process started without any backend variable.
    Unconfigured,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Embedded => "embedded",
            BackendKind::Redis => "redis",
            BackendKind::RedisCluster => "redis-cluster",
            BackendKind::Upstash => "upstash",
            BackendKind::Unconfigured => "unconfigured",
        }
    }
}

/// What every backend offers: single commands, pipelines (atomic = MULTI/EXEC) and scripts.
#[async_trait]
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;

    /// Keys of equal scope may be named together by one script call or MULTI: on a cluster, a
    /// key's hash slot (a master refuses a script across slots); elsewhere any keys may, and
    /// every key has scope 0. Features group their keys by it instead of asking for the kind.
    fn atomic_scope(&self, _key: &[u8]) -> u16 {
        0
    }

    async fn call(&self, cmd: Cmd) -> Result<Reply>;

    /// GET answered on the calling thread, for a backend that never waits on I/O (the embedded
    /// store): it spares a read the command, dispatch and future machinery. `None` means this
    /// backend cannot, and the read goes through `call`.
    fn get_immediately(&self, _key: &[u8]) -> Option<Result<Option<Bytes>>> {
        None
    }

    /// Any command answered on the calling thread, under the same rule as `get_immediately`.
    fn call_immediately(&self, _cmd: &Cmd) -> Option<Result<Reply>> {
        None
    }

    /// A script answered on the calling thread, under the same rule as `get_immediately`.
    fn eval_immediately(
        &self,
        _script: &'static Script,
        _keys: &[Bytes],
        _args: &[Bytes],
    ) -> Option<Result<Reply>> {
        None
    }

    /// Runs `cmds` in order in one round trip. The outer error is for the whole batch (it never
    /// ran, or an atomic batch was discarded); per-command errors stay per item.
    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>>;

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> Result<Reply>;

    /// Many script calls, in one round trip where the backend can; each keeps its own outcome.
    /// By default they run one after the other (right for the embedded store, which has no
    /// round trips to save).
    async fn eval_many(&self, calls: Vec<ScriptCall>) -> Result<Vec<Result<Reply>>> {
        let mut items = Vec::with_capacity(calls.len());
        for call in calls {
            items.push(self.eval(call.script, call.keys, call.args).await);
        }
        Ok(items)
    }

    /// Subscribes `names` (channels, or patterns) and sends their events to `events` until its
    /// receiver is dropped, which unsubscribes. Fails, before any event, when the subscription
    /// cannot be made.
    async fn subscribe(
        &self,
        _kind: Kind,
        _names: Vec<Bytes>,
        _events: tokio::sync::mpsc::Sender<Event>,
    ) -> Result<()> {
        Err(Error::new(
            ErrorKind::Unsupported,
            format!("the {} backend has no pub/sub", self.kind().name()),
        ))
    }

    /// The servers a near cache must hear key changes from (each master of a cluster), as
    /// connection settings; `None` for a backend with no push channel (REST, the embedded
    /// store).
    async fn tracking_servers(&self) -> Option<Result<Vec<redis::ConnectionInfo>>> {
        None
    }
}

pub type SharedBackend = Arc<dyn Backend>;

/// Stands in for a backend that could not be set up (e.g. an invalid URL): every call fails
/// with the same error, so the features answer their fallbacks and log why, and the process
/// keeps running.
pub struct Unavailable {
    kind: BackendKind,
    error: crate::Error,
}

impl Unavailable {
    pub fn new(kind: BackendKind, error: crate::Error) -> Unavailable {
        Unavailable { kind, error }
    }
}

#[async_trait]
impl Backend for Unavailable {
    fn kind(&self) -> BackendKind {
        self.kind
    }

    async fn call(&self, _: Cmd) -> Result<Reply> {
        Err(self.error.clone())
    }

    async fn pipeline(&self, _: Vec<Cmd>, _: bool) -> Result<Vec<Result<Reply>>> {
        Err(self.error.clone())
    }

    async fn eval(&self, _: &'static Script, _: Vec<Bytes>, _: Vec<Bytes>) -> Result<Reply> {
        Err(self.error.clone())
    }

    async fn subscribe(
        &self,
        _: Kind,
        _: Vec<Bytes>,
        _: tokio::sync::mpsc::Sender<Event>,
    ) -> Result<()> {
        Err(self.error.clone())
    }

    async fn tracking_servers(&self) -> Option<Result<Vec<redis::ConnectionInfo>>> {
        match self.kind {
            BackendKind::Redis | BackendKind::RedisCluster => Some(Err(self.error.clone())),
            _ => None,
        }
    }
}
