//! `rateLimiter.check`: one check, a tick's batch of them, and a reset.

use std::sync::Arc;

use digis_redis_binding_macros::feature_methods;
use digis_redis_core::features::{Algorithm, RateLimitDecision, RateLimitRequest};
use digis_redis_core::Features;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::batch::split_outcomes;
use crate::immediate::{answer_slots, not_immediate};
use crate::js_error::{to_js, Code};
use crate::NativeClient;

/// `rateLimiter.check`'s `algorithm` option.
#[napi]
pub enum RateLimitAlgorithm {
    TokenBucket,
    SlidingWindow,
    FixedWindow,
}

#[napi(object)]
pub struct RateLimitResult {
    pub allowed: bool,
    pub remaining: f64,
    pub reset_ms: f64,
    pub retry_after_ms: f64,
}

/// A batch of rate-limit checks: the result at each index (null where the check failed).
#[napi(object, object_from_js = false)]
pub struct RateLimitBatch {
    pub values: Vec<Option<RateLimitResult>>,
    /// Null when every check succeeded, else the error or null at each index.
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

impl From<RateLimitDecision> for RateLimitResult {
    fn from(d: RateLimitDecision) -> RateLimitResult {
        RateLimitResult {
            allowed: d.allowed,
            remaining: d.remaining as f64,
            reset_ms: d.reset_ms as f64,
            retry_after_ms: d.retry_after_ms as f64,
        }
    }
}

fn core_algorithm(algorithm: RateLimitAlgorithm) -> Algorithm {
    match algorithm {
        RateLimitAlgorithm::TokenBucket => Algorithm::TokenBucket,
        RateLimitAlgorithm::SlidingWindow => Algorithm::SlidingWindow,
        RateLimitAlgorithm::FixedWindow => Algorithm::FixedWindow,
    }
}

/// The `algorithm` option's names, each at the index that is its `RateLimitAlgorithm` value.
#[napi]
pub fn rate_limit_algorithm_names() -> Vec<&'static str> {
    use RateLimitAlgorithm::{FixedWindow, SlidingWindow, TokenBucket};
    let in_value_order = [TokenBucket, SlidingWindow, FixedWindow];
    in_value_order
        .into_iter()
        .map(|algorithm| core_algorithm(algorithm).name())
        .collect()
}

fn rate_limit_request(
    id: String,
    algorithm: RateLimitAlgorithm,
    limit: u32,
    window_seconds: u32,
    cost: u32,
) -> RateLimitRequest {
    RateLimitRequest {
        id,
        algorithm: core_algorithm(algorithm),
        limit: u64::from(limit),
        window_seconds: u64::from(window_seconds),
        cost: u64::from(cost),
    }
}

#[feature_methods]
#[napi]
impl NativeClient {
    fn rate_limit_check(
        &self,
        id: String,
        algorithm: RateLimitAlgorithm,
        limit: u32,
        window_seconds: u32,
        cost: u32,
    ) -> RateLimitResult {
        let request = rate_limit_request(id, algorithm, limit, window_seconds, cost);
        move |f| async move { Ok(f.rate_limit_check(&request).await?.into()) }
    }

    /// Checks gathered within one tick, as one pipeline of scripts: per item a result, or null
    /// with its error at the same index of `errors`.
    fn rate_limit_check_many(
        &self,
        ids: Vec<String>,
        algorithms: Vec<RateLimitAlgorithm>,
        limits: Vec<u32>,
        windows: Vec<u32>,
        costs: Vec<u32>,
    ) -> RateLimitBatch {
        let requests: Vec<RateLimitRequest> = ids
            .into_iter()
            .zip(algorithms)
            .zip(limits.into_iter().zip(windows).zip(costs))
            .map(|((id, algorithm), ((limit, window), cost))| {
                rate_limit_request(id, algorithm, limit, window, cost)
            })
            .collect();
        move |f| async move {
            let items = f.rate_limit_check_many(&requests).await?;
            let (values, errors) = split_outcomes(items);
            Ok(RateLimitBatch { values, errors })
        }
    }

    fn rate_limit_reset(&self, id: String) -> () {
        move |f| async move { f.rate_limit_reset(&id).await }
    }
}

/// One check answered synchronously (embedded store): whether it is allowed, with remaining,
/// reset ms and retry-after ms written to `decided[0..3]`. A caller's array reused for every
/// check spares building a JS object per call through napi, which cost more than the check.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<unknown>, id: string, algorithm: RateLimitAlgorithm, limit: number, windowSeconds: number, cost: number, decided: Float64Array"
)]
pub fn embedded_rate_limit_check(
    handle: &External<Arc<Features>>,
    id: String,
    algorithm: RateLimitAlgorithm,
    limit: u32,
    window_seconds: u32,
    cost: u32,
    mut decided: Float64ArraySlice,
) -> Result<bool, Code> {
    let [remaining, reset_ms, retry_after_ms] =
        answer_slots::<3>(&mut decided, "embeddedRateLimitCheck")?;
    let request = rate_limit_request(id, algorithm, limit, window_seconds, cost);
    let decision = handle
        .rate_limit_check_immediately(&request)
        .ok_or_else(|| not_immediate("embeddedRateLimitCheck"))?
        .map_err(to_js)?;
    let result = RateLimitResult::from(decision);
    (*remaining, *reset_ms, *retry_after_ms) =
        (result.remaining, result.reset_ms, result.retry_after_ms);
    Ok(result.allowed)
}
