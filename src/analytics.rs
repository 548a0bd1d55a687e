//! `analytics`' layout and reports. The JS layer counts (a few number increments per call, no
//! crossing); core says which counters an operation bumps and writes the reports
//! (crates/core/src/metrics.rs) from a snapshot the JS layer hands over.

use digis_redis_core::metrics::{self, Snapshot};
use digis_redis_core::ErrorKind;
use napi::bindgen_prelude::Unknown;
use napi::{Env, Error};
use napi_derive::napi;

use crate::js_error::{self, describe, number, Code};

/// What a successful call of an operation counts, besides its calls and errors.
#[napi]
pub enum MeterKind {
    Other,
    /// A hit, or a miss when it answers null.
    Read,
    /// A hit or a miss per item of its array.
    ReadMany,
    /// One set or delete.
    Count,
    /// The answer's `allowed`, even a failed call's fallback.
    Decision,
}

#[napi(object)]
pub struct MetricsLayout {
    /// Length of the flat counters (namespaces × fields, then the rate-limit decisions).
    pub counters: u32,
    /// Upper bounds (ms) of the latency buckets; one more bucket above them.
    pub bucket_bounds_ms: Vec<f64>,
    /// One call in this many is timed.
    pub time_one_in: u32,
}

#[napi]
pub fn metrics_layout() -> MetricsLayout {
    MetricsLayout {
        counters: metrics::COUNTERS as u32,
        bucket_bounds_ms: metrics::BUCKET_BOUNDS_MS.to_vec(),
        time_one_in: metrics::TIME_ONE_IN,
    }
}

/// The counters one operation's outcomes bump: indexes into the flat counters, -1 for none.
#[napi(object)]
pub struct MeterSlots {
    pub kind: MeterKind,
    /// A hit, a set or a delete; for a decision, `allowed`.
    pub success: i32,
    /// A miss; for a decision, `denied`.
    pub miss: i32,
    pub error: i32,
}

#[napi]
pub fn meter_slots(operation: String) -> MeterSlots {
    let slots = metrics::meter_slots(&operation);
    let index = |slot: Option<usize>| slot.map_or(-1, |i| i as i32);
    MeterSlots {
        kind: match slots.kind {
            metrics::MeterKind::Other => MeterKind::Other,
            metrics::MeterKind::Read => MeterKind::Read,
            metrics::MeterKind::ReadMany => MeterKind::ReadMany,
            metrics::MeterKind::Count => MeterKind::Count,
            metrics::MeterKind::Decision => MeterKind::Decision,
        },
        success: index(slots.success),
        miss: index(slots.miss),
        error: index(slots.error),
    }
}

#[napi(object)]
pub struct MetricsSnapshot {
    pub backend: String,
    pub circuit: String,
    /// ISO 8601: when counting started.
    pub since: String,
    pub counters: Vec<f64>,
    pub operations: Vec<String>,
    /// Per operation: calls, errors, timed, sum and max (ms), then its buckets.
    pub numbers: Vec<f64>,
}

pub(crate) fn report(
    s: &MetricsSnapshot,
    write: impl FnOnce(Snapshot) -> String,
) -> Result<String, Error<Code>> {
    Snapshot::new(
        &s.backend,
        &s.circuit,
        &s.since,
        &s.counters,
        &s.operations,
        &s.numbers,
    )
    .map(write)
    .ok_or_else(|| {
        js_error::core(
            ErrorKind::InvalidArgument,
            "the metrics snapshot does not match its layout",
        )
    })
}

/// `every` of a repeating timer (analytics flushes, creator warming), checked: whole
/// milliseconds from 10; throws (ERR_INVALID_ARGUMENT) otherwise.
#[napi]
pub fn timer_period(env: Env, every: Unknown) -> Result<f64, Error<Code>> {
    let period = digis_redis_core::options::timer_period(number(&every), || describe(&env, every));
    period.map_err(js_error::to_js)
}
