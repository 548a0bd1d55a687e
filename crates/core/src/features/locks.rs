//! Distributed locks with fencing tokens. Acquire, release and extend are each one script, so
//! the owner check and the change it guards can never be split by another client.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::{unexpected, Features};
use crate::lua::{LOCK_ACQUIRE, LOCK_EXTEND, LOCK_RELEASE};
use crate::{keys, Error, ErrorKind, Reply, Result};

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// A 0/1 answer of a compare-and-set script.
fn done(what: &str, reply: Reply) -> Result<bool> {
    match reply.as_int() {
        Some(n) => Ok(n == 1),
        None => Err(unexpected(what, &reply)),
    }
}

/// A lock taken by [`Features::lock_acquire_waiting`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    pub fencing_token: i64,
    /// From the call to the sending of the attempt that took it: the lock's ttl counts from
    /// no earlier than that.
    pub sent_after: Duration,
}

/// How long a fencing counter outlives the last acquire of its lock: tokens of a name only go
/// up while it is taken at least once per this horizon; an unused name's counter then goes.
pub const FENCE_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// `locks.acquire`'s defaults: the lock's lifetime, and the delay between attempts while it
/// waits (no wait by default).
pub const DEFAULT_LOCK_TTL_MS: u64 = 10_000;
pub const DEFAULT_RETRY_DELAY_MS: u64 = 50;

/// Lock times cross the binding as u32 milliseconds.
pub const MAX_LOCK_MS: u64 = u32::MAX as u64;

/// A lock time given as `what` (`ttl`, `wait`, `retryDelay`, or extend's `ms`): whole
/// milliseconds from `min`. `number` is the value when it is a number; `described` says what
/// it is, for the message refusing it.
pub fn lock_milliseconds(
    number: Option<f64>,
    what: &str,
    min: u64,
    described: impl FnOnce() -> String,
) -> Result<u64> {
    match number {
        Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= MAX_LOCK_MS as f64 => Ok(n as u64),
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{what} must be whole milliseconds (an integer from {min} to {MAX_LOCK_MS}), got {}",
                described()
            ),
        )),
    }
}

impl Features {
    /// Takes `lock:<name>` for `owner` for `ttl_ms`. The fencing token when taken (strictly
    /// above every earlier holder's token for this name), `None` while another owner holds it.
    pub async fn lock_acquire(&self, name: &str, owner: &str, ttl_ms: u64) -> Result<Option<i64>> {
        let lock = keys::lock(name);
        let mut lock_keys = vec![b(&lock), b(&keys::lock_fence(name))];
        // The counter's former name, kept in step (see README, "Distributed locks"). A cluster
        // cannot reach it from the script when it sits in another slot, but there it never
        // held a token: the script naming both keys was refused with CROSSSLOT.
        if let Some(legacy) = keys::legacy_lock_fence(name) {
            let scope = |key: &str| self.backend.atomic_scope(key.as_bytes());
            if scope(&legacy) == scope(&lock) {
                lock_keys.push(b(&legacy));
            }
        }
        let reply = self
            .backend
            .eval(
                &LOCK_ACQUIRE,
                lock_keys,
                vec![
                    b(owner),
                    Bytes::from(ttl_ms.to_string()),
                    Bytes::from(FENCE_TTL_SECONDS.to_string()),
                ],
            )
            .await?;
        match reply.as_int() {
            Some(0) => Ok(None),
            Some(token) => Ok(Some(token)),
            None => Err(unexpected("lock_acquire", &reply)),
        }
    }

