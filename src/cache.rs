//! `cache.*` calls over whole keys: MGET and deletion by pattern.

use digis_redis_binding_macros::feature_methods;
use napi_derive::napi;

use napi::bindgen_prelude::Float64Array;

use crate::single_key::near_fills;
use crate::{text, NativeClient};

#[feature_methods]
#[napi]
impl NativeClient {
    #[reads_only]
    #[napi(ts_return_type = "Array<string | null> | Promise<Array<string | null>>")]
    /// `fills`: per key, its near-cache placeholder (`nearGet`'s number) or 0; absent when none
    /// has one.
    fn mget(&self, keys: Vec<String>, fills: Option<Float64Array>) -> Vec<Option<String>> {
        let fills = near_fills(fills.as_deref(), keys.len())?;
        move |f| async move {
            let values = match fills {
                None => f.mget(keys).await?,
                Some(fills) => f.mget_filling(keys, fills).await?,
            };
            Ok(values.into_iter().map(|v| v.map(text)).collect())
        }
    }

    fn del_pattern(&self, pattern: String) -> i64 {
        move |f| async move { Ok(f.del_pattern(&pattern).await? as i64) }
    }
}
