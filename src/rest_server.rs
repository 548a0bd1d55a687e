//! `startRestServer`: the Upstash REST stand-in (crates/rest-server) for Node, used by
//! `bin/digis-redis.js rest-server`.

use std::net::SocketAddr;
use std::sync::Mutex;

use digis_redis_core::redact::redact_url;
use digis_redis_rest_server::{RestServerConfig, RunningServer};
use napi::bindgen_prelude::*;
use napi_derive::napi;

#[napi(object)]
pub struct RestServerOptions {
    /// Interface to listen on; `127.0.0.1` by default.
    pub host: Option<String>,
    /// `0` picks a free port; 8079 by default.
    pub port: Option<u32>,
    /// `redis://`, `rediss://` or `unix://`; ignored with `embedded`.
    pub redis_url: Option<String>,
    /// Serve the embedded store of this process instead of a Redis (the data lives in it).
    pub embedded: Option<bool>,
    /// The bearer token clients must send.
    pub token: String,
    /// Larger request bodies are answered with 413; 10 MiB by default.
    pub max_body_bytes: Option<u32>,
    /// Connections open at once (more are closed); 1024 by default.
    pub max_connections: Option<u32>,
    /// Request bytes held by all requests together (more answer 503); 256 MiB by default,
    /// at least `maxBodyBytes`.
    pub max_buffered_bytes: Option<u32>,
    /// Commands in one `/pipeline` or `/multi-exec` request (more answer 400); 10 000 by default.
    pub max_pipeline_commands: Option<u32>,
    /// Result bytes of one request (results past it are replaced by an error); 256 MiB by
    /// default.
    pub max_reply_bytes: Option<u32>,
    /// Subscriptions open at once on the whole server (more answer 503); 1024 by default.
    pub max_subscriptions: Option<u32>,
    /// Lets server administration through (CONFIG SET, ACL, REPLICAOF, SAVE, …); refused by
    /// default, as hosted services refuse it.
    pub allow_admin: Option<bool>,
}

/// A listening server. Keep a reference: it does not keep Node's event loop alive, and it stops
/// when closed or garbage-collected.
#[napi]
pub struct RestServer {
    addr: SocketAddr,
    /// Masked; `None` with the embedded store.
    redis_url: Option<String>,
    running: Mutex<Option<RunningServer>>,
}

#[napi]
impl RestServer {
    /// The port it listens on (the one picked when asked for port 0).
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.addr.port())
    }

    /// `http://<host>:<port>`, without the token.
    #[napi(getter)]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Redis URL with its password masked, for display; null with the embedded store.
    #[napi(getter)]
    pub fn redis_url(&self) -> Option<String> {
        self.redis_url.clone()
    }

    /// Whether it serves the embedded store of this process.
    #[napi(getter)]
    pub fn embedded(&self) -> bool {
        self.redis_url.is_none()
    }

    /// Stops accepting, lets in-flight requests finish (a few seconds at most). Closing twice
    /// is harmless.
    #[napi]
    pub async fn close(&self) -> Result<()> {
        let running = self
            .running
            .lock()
            .map_err(|_| Error::from_reason("rest server state is poisoned"))?
            .take();
        if let Some(running) = running {
            running.shutdown().await;
        }
        Ok(())
    }
}

/// Starts the Upstash REST protocol server in front of `redisUrl`, or of an embedded store with
/// `embedded`. Rejects on bad options or when it cannot listen; a Redis that is down does not
/// prevent starting.
#[napi]
pub async fn start_rest_server(options: RestServerOptions) -> Result<RestServer> {
    let port = match options.port {
        None => RestServerConfig::DEFAULT_PORT,
        Some(port) => u16::try_from(port)
            .map_err(|_| Error::from_reason(format!("port must be 0..65535, got {port}")))?,
    };
    let max_body_bytes = match options.max_body_bytes {
        None => RestServerConfig::DEFAULT_MAX_BODY_BYTES,
        Some(0) => return Err(Error::from_reason("maxBodyBytes must be at least 1")),
        Some(n) => n as usize,
    };
    let max_connections = match options.max_connections {
        None => RestServerConfig::DEFAULT_MAX_CONNECTIONS,
        Some(0) => return Err(Error::from_reason("maxConnections must be at least 1")),
        Some(n) => n as usize,
    };
    let max_buffered_bytes = match options.max_buffered_bytes {
        None => RestServerConfig::DEFAULT_MAX_BUFFERED_BYTES.max(max_body_bytes),
        Some(n) => n as usize,
    };
    let embedded = options.embedded.unwrap_or(false);
    let redis_url = match (embedded, options.redis_url) {
        (true, None) => String::new(),
        (true, Some(_)) => {
            return Err(Error::from_reason(
                "give either redisUrl or embedded, not both",
            ))
        }
        (false, Some(url)) => url,
        (false, None) => return Err(Error::from_reason("redisUrl is required (or embedded)")),
    };
    let shown_url = (!embedded).then(|| redact_url(&redis_url));
    let config = RestServerConfig {
        host: options
            .host
            .unwrap_or_else(|| RestServerConfig::DEFAULT_HOST.to_string()),
        port,
        redis_url,
        embedded,
        token: options.token,
        max_body_bytes,
        max_connections,
        max_buffered_bytes,
        max_pipeline_commands: options
            .max_pipeline_commands
            .map_or(RestServerConfig::DEFAULT_MAX_PIPELINE_COMMANDS, |n| {
                n as usize
            }),
        max_reply_bytes: options
            .max_reply_bytes
            .map_or(RestServerConfig::DEFAULT_MAX_REPLY_BYTES, |n| n as usize),
        max_subscriptions: options
            .max_subscriptions
            .map_or(RestServerConfig::DEFAULT_MAX_SUBSCRIPTIONS, |n| n as usize),
        allow_admin: options.allow_admin.unwrap_or(false),
    };
    // The crate's errors never quote the token or the Redis password.
    let running = digis_redis_rest_server::start(config)
        .await
        .map_err(Error::from_reason)?;
    Ok(RestServer {
        addr: running.local_addr(),
        redis_url: shown_url,
        running: Mutex::new(Some(running)),
    })
}
