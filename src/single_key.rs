//! One value per key in a `Namespace`: get, set, del, exists, expire and incr, their packed
//! batches, and the embedded store's synchronous get and set.

use std::sync::Arc;

use digis_redis_binding_macros::feature_methods;
use digis_redis_core::near_cache::Fill;
use digis_redis_core::{packed, Features};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::batch::{packing_error, split_outcomes, ItemErrors};
use crate::immediate::not_immediate;
use crate::js_error::{from_napi, to_js, Code};
use crate::namespace::{packed_targets, target, Namespace};
use crate::{text, NativeClient};

/// Values of a batch of reads, packed (see `digis_redis_core::packed`): the values found,
/// concatenated, and per read its UTF-16 length in `text`, or -1 for a miss or a failed read.
#[napi(object, object_from_js = false)]
pub struct PackedValues {
    pub text: String,
    pub lengths: Int32Array,
    /// Per read: null, or why it failed; null as a whole when none did.
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

/// A batch of EXPIREs: per item 1 when the key existed and got the expiry, else 0 (also where
/// the item failed, with its error at the same index of `errors`).
#[napi(object, object_from_js = false)]
pub struct ExpireBatch {
    pub values: Uint8Array,
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

/// A near-cache placeholder from JS (`nearGet`'s number); 0 or anything else that is not a
/// ticket means none.
pub(crate) fn near_fill(ticket: f64) -> Option<Fill> {
    (ticket >= 1.0 && ticket.fract() == 0.0 && ticket < 9_007_199_254_740_992.0)
        .then(|| Fill::from_ticket(ticket as u64))
}

/// The placeholders of a batch of `count` reads, one per read (see `near_fill`).
pub(crate) fn near_fills(
    fills: Option<&[f64]>,
    count: usize,
) -> Result<Option<Vec<Option<Fill>>>, Code> {
    match fills {
        None => Ok(None),
        Some(fills) if fills.len() == count => Ok(Some(
            fills.iter().map(|&ticket| near_fill(ticket)).collect(),
        )),
        Some(_) => Err(packing_error("fills")),
    }
}

#[feature_methods]
#[napi]
impl NativeClient {
    fn set(&self, ns: Namespace, id: String, value: String, ttl_seconds: Option<u32>) -> () {
        let ttl = ttl_seconds.map(u64::from);
        move |f| async move { f.set(&target(ns, id), value.into(), ttl).await }
    }

    /// The value at `id` in `ns`; `fill` is the near cache's placeholder for this read
    /// (`nearGet`'s number), whose reply then fills it.
    #[reads_only]
    #[napi(ts_return_type = "string | null | Promise<string | null>")]
    fn get(&self, ns: Namespace, id: String, fill: Option<f64>) -> Option<String> {
        let target = target(ns, id);
        move |f| async move {
            let value = match fill.and_then(near_fill) {
                None => f.get(&target).await?,
                Some(fill) => {
                    let mut items = f.get_filling(vec![(target, Some(fill))]).await?;
                    items.pop().unwrap_or(Ok(None))?
                }
            };
            Ok(value.map(text))
        }
    }

    /// GETs gathered by the JS layer within one tick, sent as one pipeline. Packed both ways:
    /// ids concatenated with their UTF-16 lengths in, values likewise out, one string each way
    /// instead of an array element per key. `fills`: per read, its near-cache placeholder
    /// (`nearGet`'s number) or 0; absent when no read has one.
    #[reads_only]
    fn get_many_packed(
        &self,
        namespaces: Uint8Array,
        ids: String,
        id_lengths: Uint32Array,
        fills: Option<Float64Array>,
    ) -> PackedValues {
        let targets = packed_targets(&namespaces, &ids, &id_lengths)?;
        let fills = near_fills(fills.as_deref(), targets.len())?;
        move |f| async move {
            let items = match fills {
                None => f.get_many(targets).await?,
                Some(fills) => {
                    f.get_filling(targets.into_iter().zip(fills).collect())
                        .await?
                }
            };
            let (values, errors) =
                split_outcomes::<Option<bytes::Bytes>, Option<bytes::Bytes>>(items);
            let bytes = values
                .iter()
                .flatten()
                .flatten()
                .map(|value| value.len())
                .sum();
            let mut packer = packed::Packer::with_capacities(values.len(), bytes);
            for value in values {
                packer.push(value.flatten().as_deref());
            }
            Ok(PackedValues {
                text: packer.text,
                lengths: Int32Array::new(packer.lengths),
                errors,
            })
        }
    }

