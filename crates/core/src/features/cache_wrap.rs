//! The Redis steps of `cache.wrap` (cache-aside). The loader is JavaScript, so the JS layer
//! drives the flow (single-flight, waiting, background refresh); each step here is one round
//! trip. The value lives at the key exactly as `cache.set` writes it, so `cache.get` reads it;
//! freshness and the loading lock are companion keys that plain readers never see.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::{all_ok, single_key::set_command, unexpected, Features};
use crate::lua::CACHE_WRAP_CLAIM;
use crate::{keys, Cmd, Reply, Result};

/// What a `cache.wrap` call finds at its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrapState {
    pub value: Option<Bytes>,
    /// The freshness marker is present (only meaningful to calls with a stale window).
    pub fresh: bool,
    /// Some instance holds the loading lock.
    pub loading: bool,
}

/// The outcome of claiming a key's loading lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This instance holds the lock and loads.
    Claimed,
    /// Another instance holds it.
    Busy,
    /// The value is there (stored since this instance looked): nothing to load.
    Stored(Bytes),
}

impl Features {
    /// The value, its freshness marker and the loading lock, in one pipeline.
    pub async fn cache_wrap_read(&self, key: &str) -> Result<WrapState> {
        let cmds = vec![
            Cmd::new("GET").arg(key),
            Cmd::new("EXISTS").arg(keys::cache_fresh(key)),
            Cmd::new("EXISTS").arg(keys::cache_loading(key)),
        ];
        let replies = all_ok(self.backend.pipeline(cmds, false).await?)?;
        let Ok([value, fresh, loading]) = <[Reply; 3]>::try_from(replies) else {
            return Err(crate::Error::protocol(
                "a pipeline of 3 answered another count",
            ));
        };
        let value = match value {
            Reply::Nil => None,
            Reply::Bulk(bytes) => Some(bytes),
            other => return Err(unexpected("GET", &other)),
        };
        Ok(WrapState {
            value,
            fresh: fresh.as_int() == Some(1),
            loading: loading.as_int() == Some(1),
        })
    }

    /// Takes the loading lock of `key` for `owner` (SET NX PX), unless the value is there by
    /// now (a fresh one when `refreshing` a stale value): checked in the same atomic step, so
    /// an instance that missed just before another stored the value answers it, not its loader.
    pub async fn cache_wrap_claim(
        &self,
        key: &str,
        owner: &str,
        lock_ms: u64,
        refreshing: bool,
    ) -> Result<Claim> {
        let reply = self
            .backend
            .eval(
                &CACHE_WRAP_CLAIM,
                vec![
                    Bytes::copy_from_slice(key.as_bytes()),
                    keys::cache_loading(key).into(),
                    keys::cache_fresh(key).into(),
                ],
                vec![
                    Bytes::copy_from_slice(owner.as_bytes()),
                    lock_ms.to_string().into(),
                    Bytes::from_static(if refreshing { b"1" } else { b"0" }),
                ],
            )
            .await?;
        match reply {
            Reply::Bulk(value) => Ok(Claim::Stored(value)),
            Reply::Int(1) => Ok(Claim::Claimed),
            Reply::Int(0) => Ok(Claim::Busy),
            other => Err(unexpected(CACHE_WRAP_CLAIM.name, &other)),
        }
    }

