//! The `utils/redis` features, written once against the `Backend` trait.

mod cache;
mod cache_wrap;
mod creators;
mod idempotency;
mod index;
mod locks;
mod otp;
mod rate_limit;
mod streams;
mod target;
mod values;
mod window_hits;

pub use cache_wrap::{Claim, WrapState};
pub use locks::FENCE_TTL_SECONDS;
pub use rate_limit::{Algorithm, RateLimitDecision, RateLimitRequest};
pub use streams::ActiveStream;
pub use target::Target;
pub use window_hits::WindowHits;

use crate::{Error, Reply, Result, SharedBackend};

pub struct Features {
    backend: SharedBackend,
}

impl Features {
    pub fn new(backend: SharedBackend) -> Features {
        Features { backend }
    }

    pub fn backend(&self) -> &SharedBackend {
        &self.backend
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

fn unexpected(what: &str, reply: &Reply) -> Error {
    Error::protocol(format!("unexpected reply to {what}: {reply:?}"))
}
