//! Idempotency keys: the first claim of a key wins until it expires or is released.

use super::Features;
use crate::{keys, Cmd, Reply, Result};

impl Features {
    /// True only for the first claim of `key` (SET NX, with the TTL in the same command, so a
    /// claim can never be left without its expiry).
    pub async fn idempotency_claim(&self, key: &str, ttl_seconds: Option<u64>) -> Result<bool> {
        let mut cmd = Cmd::new("SET")
            .arg(keys::idempotency(key))
            .arg("1")
            .arg("NX");
        if let Some(ttl) = ttl_seconds {
            cmd = cmd.arg("EX").arg(ttl);
        }
        Ok(!matches!(self.backend.call(cmd).await?, Reply::Nil))
    }

    /// Forgets a claim (say, the work failed and may be retried). True when there was one.
    pub async fn idempotency_release(&self, key: &str) -> Result<bool> {
        let reply = self
            .backend
            .call(Cmd::new("DEL").arg(keys::idempotency(key)))
            .await?;
        Ok(reply.as_int() == Some(1))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::embedded::EmbeddedBackend;
    use crate::{Cmd, Features};

    #[tokio::test]
    async fn only_the_first_claim_wins_until_released() {
        let db = EmbeddedBackend::new();
        let f = Features::new(Arc::new(db.clone()));
        assert_eq!(f.idempotency_claim("evt_1", Some(60)).await, Ok(true));
        assert_eq!(f.idempotency_claim("evt_1", Some(60)).await, Ok(false));
        let ttl = db
            .execute(&Cmd::new("TTL").arg("idempotency:evt_1"))
            .unwrap();
        assert_eq!(ttl.as_int(), Some(60));
        assert_eq!(f.idempotency_release("evt_1").await, Ok(true));
        assert_eq!(f.idempotency_release("evt_1").await, Ok(false));
        assert_eq!(f.idempotency_claim("evt_1", None).await, Ok(true));
        let ttl = db
            .execute(&Cmd::new("TTL").arg("idempotency:evt_1"))
            .unwrap();
        assert_eq!(ttl.as_int(), Some(-1));
    }
}
