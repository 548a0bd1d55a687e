//! The express `RateLimitStore`'s fixed-window hit counters.

use std::sync::Arc;

use digis_redis_binding_macros::feature_methods;
use digis_redis_core::features::{WindowHits, WindowHitsChange};
use digis_redis_core::{packed, Features};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::batch::{packing_error, split_outcomes};
use crate::immediate::{answer_slots, not_immediate};
use crate::js_error::{to_js, Code};
use crate::NativeClient;

/// A fixed window's hit counter after a change (`RateLimitStore`).
#[napi(object)]
pub struct WindowHitsResult {
    pub hits: f64,
    /// 0 when no window is running.
    pub reset_ms: f64,
}

impl From<WindowHits> for WindowHitsResult {
    fn from(w: WindowHits) -> WindowHitsResult {
        WindowHitsResult {
            hits: w.hits as f64,
            reset_ms: w.reset_ms as f64,
        }
    }
}

/// A batch of window-counter changes: per item its hits then its time left (ms, 0 when no
/// window runs) at `2i` and `2i + 1` of `counts` (0 and 0 where the item failed, with its error
/// at index `i` of `errors`).
#[napi(object, object_from_js = false)]
pub struct WindowHitsBatch {
    pub counts: Float64Array,
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

#[feature_methods]
#[napi]
impl NativeClient {
    /// Adds `change` (1, -1 or 0) to the hit counter at `key` (the whole key, prefix included),
    /// starting a `window_ms` window on the first hit, and on every hit when `restart_on_hit`.
    fn window_hits(
        &self,
        key: String,
        window_ms: u32,
        change: i32,
        restart_on_hit: bool,
    ) -> WindowHitsResult {
        move |f| async move {
            Ok(f.window_hits(
                &key,
                u64::from(window_ms),
                i64::from(change),
                restart_on_hit,
            )
            .await?
            .into())
        }
    }

    /// `window_hits` changes gathered within one tick, each still one atomic script call, sent
    /// in order in one round trip: whole keys packed like `get_many_packed`'s ids, and per item
    /// its window, change and restart flag (1 or 0).
    fn window_hits_many(
        &self,
        keys: String,
        key_lengths: Uint32Array,
        window_ms: Uint32Array,
        changes: Int32Array,
        restart_on_hit: Uint8Array,
    ) -> WindowHitsBatch {
        let count = key_lengths.len();
        let keys = packed::split_utf16(&keys, &key_lengths)
            .filter(|_| window_ms.len() == count && changes.len() == count)
            .filter(|_| restart_on_hit.len() == count)
            .ok_or_else(|| packing_error("keys"))?;
        let requests: Vec<WindowHitsChange> = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| WindowHitsChange {
                key: key.to_owned(),
                window_ms: u64::from(window_ms[i]),
                change: i64::from(changes[i]),
                restart_on_hit: restart_on_hit[i] != 0,
            })
            .collect();
        move |f| async move {
            let (values, errors) =
                split_outcomes::<WindowHits, WindowHits>(f.window_hits_many(&requests).await?);
            let mut counts = Vec::with_capacity(2 * values.len());
            for value in values {
                let WindowHits { hits, reset_ms } = value.unwrap_or(WindowHits {
                    hits: 0,
                    reset_ms: 0,
                });
                counts.push(hits as f64);
                counts.push(reset_ms as f64);
            }
            Ok(WindowHitsBatch {
                counts: Float64Array::new(counts),
                errors,
            })
        }
    }
}

/// `windowHits` done synchronously (embedded store): the counter's hits and time left (ms, 0
/// when no window runs) written to `counted[0]` and `counted[1]`, an array the caller reuses,
/// instead of a JS object built through napi per call.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<unknown>, key: string, windowMs: number, change: number, restartOnHit: boolean, counted: Float64Array"
)]
pub fn embedded_window_hits(
    handle: &External<Arc<Features>>,
    key: String,
    window_ms: u32,
    change: i32,
    restart_on_hit: bool,
    mut counted: Float64ArraySlice,
) -> Result<(), Code> {
    let [hits, reset_ms] = answer_slots::<2>(&mut counted, "embeddedWindowHits")?;
    let change = WindowHitsChange {
        key,
        window_ms: u64::from(window_ms),
        change: i64::from(change),
        restart_on_hit,
    };
    let result = WindowHitsResult::from(
        handle
            .window_hits_immediately(&change)
            .ok_or_else(|| not_immediate("embeddedWindowHits"))?
            .map_err(to_js)?,
    );
    (*hits, *reset_ms) = (result.hits, result.reset_ms);
    Ok(())
}
