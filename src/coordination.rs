//! The binding of the coordination features: distributed locks, idempotency claims and the
//! Redis steps of `cache.wrap`. A separate `#[napi] impl` block of `NativeClient`.

use digis_redis_core::features::{Claim, WrapState};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::{js_error::Code, text, Answer, NativeClient};

/// What `cache.wrap` finds at its key.
#[napi(object)]
pub struct CacheWrapState {
    /// The stored text, decoded by the JS layer as `cache.get` does.
    pub value: Option<String>,
    pub fresh: bool,
    pub loading: bool,
}

impl From<WrapState> for CacheWrapState {
    fn from(state: WrapState) -> CacheWrapState {
        CacheWrapState {
            value: state.value.map(text),
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

#[napi]
impl NativeClient {
    /// The fencing token when taken, null while another owner holds the lock.
    #[napi(ts_return_type = "number | null | Promise<number | null>")]
    pub fn lock_acquire<'env>(
        &self,
        env: &'env Env,
        name: String,
        owner: String,
        ttl_ms: u32,
    ) -> Result<Answer<'env, Option<i64>>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.lock_acquire(&name, &owner, u64::from(ttl_ms)).await
        })
    }

    #[napi(ts_return_type = "boolean | Promise<boolean>")]
    pub fn lock_release<'env>(
        &self,
        env: &'env Env,
        name: String,
        owner: String,
    ) -> Result<Answer<'env, bool>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.lock_release(&name, &owner).await })
    }

    #[napi(ts_return_type = "boolean | Promise<boolean>")]
    pub fn lock_extend<'env>(
        &self,
        env: &'env Env,
        name: String,
        owner: String,
        ttl_ms: u32,
    ) -> Result<Answer<'env, bool>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.lock_extend(&name, &owner, u64::from(ttl_ms)).await
        })
    }

    /// True only for the first claim; no TTL means the claim never expires.
    #[napi(ts_return_type = "boolean | Promise<boolean>")]
    pub fn idempotency_claim<'env>(
        &self,
        env: &'env Env,
        key: String,
        ttl_seconds: Option<u32>,
    ) -> Result<Answer<'env, bool>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.idempotency_claim(&key, ttl_seconds.map(u64::from)).await
        })
    }

    #[napi(ts_return_type = "boolean | Promise<boolean>")]
    pub fn idempotency_release<'env>(
        &self,
        env: &'env Env,
        key: String,
    ) -> Result<Answer<'env, bool>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.idempotency_release(&key).await })
    }

    #[napi(ts_return_type = "CacheWrapState | Promise<CacheWrapState>")]
    pub fn cache_wrap_read<'env>(
        &self,
        env: &'env Env,
        key: String,
    ) -> Result<Answer<'env, CacheWrapState>, Code> {
        let f = self.features.clone();
        self.answer(
            env,
            async move { Ok(f.cache_wrap_read(&key).await?.into()) },
        )
    }

    /// Takes the loading lock, unless the value (a fresh one when `refreshing`) is there by now.
    #[napi(ts_return_type = "CacheWrapClaim | Promise<CacheWrapClaim>")]
    pub fn cache_wrap_claim<'env>(
        &self,
        env: &'env Env,
        key: String,
        owner: String,
        lock_ms: u32,
        refreshing: bool,
    ) -> Result<Answer<'env, CacheWrapClaim>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            let claim = f
                .cache_wrap_claim(&key, &owner, u64::from(lock_ms), refreshing)
                .await?;
            Ok(claim.into())
        })
    }

    /// Stores the encoded value (as `cache.set` would) with its freshness marker, then releases
    /// the loading lock when `owner` is given and still holds it.
    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn cache_wrap_store<'env>(
        &self,
        env: &'env Env,
        key: String,
        value: String,
        ttl_seconds: Option<u32>,
        stale_seconds: u32,
        owner: Option<String>,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.cache_wrap_store(
                &key,
                value.into(),
                ttl_seconds.map(u64::from),
                u64::from(stale_seconds),
                owner.as_deref(),
            )
            .await
        })
    }

    #[napi(ts_return_type = "boolean | Promise<boolean>")]
    pub fn cache_wrap_release<'env>(
        &self,
        env: &'env Env,
        key: String,
        owner: String,
    ) -> Result<Answer<'env, bool>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.cache_wrap_release(&key, &owner).await })
    }
}
