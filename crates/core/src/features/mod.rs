//! The `utils/redis` features, written once against the `Backend` trait.

mod analytics;
mod cache;
mod cache_wrap;
mod creators;
mod idempotency;
mod index;
mod key_scan;
mod locks;
mod near;
mod otp;
mod popularity;
mod rate_limit;
mod rate_limit_blocks;
mod response_cache;
mod single_key;
mod streams;
mod target;
mod window_hits;

pub use cache_wrap::{Claim, WrapState};
pub use key_scan::SCAN_COUNT;
pub use locks::{
    lock_milliseconds, Taken, DEFAULT_LOCK_TTL_MS, DEFAULT_RETRY_DELAY_MS, FENCE_TTL_SECONDS,
};
pub use otp::new_code as new_otp_code;
pub use popularity::{PopularCreator, EPOCH_HALF_LIVES};
pub use rate_limit::{Algorithm, RateLimitDecision, RateLimitRequest};
pub use response_cache::{decode_response_record, encode_response_record, ResponseRecord};
pub use streams::ActiveStream;
pub use target::Target;
pub use window_hits::{WindowHits, WindowHitsChange};

use crate::near_cache::{local_writes::NearSlot, ForgetOnWrite};
use crate::{Cmd, Error, ErrorKind, Reply, Result, SharedBackend};

/// tokio's sleep, for the features that wait (locks, `cache.wrap`). A call on the embedded store
/// is first polled on the caller's thread, outside any runtime, where a tokio timer cannot be
/// made: there it yields once, and the call goes on as a task of the runtime, which sleeps.
/// Still outside a runtime then (one shutting down), it fails rather than panic.
pub(crate) async fn pause(duration: std::time::Duration) -> Result<()> {
    if tokio::runtime::Handle::try_current().is_err() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                return std::task::Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
        .await;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::new(
                ErrorKind::Internal,
                "no runtime to wait on (shutting down)",
            ));
        }
    }
    tokio::time::sleep(duration).await;
    Ok(())
}

pub struct Features {
    backend: SharedBackend,
    rate_limit_blocks: rate_limit_blocks::LocalBlocks,
    /// The near cache, when `configure({ nearCache })` turned it on (near.rs).
    near: NearSlot,
}

impl Features {
    /// The raw client's subscribe/psubscribe (see [`crate::Backend::subscribe`]).
    pub async fn subscribe(
        &self,
        kind: crate::pubsub::Kind,
        names: Vec<bytes::Bytes>,
        events: tokio::sync::mpsc::Sender<crate::pubsub::Event>,
    ) -> Result<()> {
        self.backend.subscribe(kind, names, events).await
    }

    pub fn new(backend: SharedBackend) -> Features {
        let near = NearSlot::default();
        // The embedded store has nothing to cache near; its calls skip the write layer.
        let backend = match backend.kind() {
            crate::BackendKind::Embedded => backend,
            _ => std::sync::Arc::new(ForgetOnWrite::new(backend, near.clone())) as SharedBackend,
        };
        Features {
            backend,
            rate_limit_blocks: Default::default(),
            near,
        }
    }

    pub fn backend(&self) -> &SharedBackend {
        &self.backend
    }

    /// Whether one MULTI or script may name all of `keys`: they share one atomic scope (on a
    /// cluster, one slot; elsewhere always).
    fn in_one_scope<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> bool {
        let mut scopes = keys.into_iter().map(|key| self.backend.atomic_scope(key));
        match scopes.next() {
            Some(first) => scopes.all(|scope| scope == first),
            None => true,
        }
    }

    /// One raw command (the `redis` export, `digis-redis/binding`).
    pub async fn raw_command(&self, cmd: Cmd) -> Result<Reply> {
        if cmd.parts().is_empty() {
            return Err(empty_command());
        }
        self.backend.call(cmd).await
    }

    /// Raw commands in one round trip (`atomic`: MULTI/EXEC), each keeping its own outcome.
    /// A command without even a name is refused here, on every backend: on a Redis connection
    /// it would be written as nothing, and each later reply would answer the command before it.
    /// It fails alone, and the others run; in a transaction it discards the whole batch, as
    /// Redis discards a transaction holding a command it refuses.
    pub async fn raw_pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>> {
        let empty: Vec<bool> = cmds.iter().map(|cmd| cmd.parts().is_empty()).collect();
        if !empty.contains(&true) {
            return self.backend.pipeline(cmds, atomic).await;
        }
        if atomic {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "EXECABORT Transaction discarded because of previous errors: empty command",
            ));
        }
        let sendable: Vec<Cmd> = cmds
            .into_iter()
            .filter(|cmd| !cmd.parts().is_empty())
            .collect();
        let mut replies = if sendable.is_empty() {
            Vec::new()
        } else {
            self.backend.pipeline(sendable, false).await?
        }
        .into_iter();
        Ok(empty
            .into_iter()
            .map(|is_empty| {
                if is_empty {
                    Err(empty_command())
                } else {
                    replies
                        .next()
                        .unwrap_or_else(|| Err(Error::protocol("missing reply")))
                }
            })
            .collect())
    }

    /// `testConnection()`: PING answered with PONG.
    pub async fn ping(&self) -> Result<bool> {
        let reply = self.backend.call(crate::Cmd::new("PING")).await?;
        Ok(
            matches!(reply, Reply::Status("PONG"))
                || reply.into_bytes().as_deref() == Some(b"PONG"),
        )
    }
}

/// Wall-clock milliseconds of this process, for viewer presence (a window of tens of seconds,
/// where the clock skew between servers does not matter).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Every item of a pipeline must have succeeded; the first failure is the answer.
fn all_ok(items: Vec<Result<Reply>>) -> Result<Vec<Reply>> {
    items.into_iter().collect()
}

/// The items of an array reply, without copying it.
fn array(what: &str, reply: Reply) -> Result<Vec<Reply>> {
    match reply {
        Reply::Array(items) => Ok(items),
        other => Err(unexpected(what, &other)),
    }
}

fn empty_command() -> Error {
    Error::new(ErrorKind::InvalidArgument, "empty command")
}

fn unexpected(what: &str, reply: &Reply) -> Error {
    Error::protocol(format!("unexpected reply to {what}: {reply:?}"))
}

/// Features on a fresh embedded store, and the store itself to look at, for unit tests.
#[cfg(test)]
fn on_embedded_store() -> (Features, crate::embedded::EmbeddedBackend) {
    let store = crate::embedded::EmbeddedBackend::new();
    (Features::new(std::sync::Arc::new(store.clone())), store)
}
