//! The binding of the coordination features: distributed locks, idempotency claims and the
//! Redis steps of `cache.wrap`.

use std::time::Duration;

use digis_redis_binding_macros::feature_methods;
use digis_redis_core::features::{
    lock_milliseconds, Claim, Taken, WrapState, DEFAULT_LOCK_TTL_MS, DEFAULT_RETRY_DELAY_MS,
};
use napi::bindgen_prelude::{Either, Null, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;

use crate::client::or_null;
use crate::js_error::{self, describe, number, Code};
use crate::{text, NativeClient};

/// What `cache.wrap` finds at its key.
#[napi(object)]
pub struct CacheWrapState {
    /// The stored text, decoded by the JS layer as `cache.get` does; null for a miss.
    pub value: Either<String, Null>,
    pub fresh: bool,
    pub loading: bool,
}

impl From<WrapState> for CacheWrapState {
    fn from(state: WrapState) -> CacheWrapState {
        CacheWrapState {
            value: or_null(state.value.map(text)),
            fresh: state.fresh,
            loading: state.loading,
        }
    }
}

/// `cache.wrap`'s claim: `claimed` (this instance loads), else the value stored meanwhile, or
/// neither while another instance loads.
#[napi(object)]
pub struct CacheWrapClaim {
    pub claimed: bool,
    pub value: Option<String>,
}

impl From<Claim> for CacheWrapClaim {
    fn from(claim: Claim) -> CacheWrapClaim {
        let (claimed, value) = match claim {
            Claim::Claimed => (true, None),
            Claim::Busy => (false, None),
            Claim::Stored(value) => (false, Some(text(value))),
        };
        CacheWrapClaim { claimed, value }
    }
}

/// A lock taken: its fencing token, and when the attempt that took it was sent (ms after the
/// call), from when its ttl counts at the earliest.
#[napi(object)]
pub struct LockTaken {
    pub fencing_token: i64,
    pub sent_after_ms: f64,
}

impl From<Taken> for LockTaken {
    fn from(taken: Taken) -> LockTaken {
        LockTaken {
            fencing_token: taken.fencing_token,
            sent_after_ms: taken.sent_after.as_secs_f64() * 1000.0,
        }
    }
}

/// A lock time given as `what`, checked (whole milliseconds from `min`); `undefined` is
/// `default` when there is one.
fn lock_time(
    env: &Env,
    value: Unknown,
    what: &str,
    min: u64,
    default: Option<u64>,
) -> napi::Result<u32, Code> {
    let given = match value.get_type() {
        Ok(ValueType::Undefined) if default.is_some() => default.map(|ms| ms as f64),
        _ => number(&value),
    };
    let ms = lock_milliseconds(given, what, min, || describe(env, value));
    // At most u32::MAX: the core's bound.
    ms.map(|ms| ms as u32).map_err(js_error::to_js)
}

/// `locks.acquire`'s times (ms), defaults filled in.
#[napi(object)]
pub struct LockTimes {
    pub ttl: u32,
    pub wait: u32,
    pub retry_delay: u32,
}

/// `locks.acquire`'s `ttl`, `wait` and `retryDelay` options (`undefined`: the default), checked
/// in that order; throws (ERR_INVALID_ARGUMENT) for the first that is not whole milliseconds.
#[napi]
pub fn lock_times(
    env: Env,
    ttl: Unknown,
    wait: Unknown,
    retry_delay: Unknown,
) -> napi::Result<LockTimes, Code> {
    Ok(LockTimes {
        ttl: lock_time(&env, ttl, "ttl", 1, Some(DEFAULT_LOCK_TTL_MS))?,
        wait: lock_time(&env, wait, "wait", 0, Some(0))?,
        retry_delay: lock_time(
            &env,
            retry_delay,
            "retryDelay",
            1,
            Some(DEFAULT_RETRY_DELAY_MS),
        )?,
    })
}

/// A lock's extension (`lock.extend(ms)`), checked: whole milliseconds from 1.
#[napi]
pub fn lock_extension(env: Env, ms: Unknown) -> napi::Result<u32, Code> {
    lock_time(&env, ms, "ms", 1, None)
}

#[feature_methods]
#[napi]
impl NativeClient {
    /// Takes the lock, retrying every `retry_ms` (jittered) for `wait_ms` at most while another
    /// owner holds it; null when it still does.
    #[napi(ts_return_type = "LockTaken | null | Promise<LockTaken | null>")]
    fn lock_acquire(
        &self,
        name: String,
        owner: String,
        ttl_ms: u32,
        wait_ms: u32,
        retry_ms: u32,
    ) -> Option<LockTaken> {
        let (wait, retry) = (
            Duration::from_millis(wait_ms.into()),
            Duration::from_millis(retry_ms.into()),
        );
        move |f| async move {
            let taken = f
                .lock_acquire_waiting(&name, &owner, u64::from(ttl_ms), wait, retry)
                .await?;
            Ok(taken.map(LockTaken::from))
        }
    }

    fn lock_release(&self, name: String, owner: String) -> bool {
        move |f| async move { f.lock_release(&name, &owner).await }
    }

    fn lock_extend(&self, name: String, owner: String, ttl_ms: u32) -> bool {
        move |f| async move { f.lock_extend(&name, &owner, u64::from(ttl_ms)).await }
    }

    /// True only for the first claim; no TTL means the claim never expires.
    fn idempotency_claim(&self, key: String, ttl_seconds: Option<u32>) -> bool {
        move |f| async move { f.idempotency_claim(&key, ttl_seconds.map(u64::from)).await }
    }

    fn idempotency_release(&self, key: String) -> bool {
        move |f| async move { f.idempotency_release(&key).await }
    }

    fn cache_wrap_read(&self, key: String) -> CacheWrapState {
        move |f| async move { Ok(f.cache_wrap_read(&key).await?.into()) }
    }

    /// Takes the loading lock, unless the value (a fresh one when `refreshing`) is there by now;
    /// for a miss (not `refreshing`), waits for the holder's value as long as `lock_ms`.
    fn cache_wrap_claim(
        &self,
        key: String,
        owner: String,
        lock_ms: u32,
        refreshing: bool,
    ) -> CacheWrapClaim {
        move |f| async move {
            let lock_ms = u64::from(lock_ms);
            let claim = if refreshing {
                f.cache_wrap_claim(&key, &owner, lock_ms, true).await?
            } else {
                f.cache_wrap_claim_waiting(&key, &owner, lock_ms).await?
            };
            Ok(claim.into())
        }
    }

    /// Stores the encoded value (as `cache.set` would) with its freshness marker, then releases
    /// the loading lock when `owner` is given and still holds it.
    fn cache_wrap_store(
        &self,
        key: String,
        value: String,
        ttl_seconds: Option<u32>,
        stale_seconds: u32,
        owner: Option<String>,
    ) -> () {
        move |f| async move {
            f.cache_wrap_store(
                &key,
                value.into(),
                ttl_seconds.map(u64::from),
                u64::from(stale_seconds),
                owner.as_deref(),
            )
            .await
        }
    }

    fn cache_wrap_release(&self, key: String, owner: String) -> bool {
        move |f| async move { f.cache_wrap_release(&key, &owner).await }
    }
}
