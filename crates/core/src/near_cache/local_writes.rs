//! Read-your-writes: every command this process sends that may change a key drops that key's
//! near entry (or the read placeholder of a GET sent before it) as it is sent, whichever
//! feature or raw call sends it. Which arguments are keys is not worked out per command: every
//! argument of a command that may write is dropped, which costs at most a needless miss.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::RwLock;

use super::NearCache;
use crate::lua::{Script, ScriptCall};
use crate::pubsub::{Event, Kind};
use crate::{Backend, BackendKind, Cmd, Reply, Result, SharedBackend};

/// The near cache of the moment, shared by the features (which fill it) and this layer.
pub type NearSlot = Arc<RwLock<Option<Arc<NearCache>>>>;

/// Commands that change no key; anything else may.
const READ_ONLY: &[&[u8]] = &[
    b"GET",
    b"MGET",
    b"PTTL",
    b"TTL",
    b"EXISTS",
    b"STRLEN",
    b"GETRANGE",
    b"TYPE",
    b"HGET",
    b"HMGET",
    b"HGETALL",
    b"HLEN",
    b"HEXISTS",
    b"HKEYS",
    b"HVALS",
    b"SMEMBERS",
    b"SCARD",
    b"SISMEMBER",
    b"SMISMEMBER",
    b"ZRANGE",
    b"ZREVRANGE",
    b"ZRANGEBYSCORE",
    b"ZREVRANGEBYSCORE",
    b"ZSCORE",
    b"ZMSCORE",
    b"ZCARD",
    b"ZCOUNT",
    b"ZRANK",
    b"ZREVRANK",
    b"LRANGE",
    b"LLEN",
    b"LINDEX",
    b"SCAN",
    b"SSCAN",
    b"HSCAN",
    b"ZSCAN",
    b"KEYS",
    b"DBSIZE",
    b"PING",
    b"ECHO",
    b"INFO",
    b"TIME",
    b"PUBLISH",
    b"SUBSCRIBE",
    b"PSUBSCRIBE",
    b"CLIENT",
    b"CLUSTER",
    b"SCRIPT",
    b"MULTI",
    b"EXEC",
    b"DISCARD",
];

const FLUSHES: &[&[u8]] = &[b"FLUSHALL", b"FLUSHDB"];

fn is_named(cmd: &Cmd, names: &[&[u8]]) -> bool {
    cmd.parts()
        .first()
        .is_some_and(|name| names.iter().any(|n| name.eq_ignore_ascii_case(n)))
}

/// Drops what `cmd` may change.
fn forget_command(near: &NearCache, cmd: &Cmd) {
    if is_named(cmd, READ_ONLY) {
        return;
    }
    if is_named(cmd, FLUSHES) {
        near.invalidate_all();
        return;
    }
    for arg in cmd.parts().iter().skip(1) {
        near.forget(arg);
    }
}

/// The backend, with each write dropping its keys' near entries before it is sent.
pub struct ForgetOnWrite {
    inner: SharedBackend,
    near: NearSlot,
}

impl ForgetOnWrite {
    pub fn new(inner: SharedBackend, near: NearSlot) -> ForgetOnWrite {
        ForgetOnWrite { inner, near }
    }

    fn with_near(&self, forget: impl FnOnce(&NearCache)) {
        if let Some(near) = self.near.read().as_deref() {
            forget(near);
        }
    }
}

#[async_trait]
impl Backend for ForgetOnWrite {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }

    fn atomic_scope(&self, key: &[u8]) -> u16 {
        self.inner.atomic_scope(key)
    }

    async fn call(&self, cmd: Cmd) -> Result<Reply> {
        self.with_near(|near| forget_command(near, &cmd));
        self.inner.call(cmd).await
    }

    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>> {
        self.with_near(|near| cmds.iter().for_each(|cmd| forget_command(near, cmd)));
        self.inner.pipeline(cmds, atomic).await
    }

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> Result<Reply> {
        self.with_near(|near| keys.iter().for_each(|key| near.forget(key)));
        self.inner.eval(script, keys, args).await
    }

    async fn eval_many(&self, calls: Vec<ScriptCall>) -> Result<Vec<Result<Reply>>> {
        self.with_near(|near| {
            calls
                .iter()
                .flat_map(|call| call.keys.iter())
                .for_each(|key| near.forget(key))
        });
        self.inner.eval_many(calls).await
    }

    async fn subscribe(
        &self,
        kind: Kind,
        names: Vec<Bytes>,
        events: tokio::sync::mpsc::Sender<Event>,
    ) -> Result<()> {
        self.inner.subscribe(kind, names, events).await
    }

    async fn tracking_servers(&self) -> Option<Result<Vec<redis::ConnectionInfo>>> {
        self.inner.tracking_servers().await
    }
}
