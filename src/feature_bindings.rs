//! The napi methods of the features that are plain Redis commands: analytics totals, creator
//! popularity, response-cache tags and key scans. Typed in and out: JS sends no command arrays
//! and parses no replies for them.

use digis_redis_binding_macros::feature_methods;
use digis_redis_core::features::{encode_response_record, EPOCH_HALF_LIVES, SCAN_COUNT};
use digis_redis_core::metrics;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::batch::packing_error;
use crate::{text, NativeClient};

/// Half-lives per popularity epoch (one sorted set each).
#[napi]
pub const POPULARITY_EPOCH_HALF_LIVES: u32 = EPOCH_HALF_LIVES;

#[napi(object)]
pub struct PopularCreatorItem {
    pub creator_id: String,
    /// Reads, each halved per half-life of age.
    pub score: f64,
}

/// An answer for `cacheResponse` to store.
#[napi(object, object_to_js = false)]
pub struct ResponseAnswer {
    pub status: u32,
    /// Its allow-listed headers, as a JSON object.
    pub headers_json: String,
    pub body: Buffer,
}

/// An answer cached by `cacheResponse`.
#[napi(object, object_from_js = false)]
pub struct ResponseHit {
    pub status: f64,
    /// The stored headers, as a JSON object.
    pub headers_json: String,
    pub body: Buffer,
    /// When it was stored (ms since the epoch); NaN when the record does not say.
    pub stored_at: f64,
}

/// The keys a walk found, each with its value (null: gone before it was read).
#[napi(object, object_from_js = false)]
pub struct ScannedValues {
    pub keys: Vec<String>,
    pub values: Vec<Option<String>>,
}

/// A whole number from 1, from a JS number (the JS layer has checked it already).
fn at_least_one(n: i64) -> u64 {
    n.max(1) as u64
}

#[feature_methods]
#[napi]
impl NativeClient {
    /// Adds `amounts[i]` to the totals field of counter `i` (core's `metrics::total_fields`) in
    /// the hash `key` (null: the default one), all of them or none.
    fn analytics_add_totals(&self, key: Option<String>, amounts: Vec<i64>) -> () {
        let fields = metrics::total_fields();
        if fields.len() != amounts.len() {
            return Err(packing_error("amounts"));
        }
        let changes = fields.into_iter().zip(amounts).collect();
        move |f| async move { f.analytics_add_totals(key.as_deref(), changes).await }
    }

    /// `analytics.totals()` as JSON (0 for a field never flushed), from the hash `key` (null: the
    /// default one).
    fn analytics_totals_json(&self, key: Option<String>) -> String {
        move |f| async move {
            let totals = f
                .analytics_totals(key.as_deref(), metrics::total_fields())
                .await?;
            Ok(metrics::totals_json(&totals).unwrap_or_default())
        }
    }

    /// Adds `reads[i]` reads of creator `ids[i]`, counted now, to the popularity ranking of
    /// `half_life_seconds`.
    fn creators_count_reads(
        &self,
        half_life_seconds: f64,
        ids: Vec<String>,
        reads: Vec<u32>,
    ) -> () {
        if ids.len() != reads.len() {
            return Err(packing_error("reads"));
        }
        let reads = ids
            .into_iter()
            .zip(reads.into_iter().map(u64::from))
            .collect();
        move |f| async move { f.creators_count_reads(half_life_seconds, reads).await }
    }

    /// The `n` most read creators, most read first, with their decayed read counts.
    fn creators_popular(&self, half_life_seconds: f64, n: i64) -> Vec<PopularCreatorItem> {
        move |f| async move {
            let ranking = f
                .creators_popular(half_life_seconds, at_least_one(n))
                .await?;
            Ok(ranking
                .into_iter()
                .map(|c| PopularCreatorItem {
                    creator_id: c.id,
                    score: c.score,
                })
                .collect())
        }
    }

    /// Those of `ids` whose profile is not cached, in their order.
    fn creators_uncached(&self, ids: Vec<String>) -> Vec<String> {
        move |f| async move { f.creators_uncached(ids).await }
    }

    /// Stores a `cacheResponse` answer under `name` for `ttl_seconds`, tagged with `tags`.
    fn response_store(
        &self,
        name: String,
        answer: ResponseAnswer,
        ttl_seconds: i64,
        tags: Vec<String>,
    ) -> () {
        let record = encode_response_record(answer.status, &answer.headers_json, &answer.body);
        move |f| async move {
            f.response_store(&name, record.into(), at_least_one(ttl_seconds), tags)
                .await
        }
    }

    /// The answer cached under `name`; null when there is none (or the value is not a record).
    fn response_lookup(&self, name: String) -> Option<ResponseHit> {
        move |f| async move {
            Ok(f.response_lookup(&name).await?.map(|r| ResponseHit {
                status: r.status,
                headers_json: r.headers_json,
                body: r.body.into(),
                stored_at: r.stored_at_ms,
            }))
        }
    }

    /// Deletes every response cached under `tag`; the number deleted.
    fn response_invalidate_tag(&self, tag: String) -> i64 {
        move |f| async move { Ok(f.response_invalidate_tag(&tag).await? as i64) }
    }

    /// Every key matching the glob `pattern`, each once, by incremental SCAN of `count` keys per
    /// step (default 1000); on a cluster, of every master.
    fn scan_keys(&self, pattern: String, count: Option<i64>) -> Vec<String> {
        let count = count.map_or(SCAN_COUNT, at_least_one);
        move |f| async move {
            let keys = f.scan_keys(&pattern, count).await?;
            Ok(keys.into_iter().map(text).collect())
        }
    }

    /// Every key matching the glob `pattern` with its value, as `scan_keys` walks them, read by
    /// MGET of a few hundred keys at a time.
    fn scan_values(&self, pattern: String, count: Option<i64>) -> ScannedValues {
        let count = count.map_or(SCAN_COUNT, at_least_one);
        move |f| async move {
            let (keys, values) = f.scan_values(&pattern, count).await?;
            let values = values.into_iter().map(|v| v.map(text)).collect();
            Ok(ScannedValues { keys, values })
        }
    }
}
