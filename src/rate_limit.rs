//! `rateLimiter.check`: one check, a tick's batch of them, and a reset.

use std::sync::Arc;

use digis_redis_binding_macros::feature_methods;
use digis_redis_core::features::{Algorithm, RateLimitDecision, RateLimitRequest};
use digis_redis_core::{packed, Features};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::batch::{packing_error, split_outcomes};
use crate::immediate::{answer_slots, not_immediate};
use crate::js_error::{self, to_js, Code};
use crate::NativeClient;

/// `rateLimiter.check`'s `algorithm` option.
#[napi]
#[derive(Clone, Copy)]
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

/// A batch of rate-limit checks: per item, at `4i` to `4i + 3` of `decided`, whether it is
/// allowed (1 or 0), remaining, reset ms and retry-after ms (all 0 where the check failed, with
/// its error at index `i` of `errors`). Numbers, not an object per check: napi builds an object
/// property by property.
#[napi(object, object_from_js = false)]
pub struct RateLimitBatch {
    pub decided: Float64Array,
    /// Null when every check succeeded, else the error or null at each index.
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

/// Every `RateLimitAlgorithm`, each at the index that is its value.
const ALGORITHMS_IN_VALUE_ORDER: [RateLimitAlgorithm; 3] = [
    RateLimitAlgorithm::TokenBucket,
    RateLimitAlgorithm::SlidingWindow,
    RateLimitAlgorithm::FixedWindow,
];

/// `RateLimitAlgorithm`'s value, sent as a number in a packed batch.
fn algorithm_from(value: u32) -> Option<RateLimitAlgorithm> {
    ALGORITHMS_IN_VALUE_ORDER
        .into_iter()
        .find(|algorithm| *algorithm as u32 == value)
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
    ALGORITHMS_IN_VALUE_ORDER
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

    /// Checks gathered within one tick, as one pipeline of scripts. Packed in: the ids like
    /// `get_many_packed`'s, and per item its algorithm, limit, window (s) and cost at `4i` to
    /// `4i + 3` of `numbers`.
    fn rate_limit_check_many(
        &self,
        ids: String,
        id_lengths: Uint32Array,
        numbers: Uint32Array,
    ) -> RateLimitBatch {
        let ids = packed::split_utf16(&ids, &id_lengths).ok_or_else(|| packing_error("ids"))?;
        if numbers.len() != 4 * ids.len() {
            return Err(packing_error("numbers (four per id)"));
        }
        let requests: Vec<RateLimitRequest> = ids
            .into_iter()
            .zip(numbers.chunks_exact(4))
            .map(|(id, n)| {
                let algorithm = algorithm_from(n[0]).ok_or_else(|| {
                    js_error::core(
                        digis_redis_core::ErrorKind::InvalidArgument,
                        format!("no rate-limit algorithm {}", n[0]),
                    )
                })?;
                Ok(rate_limit_request(
                    id.to_owned(),
                    algorithm,
                    n[1],
                    n[2],
                    n[3],
                ))
            })
            .collect::<Result<_, Code>>()?;
        move |f| async move {
            let items = f.rate_limit_check_many(&requests).await?;
            let (values, errors) = split_outcomes::<RateLimitDecision, RateLimitDecision>(items);
            let mut decided = Vec::with_capacity(4 * values.len());
            for value in values {
                let d = value.map_or([0.0; 4], |d| {
                    let allowed = if d.allowed { 1.0 } else { 0.0 };
                    [
                        allowed,
                        d.remaining as f64,
                        d.reset_ms as f64,
                        d.retry_after_ms as f64,
                    ]
                });
                decided.extend_from_slice(&d);
            }
            Ok(RateLimitBatch {
                decided: Float64Array::new(decided),
                errors,
            })
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
