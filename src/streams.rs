//! Live streams: the active set and viewer presence.

use digis_redis_binding_macros::feature_methods;
use napi_derive::napi;

use crate::{text, NativeClient};

#[napi(object)]
pub struct ActiveStreamItem {
    /// The stored text, JSON-parsed by the JS layer.
    pub data: String,
    pub viewers: f64,
}

#[feature_methods]
#[napi]
impl NativeClient {
    fn streams_set_active(&self, id: String, value: String, ttl_seconds: Option<u32>) -> () {
        let ttl = ttl_seconds.map(u64::from);
        move |f| async move { f.streams_set_active(&id, value.into(), ttl).await }
    }

    fn streams_remove_active(&self, id: String) -> () {
        move |f| async move { f.streams_remove_active(&id).await }
    }

    fn streams_all_active(&self, presence_ms: u32) -> Vec<ActiveStreamItem> {
        move |f| async move {
            let streams = f.streams_all_active(u64::from(presence_ms)).await?;
            Ok(streams
                .into_iter()
                .map(|s| ActiveStreamItem {
                    data: text(s.data),
                    viewers: s.viewers as f64,
                })
                .collect())
        }
    }

    fn streams_viewer_joined(&self, stream: String, viewer: String, presence_ms: u32) -> () {
        move |f| async move {
            f.streams_viewer_joined(&stream, &viewer, u64::from(presence_ms))
                .await
        }
    }

    fn streams_viewer_left(&self, stream: String, viewer: String) -> () {
        move |f| async move { f.streams_viewer_left(&stream, &viewer).await }
    }

    fn streams_viewer_count(&self, stream: String, presence_ms: u32) -> f64 {
        move |f| async move {
            let n = f
                .streams_viewer_count(&stream, u64::from(presence_ms))
                .await?;
            Ok(n as f64)
        }
    }

    fn streams_reindex(&self) -> i64 {
        move |f| async move { Ok(f.streams_reindex().await? as i64) }
    }
}
