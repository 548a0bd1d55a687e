//! Creators: their cached profile and their availability.

use digis_redis_binding_macros::feature_methods;
use napi_derive::napi;

use crate::{text, NativeClient};

#[napi(object)]
pub struct CreatorStatusItem {
    pub creator_id: String,
    pub status: String,
}

#[feature_methods]
#[napi]
impl NativeClient {
    fn creators_invalidate(&self, id: String) -> () {
        move |f| async move { f.creators_invalidate(&id).await }
    }

    /// `status` null clears it.
    fn creators_set_status(&self, id: String, status: Option<String>, ttl_seconds: u32) -> () {
        move |f| async move {
            f.creators_set_status(&id, status.as_deref(), u64::from(ttl_seconds))
                .await
        }
    }

    fn creators_online(&self) -> Vec<CreatorStatusItem> {
        move |f| async move {
            let online = f.creators_online().await?;
            Ok(online
                .into_iter()
                .map(|(creator_id, status)| CreatorStatusItem {
                    creator_id,
                    status: text(status),
                })
                .collect())
        }
    }
}