    /// A miss's claim: while another instance holds the loading lock, waits for its value
    /// (polling quickly at first, then every 100 ms at most) and claims the lock if the holder
    /// gives up (its loader failed or returned nothing to cache). `Busy` once `lock_ms` passed
    /// (the holder may have crashed or be slow): the caller loads without the lock.
    pub async fn cache_wrap_claim_waiting(
        &self,
        key: &str,
        owner: &str,
        lock_ms: u64,
    ) -> Result<Claim> {
        let deadline = Instant::now() + Duration::from_millis(lock_ms);
        let mut claim = self.cache_wrap_claim(key, owner, lock_ms, false).await?;
        let mut poll = Duration::from_millis(10);
        while claim == Claim::Busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            super::pause(left.min(poll)).await?;
            poll = (poll * 2).min(Duration::from_millis(100));
            let state = self.cache_wrap_read(key).await?;
            if let Some(value) = state.value {
                return Ok(Claim::Stored(value));
            }
            if !state.loading {
                claim = self.cache_wrap_claim(key, owner, lock_ms, false).await?;
            }
        }
        Ok(claim)
    }

    /// Stores a loaded value, in one transaction with its freshness marker: with a stale window
    /// the value outlives its TTL by `stale_seconds` and the marker lives for the TTL; without
    /// one any old marker goes. Then releases the loading lock if `owner` holds it.
    pub async fn cache_wrap_store(
        &self,
        key: &str,
        value: Bytes,
        ttl_seconds: Option<u64>,
        stale_seconds: u64,
        owner: Option<&str>,
    ) -> Result<()> {
        let fresh = keys::cache_fresh(key);
        let cmds = if stale_seconds > 0 {
            let kept = ttl_seconds.map(|ttl| ttl.saturating_add(stale_seconds));
            vec![
                set_command(key.to_string(), value, kept),
                set_command(fresh, Bytes::from_static(b"1"), ttl_seconds),
            ]
        } else {
            vec![
                set_command(key.to_string(), value, ttl_seconds),
                Cmd::new("DEL").arg(fresh),
            ]
        };
        all_ok(self.backend.pipeline(cmds, true).await?)?;
        if let Some(owner) = owner {
            self.cache_wrap_release(key, owner).await?;
        }
        Ok(())
    }

    /// Releases the loading lock (a loader that failed or returned nothing to cache), so that
    /// waiting instances stop waiting; false when `owner` no longer held it.
    pub async fn cache_wrap_release(&self, key: &str, owner: &str) -> Result<bool> {
        self.release_owned(keys::cache_loading(key), owner).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::{Claim, WrapState};
    use crate::embedded::EmbeddedBackend;
    use crate::{Cmd, Features, Reply};

    fn ttl(db: &EmbeddedBackend, key: &str) -> i64 {
        db.execute(&Cmd::new("TTL").arg(key))
            .unwrap()
            .as_int()
            .unwrap()
    }

    #[tokio::test]
    async fn a_loader_claims_stores_and_releases() {
        let db = EmbeddedBackend::new();
        let f = Features::new(Arc::new(db.clone()));
        let empty = WrapState {
            value: None,
            fresh: false,
            loading: false,
        };
        assert_eq!(f.cache_wrap_read("k").await, Ok(empty.clone()));
        assert_eq!(
            f.cache_wrap_claim("k", "a", 5000, false).await,
            Ok(Claim::Claimed)
        );
        assert_eq!(
            f.cache_wrap_claim("k", "b", 5000, false).await,
            Ok(Claim::Busy)
        );
        assert!(f.cache_wrap_read("k").await.unwrap().loading);

        let value = Bytes::from_static(b"{\"n\":1}");
        f.cache_wrap_store("k", value.clone(), Some(60), 30, Some("a"))
            .await
            .unwrap();
        let state = f.cache_wrap_read("k").await.unwrap();
        assert_eq!(
            state,
            WrapState {
                value: Some(value.clone()),
                fresh: true,
                loading: false
            }
        );
        assert_eq!(ttl(&db, "k"), 90);
        assert_eq!(ttl(&db, "{k}:fresh"), 60);
        // A late claim finds the stored value instead of the lock; a refresh, the fresh value.
        let stored = Ok(Claim::Stored(value.clone()));
        assert_eq!(f.cache_wrap_claim("k", "b", 5000, false).await, stored);
        assert_eq!(f.cache_wrap_claim("k", "b", 5000, true).await, stored);
        assert!(!f.cache_wrap_read("k").await.unwrap().loading);

        // Without a stale window: cache.set's SETEX, and no marker left behind.
        f.cache_wrap_store("k", value.clone(), Some(60), 0, None)
            .await
            .unwrap();
        assert_eq!(ttl(&db, "k"), 60);
        let exists = db.execute(&Cmd::new("EXISTS").arg("{k}:fresh")).unwrap();
        assert_eq!(exists, Reply::Int(0));
    }

    #[tokio::test]
    async fn a_waiting_claim_answers_the_holders_value_takes_over_or_gives_up() {
        let db = EmbeddedBackend::new();
        let f = Arc::new(Features::new(Arc::new(db.clone())));
        assert_eq!(
            f.cache_wrap_claim_waiting("k", "a", 5000).await,
            Ok(Claim::Claimed)
        );
        // The holder stores its value meanwhile: the waiter answers it.
        let holder = f.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            holder
                .cache_wrap_store("k", Bytes::from_static(b"v"), None, 0, Some("a"))
                .await
        });
        let stored = Ok(Claim::Stored(Bytes::from_static(b"v")));
        assert_eq!(f.cache_wrap_claim_waiting("k", "b", 5000).await, stored);
        // The holder gives up: the waiter takes the lock.
        db.execute(&Cmd::new("DEL").arg("k")).unwrap();
        assert_eq!(
            f.cache_wrap_claim("k", "a", 5000, false).await,
            Ok(Claim::Claimed)
        );
        let holder = f.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            holder.cache_wrap_release("k", "a").await
        });
        assert_eq!(
            f.cache_wrap_claim_waiting("k", "b", 5000).await,
            Ok(Claim::Claimed)
        );
        // A holder that never finishes: busy once the lock's time has passed.
        let started = std::time::Instant::now();
        assert_eq!(
            f.cache_wrap_claim_waiting("k", "c", 80).await,
            Ok(Claim::Busy)
        );
        assert!(started.elapsed() >= std::time::Duration::from_millis(80));
    }

    #[tokio::test]
    async fn a_store_leaves_a_lock_it_does_not_own() {
        let db = EmbeddedBackend::new();
        let f = Features::new(Arc::new(db.clone()));
        assert_eq!(
            f.cache_wrap_claim("k", "b", 5000, false).await,
            Ok(Claim::Claimed)
        );
        f.cache_wrap_store("k", Bytes::from_static(b"1"), None, 0, Some("a"))
            .await
            .unwrap();
        assert!(f.cache_wrap_read("k").await.unwrap().loading);
        assert_eq!(f.cache_wrap_release("k", "b").await, Ok(true));
        assert!(!f.cache_wrap_read("k").await.unwrap().loading);
    }
}
