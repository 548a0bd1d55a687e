//! Entry points for the cargo-fuzz targets in `fuzz/` (not a public API; may change at any
//! time). Thin wrappers around the code that reads untrusted request bytes, so the targets can
//! reach it without the internal modules becoming public.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response};

pub use crate::command::{parse_command, parse_path, Args};

/// `POST /pipeline` parsing without a command cap.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Args>, String> {
    crate::command::parse_batch(body, usize::MAX)
}

/// Why a command is refused under the default (hosted) policy.
pub fn refusal(args: &Args) -> Option<String> {
    crate::command::refusal(args, crate::command::Policy::Hosted)
}
pub use crate::reply::{result as encode_result, Encoding};

/// The state one server shares between its requests, for [`handle`].
pub struct Server(Arc<crate::http::Shared>);

/// A server as `start` builds it, without listening. Redis is only contacted when a request
/// gets past authentication and parsing; point `redis_url` at a closed port to fuzz offline.
pub fn server(redis_url: &str, token: &str, max_body: usize) -> Result<Server, String> {
    Ok(Server(Arc::new(crate::http::Shared {
        token: token.as_bytes().to_vec(),
        policy: crate::command::Policy::Hosted,
        max_commands: crate::RestServerConfig::DEFAULT_MAX_PIPELINE_COMMANDS,
        max_reply: crate::RestServerConfig::DEFAULT_MAX_REPLY_BYTES,
        max_body,
        buffered: crate::http::BufferBudget::new(
            crate::RestServerConfig::DEFAULT_MAX_BUFFERED_BYTES.max(max_body),
        ),
        backend: crate::backend::Backend::Redis(Box::new(crate::backend::RedisBackend::new(
            redis_url,
            digis_redis_core::redact::Secrets::new([token.to_string()]),
        )?)),
        subscriptions: Arc::new(tokio::sync::Semaphore::new(
            crate::RestServerConfig::DEFAULT_MAX_SUBSCRIPTIONS,
        )),
        max_subscriptions: crate::RestServerConfig::DEFAULT_MAX_SUBSCRIPTIONS,
        sync: AtomicU64::new(0),
    })))
}

/// One request, exactly as the listening server handles it.
pub async fn handle(
    server: &Server,
    req: Request<Incoming>,
) -> Response<crate::http::ResponseBody> {
    crate::http::handle(server.0.clone(), req).await
}
