use bytes::Bytes;

use super::{array, Features};
use crate::{keys, script::RATE_LIMIT_FIXED_WINDOW, Reply, Result};

/// The answer of `rateLimiter.check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitDecision {
    pub allowed: bool,
    pub remaining: u64,
    /// Whole seconds until the window ends and the quota is restored.
    pub reset: u64,
}

impl Features {
    /// Fixed window on `rate:<id>`, the original's key and counter format, made atomic.
    pub async fn rate_limit_check(
        &self,
        id: &str,
        limit: u64,
        window_seconds: u64,
    ) -> Result<RateLimitDecision> {
        let window_ms = window_seconds.saturating_mul(1000);
        let reply = self
            .backend
            .eval(
                &RATE_LIMIT_FIXED_WINDOW,
                vec![Bytes::from(keys::rate_limit(id))],
                vec![Bytes::from(window_ms.to_string())],
            )
            .await?;
        let parts = array("rate_limit_fixed_window", reply)?;
        let (Some(count), Some(ttl_ms)) = (
            parts.first().and_then(Reply::as_int),
            parts.get(1).and_then(Reply::as_int),
        ) else {
            return Err(crate::Error::protocol(format!(
                "rate_limit_fixed_window answered {parts:?}"
            )));
        };
        let count = count.max(0) as u64;
        Ok(RateLimitDecision {
            allowed: count <= limit,
            remaining: limit.saturating_sub(count),
            // At least 1: a window in its last millisecond still ends in the future.
            reset: (ttl_ms.max(1) as u64).div_ceil(1000),
        })
    }

    pub async fn rate_limit_reset(&self, id: &str) -> Result<()> {
        self.backend
            .call(crate::Cmd::new("DEL").arg(keys::rate_limit(id)))
            .await?;
        Ok(())
    }
}
