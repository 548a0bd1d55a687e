//! The napi methods of the features that are plain Redis commands: analytics totals, creator
//! popularity, response-cache tags and key scans. Typed in and out: JS sends no command arrays
//! and parses no replies for them.

use digis_redis_core::features::{EPOCH_HALF_LIVES, SCAN_COUNT};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::batch::packing_error;
use crate::js_error::Code;
use crate::{text, Answer, NativeClient};

/// Half-lives per popularity epoch (one sorted set each).
#[napi]
pub const POPULARITY_EPOCH_HALF_LIVES: u32 = EPOCH_HALF_LIVES;

#[napi(object)]
pub struct PopularCreatorItem {
    pub creator_id: String,
    /// Reads, each halved per half-life of age.
    pub score: f64,
}

/// A whole number from 1, from a JS number (the JS layer has checked it already).
fn at_least_one(n: i64) -> u64 {
    n.max(1) as u64
}

#[napi]
impl NativeClient {
    /// Adds `amounts[i]` to field `fields[i]` of the totals hash `key` (null: the default one),
    /// all of them or none.
    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn analytics_add_totals<'env>(
        &self,
        env: &'env Env,
        key: Option<String>,
        fields: Vec<String>,
        amounts: Vec<i64>,
    ) -> Result<Answer<'env, ()>, Code> {
        if fields.len() != amounts.len() {
            return Err(packing_error("amounts"));
        }
        let f = self.features.clone();
        let changes = fields.into_iter().zip(amounts).collect();
        self.answer(env, async move {
            f.analytics_add_totals(key.as_deref(), changes).await
        })
    }

    /// The totals of `fields`, in their order (0 when never flushed), from the hash `key` (null:
    /// the default one).
    #[napi(ts_return_type = "Array<number> | Promise<Array<number>>")]
    pub fn analytics_totals<'env>(
        &self,
        env: &'env Env,
        key: Option<String>,
        fields: Vec<String>,
    ) -> Result<Answer<'env, Vec<f64>>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.analytics_totals(key.as_deref(), fields).await
        })
    }

    /// Adds `reads[i]` reads of creator `ids[i]`, counted now, to the popularity ranking of
    /// `half_life_seconds`.
    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn creators_count_reads<'env>(
        &self,
        env: &'env Env,
        half_life_seconds: f64,
        ids: Vec<String>,
        reads: Vec<u32>,
    ) -> Result<Answer<'env, ()>, Code> {
        if ids.len() != reads.len() {
            return Err(packing_error("reads"));
        }
        let f = self.features.clone();
        let reads = ids.into_iter().zip(reads.into_iter().map(u64::from));
        let reads = reads.collect();
        self.answer(env, async move {
            f.creators_count_reads(half_life_seconds, reads).await
        })
    }

    /// The `n` most read creators, most read first, with their decayed read counts.
    #[napi(ts_return_type = "Array<PopularCreatorItem> | Promise<Array<PopularCreatorItem>>")]
    pub fn creators_popular<'env>(
        &self,
        env: &'env Env,
        half_life_seconds: f64,
        n: i64,
    ) -> Result<Answer<'env, Vec<PopularCreatorItem>>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
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
        })
    }

    /// Those of `ids` whose profile is not cached, in their order.
    #[napi(ts_return_type = "Array<string> | Promise<Array<string>>")]
    pub fn creators_uncached<'env>(
        &self,
        env: &'env Env,
        ids: Vec<String>,
    ) -> Result<Answer<'env, Vec<String>>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.creators_uncached(ids).await })
    }

    /// Stores a `cacheResponse` record under `name` for `ttl_seconds`, tagged with `tags`.
    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn response_store<'env>(
        &self,
        env: &'env Env,
        name: String,
        record: String,
        ttl_seconds: i64,
        tags: Vec<String>,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.response_store(&name, record.into(), at_least_one(ttl_seconds), tags)
                .await
        })
    }

    /// Deletes every response cached under `tag`; the number deleted.
    #[napi(ts_return_type = "number | Promise<number>")]
    pub fn response_invalidate_tag<'env>(
        &self,
        env: &'env Env,
        tag: String,
    ) -> Result<Answer<'env, i64>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            Ok(f.response_invalidate_tag(&tag).await? as i64)
        })
    }

    /// Every key matching the glob `pattern`, each once, by incremental SCAN of `count` keys per
    /// step (default 1000); on a cluster, of every master.
    #[napi(ts_return_type = "Array<string> | Promise<Array<string>>")]
    pub fn scan_keys<'env>(
        &self,
        env: &'env Env,
        pattern: String,
        count: Option<i64>,
    ) -> Result<Answer<'env, Vec<String>>, Code> {
        let f = self.features.clone();
        let count = count.map_or(SCAN_COUNT, at_least_one);
        self.answer(env, async move {
            let keys = f.scan_keys(&pattern, count).await?;
            Ok(keys.into_iter().map(text).collect())
        })
    }
}