    /// SETs gathered within one tick, as one pipeline, packed like `get_many_packed`; `lengths`
    /// holds the ids' lengths, then the values'; a negative TTL means none. Null when every
    /// write succeeded, else the error at each index (null where the write succeeded).
    #[napi(
        ts_return_type = "Array<Error | undefined | null> | null | Promise<Array<Error | undefined | null> | null>"
    )]
    fn set_many_packed(
        &self,
        namespaces: Uint8Array,
        ids: String,
        values: String,
        lengths: Uint32Array,
        ttl_seconds: Float64Array,
    ) -> ItemErrors {
        let (id_lengths, value_lengths) = lengths.split_at(namespaces.len().min(lengths.len()));
        let targets = packed_targets(&namespaces, &ids, id_lengths)?;
        let ranges = packed::utf16_ranges(&values, value_lengths)
            .filter(|ranges| ranges.len() == targets.len() && ttl_seconds.len() == targets.len())
            .ok_or_else(|| packing_error("values"))?;
        // Every value is a slice of the one buffer that crossed from JS: no copy per value.
        let joined = bytes::Bytes::from(values);
        let items = targets
            .into_iter()
            .zip(ranges)
            .zip(ttl_seconds.iter())
            .map(|((target, range), &ttl)| {
                let ttl = (ttl >= 0.0).then_some(ttl as u64);
                (target, joined.slice(range), ttl)
            })
            .collect();
        move |f| async move {
            let outcomes = f.set_many(items).await?;
            let (_, errors) = split_outcomes::<(), ()>(outcomes);
            Ok(errors)
        }
    }

    fn del(&self, ns: Namespace, id: String) -> () {
        move |f| async move { f.del(&target(ns, id)).await }
    }

    fn exists(&self, ns: Namespace, id: String) -> bool {
        move |f| async move { f.exists(&target(ns, id)).await }
    }

    fn expire(&self, ns: Namespace, id: String, seconds: u32) -> bool {
        move |f| async move { f.expire(&target(ns, id), u64::from(seconds)).await }
    }

    /// EXPIREs gathered within one tick, as one pipeline, targets packed like
    /// `get_many_packed`.
    fn expire_many_packed(
        &self,
        namespaces: Uint8Array,
        ids: String,
        id_lengths: Uint32Array,
        seconds: Uint32Array,
    ) -> ExpireBatch {
        let targets = packed_targets(&namespaces, &ids, &id_lengths)?;
        if seconds.len() != targets.len() {
            return Err(packing_error("expiries"));
        }
        let items = targets
            .into_iter()
            .zip(seconds.iter().map(|&s| u64::from(s)))
            .collect();
        move |f| async move {
            let (values, errors) = split_outcomes::<bool, bool>(f.expire_many(items).await?);
            let flags = values.into_iter().map(|v| u8::from(v == Some(true)));
            Ok(ExpireBatch {
                values: Uint8Array::new(flags.collect()),
                errors,
            })
        }
    }

    fn incr(&self, ns: Namespace, id: String) -> i64 {
        move |f| async move { f.incr(&target(ns, id)).await }
    }
}

#[napi]
impl NativeClient {
    /// A handle for `embeddedGet` / `embeddedSet`, the embedded store's synchronous calls
    /// (opaque to JS: its Rust type means nothing to TypeScript).
    #[napi(getter, ts_return_type = "ExternalObject<unknown>")]
    pub fn embedded_handle(&self) -> External<Arc<Features>> {
        External::new(self.features.clone())
    }
}

// The embedded store's hot calls are free functions over a handle rather than methods:
// napi-rs tracks borrows of `this` on every method call, which costs more than the work itself.
// Each is marked `catch_unwind`: a panic becomes a JS error instead of aborting the process (the
// methods get that from `answer`).

/// GET answered synchronously (embedded store). The stored bytes become a JS string without an
/// intermediate Rust `String`.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<unknown>, ns: Namespace, id: string"
)]
pub fn embedded_get<'env>(
    env: &'env Env,
    handle: &External<Arc<Features>>,
    ns: Namespace,
    id: String,
) -> Result<Option<napi::JsString<'env>>, Code> {
    let answered = handle
        .get_immediately(target(ns, id))
        .ok_or_else(|| not_immediate("embeddedGet"))?;
    match answered.map_err(to_js)? {
        None => Ok(None),
        Some(bytes) => match std::str::from_utf8(&bytes) {
            Ok(text) => env.create_string(text).map(Some).map_err(from_napi),
            // Not written by this package (which stores UTF-8): replaced as `text` does.
            Err(_) => env
                .create_string(String::from_utf8_lossy(&bytes))
                .map(Some)
                .map_err(from_napi),
        },
    }
}

/// EXPIRE done synchronously (embedded store): whether the key existed and got the expiry.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<unknown>, ns: Namespace, id: string, seconds: number"
)]
pub fn embedded_expire(
    handle: &External<Arc<Features>>,
    ns: Namespace,
    id: String,
    seconds: u32,
) -> Result<bool, Code> {
    handle
        .expire_immediately(target(ns, id), u64::from(seconds))
        .ok_or_else(|| not_immediate("embeddedExpire"))?
        .map_err(to_js)
}

/// SET / SETEX done synchronously (embedded store).
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<unknown>, ns: Namespace, id: string, value: string, ttlSeconds?: number | undefined | null"
)]
pub fn embedded_set(
    handle: &External<Arc<Features>>,
    ns: Namespace,
    id: String,
    value: String,
    ttl_seconds: Option<u32>,
) -> Result<(), Code> {
    handle
        .set_immediately(target(ns, id), value.into(), ttl_seconds.map(u64::from))
        .ok_or_else(|| not_immediate("embeddedSet"))?
        .map_err(to_js)
}