    /// [`lock_acquire`](Self::lock_acquire), tried again every `retry` (jittered from half to one
    /// and a half times, so waiters do not retry in lockstep) while another owner holds it, for
    /// `wait` at most; `None` when it is still held then.
    pub async fn lock_acquire_waiting(
        &self,
        name: &str,
        owner: &str,
        ttl_ms: u64,
        wait: Duration,
        retry: Duration,
    ) -> Result<Option<Taken>> {
        let started = Instant::now();
        let deadline = started + wait;
        loop {
            let sent_after = started.elapsed();
            if let Some(fencing_token) = self.lock_acquire(name, owner, ttl_ms).await? {
                return Ok(Some(Taken {
                    fencing_token,
                    sent_after,
                }));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let jittered = retry
                .mul_f64(0.5 + rand::random::<f64>())
                .max(Duration::from_millis(1));
            super::pause(left.min(jittered)).await?;
        }
    }

    /// Deletes `key` if `owner` still holds it; false when it had expired or changed hands.
    /// Also releases `cache.wrap`'s loading locks, which are taken without a fence.
    pub async fn release_owned(&self, key: String, owner: &str) -> Result<bool> {
        let reply = self
            .backend
            .eval(&LOCK_RELEASE, vec![Bytes::from(key)], vec![b(owner)])
            .await?;
        done("lock_release", reply)
    }

    pub async fn lock_release(&self, name: &str, owner: &str) -> Result<bool> {
        self.release_owned(keys::lock(name), owner).await
    }

    /// Gives the lock `ttl_ms` more from now if `owner` still holds it; false when it is lost.
    pub async fn lock_extend(&self, name: &str, owner: &str, ttl_ms: u64) -> Result<bool> {
        let reply = self
            .backend
            .eval(
                &LOCK_EXTEND,
                vec![b(&keys::lock(name))],
                vec![b(owner), Bytes::from(ttl_ms.to_string())],
            )
            .await?;
        done("lock_extend", reply)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_times_are_whole_milliseconds_in_range() {
        use super::lock_milliseconds;
        let got = || "number 1.5".to_string();
        assert_eq!(lock_milliseconds(Some(0.0), "wait", 0, got).unwrap(), 0);
        assert_eq!(
            lock_milliseconds(Some(4294967295.0), "ttl", 1, got).unwrap(),
            4294967295
        );
        for bad in [
            Some(0.0),
            Some(1.5),
            Some(4294967296.0),
            Some(f64::NAN),
            None,
        ] {
            assert_eq!(
                lock_milliseconds(bad, "ttl", 1, got).unwrap_err().message,
                "ttl must be whole milliseconds (an integer from 1 to 4294967295), got number 1.5"
            );
        }
    }

    use std::sync::Arc;

    use crate::embedded::EmbeddedBackend;
    use crate::{Cmd, Features, Reply};

    fn features() -> (Features, EmbeddedBackend) {
        let db = EmbeddedBackend::new();
        (Features::new(Arc::new(db.clone())), db)
    }

    #[tokio::test]
    async fn one_owner_at_a_time_with_increasing_fencing_tokens() {
        let (f, db) = features();
        assert_eq!(f.lock_acquire("job", "a", 10_000).await, Ok(Some(1)));
        assert_eq!(f.lock_acquire("job", "b", 10_000).await, Ok(None));
        // A stranger can neither release nor extend it.
        assert_eq!(f.lock_release("job", "b").await, Ok(false));
        assert_eq!(f.lock_extend("job", "b", 50_000).await, Ok(false));
        assert_eq!(f.lock_extend("job", "a", 50_000).await, Ok(true));
        let ttl = db.execute(&Cmd::new("PTTL").arg("lock:job")).unwrap();
        assert!(ttl.as_int().unwrap() > 10_000, "{ttl:?}");
        assert_eq!(f.lock_release("job", "a").await, Ok(true));
        assert_eq!(f.lock_release("job", "a").await, Ok(false));
        assert_eq!(f.lock_acquire("job", "b", 10_000).await, Ok(Some(2)));
        // Names are independent; the fence counter lives the horizon past the last acquire.
        assert_eq!(f.lock_acquire("other", "a", 10_000).await, Ok(Some(1)));
        let fence = db
            .execute(&Cmd::new("TTL").arg("{lock:job}:fence"))
            .unwrap();
        assert_eq!(fence, Reply::Int(super::FENCE_TTL_SECONDS as i64));
    }

    #[tokio::test]
    async fn a_name_with_braces_keeps_its_former_fence_in_step() {
        let (f, db) = features();
        // Tokens drawn before the fence followed the name's hash tag.
        db.execute(&Cmd::from_line("SET {lock:{t}:job}:fence 41"))
            .unwrap();
        assert_eq!(f.lock_acquire("{t}:job", "a", 10_000).await, Ok(Some(42)));
        let get = |key: &str| db.execute(&Cmd::new("GET").arg(key)).unwrap();
        assert_eq!(get("lock:{t}:job:fence"), Reply::bulk("42"));
        assert_eq!(get("{lock:{t}:job}:fence"), Reply::bulk("42"));
        let ttl = |key: &str| db.execute(&Cmd::new("TTL").arg(key)).unwrap();
        let horizon = Reply::Int(super::FENCE_TTL_SECONDS as i64);
        assert_eq!(ttl("lock:{t}:job:fence"), horizon);
        assert_eq!(ttl("{lock:{t}:job}:fence"), horizon);
        // An old process draws from the former counter; the next token is still above it.
        db.execute(&Cmd::from_line("INCR {lock:{t}:job}:fence"))
            .unwrap();
        f.lock_release("{t}:job", "a").await.unwrap();
        assert_eq!(f.lock_acquire("{t}:job", "b", 10_000).await, Ok(Some(44)));
        f.lock_release("{t}:job", "b").await.unwrap();
        assert_eq!(f.lock_acquire("{t}:job", "a", 10_000).await, Ok(Some(45)));
    }

    #[tokio::test]
    async fn a_waiting_acquire_retries_until_released_within_its_bound() {
        use std::time::Duration;
        let (f, _db) = features();
        let f = Arc::new(f);
        let ms = Duration::from_millis;
        assert_eq!(f.lock_acquire("job", "a", 10_000).await, Ok(Some(1)));
        let started = std::time::Instant::now();
        assert_eq!(
            f.lock_acquire_waiting("job", "b", 10_000, ms(60), ms(10))
                .await,
            Ok(None)
        );
        assert!(started.elapsed() >= ms(60));
        let releaser = f.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            releaser.lock_release("job", "a").await
        });
        let taken = f
            .lock_acquire_waiting("job", "b", 10_000, ms(5_000), ms(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(taken.fencing_token, 2);
        assert!(
            taken.sent_after >= ms(40) && taken.sent_after < ms(2_000),
            "{taken:?}"
        );
    }

    #[tokio::test]
    async fn a_bad_ttl_is_the_servers_error_and_takes_nothing() {
        let (f, db) = features();
        let err = f.lock_acquire("job", "a", 0).await.unwrap_err();
        assert!(err.message.contains("invalid expire time"), "{err:?}");
        let exists = Cmd::new("EXISTS").arg("lock:job").arg("{lock:job}:fence");
        assert_eq!(db.execute(&exists).unwrap(), Reply::Int(0));
    }
}
