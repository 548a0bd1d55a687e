//! Single-key operations shared by cache, sessions, users, creators and OTP storage.

use bytes::Bytes;

use super::{unexpected, Features, Target};
use crate::{Cmd, Reply, Result};

/// SETEX when there is a TTL (value and expiry in one command), plain SET when there is none.
pub(super) fn set_command(key: String, value: Bytes, ttl_seconds: Option<u64>) -> Cmd {
    match ttl_seconds {
        Some(ttl) => Cmd::new("SETEX").arg(key).arg(ttl).arg(value),
        None => Cmd::new("SET").arg(key).arg(value),
    }
}

/// A GET reply as the stored bytes: `None` only for a real miss.
/// An EXPIRE reply: whether the key existed and got the expiry.
fn expired(reply: Reply) -> Result<bool> {
    reply
        .as_int()
        .map(|n| n == 1)
        .ok_or_else(|| unexpected("EXPIRE", &reply))
}

fn expire_command(key: String, seconds: u64) -> Cmd {
    Cmd::new("EXPIRE").arg(key).arg(seconds)
}

pub(super) fn stored_value(reply: Reply) -> Result<Option<Bytes>> {
    match reply {
        Reply::Nil => Ok(None),
        Reply::Bulk(bytes) => Ok(Some(bytes)),
        other => Err(unexpected("GET", &other)),
    }
}

impl Features {
    pub async fn set(&self, target: &Target, value: Bytes, ttl_seconds: Option<u64>) -> Result<()> {
        self.backend
            .call(set_command(target.key(), value, ttl_seconds))
            .await?;
        Ok(())
    }

    /// `set` done at once where the backend can (the embedded store); `None` otherwise.
    pub fn set_immediately(
        &self,
        target: Target,
        value: Bytes,
        ttl_seconds: Option<u64>,
    ) -> Option<Result<()>> {
        let cmd = set_command(target.into_key(), value, ttl_seconds);
        Some(self.backend.call_immediately(&cmd)?.map(drop))
    }

    /// The stored bytes, `None` only for a real miss (a stored `0` or `""` is a hit).
    pub async fn get(&self, target: &Target) -> Result<Option<Bytes>> {
        stored_value(self.backend.call(Cmd::new("GET").arg(target.key())).await?)
    }

    /// `get` answered at once where the backend can (the embedded store); `None` otherwise.
    pub fn get_immediately(&self, target: Target) -> Option<Result<Option<Bytes>>> {
        self.backend.get_immediately(target.into_key().as_bytes())
    }

    pub async fn del(&self, target: &Target) -> Result<()> {
        self.backend.call(Cmd::new("DEL").arg(target.key())).await?;
        Ok(())
    }

    pub async fn exists(&self, target: &Target) -> Result<bool> {
        let reply = self
            .backend
            .call(Cmd::new("EXISTS").arg(target.key()))
            .await?;
        reply
            .as_int()
            .map(|n| n > 0)
            .ok_or_else(|| unexpected("EXISTS", &reply))
    }

    /// Whether the key existed and got the expiry.
    pub async fn expire(&self, target: &Target, seconds: u64) -> Result<bool> {
        expired(
            self.backend
                .call(expire_command(target.key(), seconds))
                .await?,
        )
    }

    /// `expire` done at once where the backend can (the embedded store); `None` otherwise.
    pub fn expire_immediately(&self, target: Target, seconds: u64) -> Option<Result<bool>> {
        let cmd = expire_command(target.into_key(), seconds);
        Some(self.backend.call_immediately(&cmd)?.and_then(expired))
    }

    pub async fn incr(&self, target: &Target) -> Result<i64> {
        let reply = self
            .backend
            .call(Cmd::new("INCR").arg(target.key()))
            .await?;
        reply.as_int().ok_or_else(|| unexpected("INCR", &reply))
    }
}

impl Features {
    /// Many GETs in one pipeline (one round trip); each item keeps its own outcome.
    pub async fn get_many(&self, targets: Vec<Target>) -> Result<Vec<Result<Option<Bytes>>>> {
        let cmds = targets
            .into_iter()
            .map(|t| Cmd::new("GET").arg(t.into_key()))
            .collect();
        let items = self.backend.pipeline(cmds, false).await?;
        Ok(items.into_iter().map(|item| stored_value(item?)).collect())
    }

    /// Many SETEX/SETs in one pipeline (one round trip); each item keeps its own outcome.
    pub async fn set_many(
        &self,
        items: Vec<(Target, Bytes, Option<u64>)>,
    ) -> Result<Vec<Result<()>>> {
        let cmds = items
            .into_iter()
            .map(|(target, value, ttl)| set_command(target.into_key(), value, ttl))
            .collect();
        let replies = self.backend.pipeline(cmds, false).await?;
        Ok(replies.into_iter().map(|r| r.map(|_| ())).collect())
    }

    /// Many EXPIREs in one pipeline (one round trip); each item keeps its own outcome.
    pub async fn expire_many(&self, items: Vec<(Target, u64)>) -> Result<Vec<Result<bool>>> {
        let cmds = items
            .into_iter()
            .map(|(target, seconds)| expire_command(target.into_key(), seconds))
            .collect();
        let replies = self.backend.pipeline(cmds, false).await?;
        Ok(replies.into_iter().map(|r| expired(r?)).collect())
    }
}
