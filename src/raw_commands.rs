//! Raw commands and pipelines, sent as given; replies cross as JSON text.

use digis_redis_binding_macros::feature_methods;
use digis_redis_core::{reply_json, Cmd};
use napi_derive::napi;

use crate::NativeClient;

#[feature_methods]
#[napi]
impl NativeClient {
    fn ping(&self) -> bool {
        move |f| async move { f.ping().await }
    }

    /// One raw command; the reply as JSON text.
    fn command(&self, parts: Vec<String>) -> String {
        let cmd = Cmd::from_parts(parts.into_iter().map(Into::into).collect());
        move |f| async move {
            let reply = f.raw_command(cmd).await?;
            Ok(reply_json::reply_to_json(&reply))
        }
    }

    /// Raw commands in one round trip (`atomic`: MULTI/EXEC); the items as JSON text.
    fn pipeline(&self, commands: Vec<Vec<String>>, atomic: bool) -> String {
        let cmds = commands
            .into_iter()
            .map(|parts| Cmd::from_parts(parts.into_iter().map(Into::into).collect()))
            .collect();
        move |f| async move {
            let items = f.raw_pipeline(cmds, atomic).await?;
            Ok(reply_json::pipeline_to_json(&items))
        }
    }
}
