//! `cache.*` calls over whole keys: MGET and deletion by pattern.

use digis_redis_binding_macros::feature_methods;
use napi_derive::napi;

use crate::{text, NativeClient};

#[feature_methods]
#[napi]
impl NativeClient {
    #[reads_only]
    #[napi(ts_return_type = "Array<string | null> | Promise<Array<string | null>>")]
    fn mget(&self, keys: Vec<String>) -> Vec<Option<String>> {
        move |f| async move {
            Ok(f.mget(keys)
                .await?
                .into_iter()
                .map(|v| v.map(text))
                .collect())
        }
    }

    fn del_pattern(&self, pattern: String) -> i64 {
        move |f| async move { Ok(f.del_pattern(&pattern).await? as i64) }
    }
}
