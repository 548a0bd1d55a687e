//! `digis-redis rest-server`: the Upstash Redis REST protocol in front of any Redis, or of the
//! embedded store in this process (`--embedded`), as a local stand-in for Upstash in
//! development and CI.
//!
//! - `POST /` with `["SET","k","v"]` → `{"result": X}` (a failing command: 400 `{"error"}`)
//! - `POST /pipeline` and `POST /multi-exec` with an array of commands → an array of
//!   `{"result"}` / `{"error"}` items
//! - path style: `GET|POST /set/k/v` (a POST body is appended as the last argument)
//! - `Authorization: Bearer <token>` or `?_token=`; `Upstash-Encoding: base64`
//! - `POST /subscribe/<channel>`, `/psubscribe/<pattern>`: server-sent events (see pubsub.rs)

mod backend;
mod command;
mod embedded;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod pubsub;
mod reply;

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use digis_redis_core::redact::Secrets;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

/// How long in-flight requests get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// A client that does not finish sending its headers in this time is disconnected.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

pub struct RestServerConfig {
    /// Interface to listen on; `127.0.0.1` by default.
    pub host: String,
    /// `0` picks a free port (see [`RunningServer::local_addr`]).
    pub port: u16,
    /// `redis://`, `rediss://` or `unix://`; the database comes from the URL. Unused with
    /// `embedded`.
    pub redis_url: String,
    /// Serve the embedded store of this process instead of a Redis: no Redis needed, and the
    /// data lives (and dies) with the process.
    pub embedded: bool,
    /// The bearer token clients must send; must not be empty.
    pub token: String,
    /// Larger request bodies are answered with 413.
    pub max_body_bytes: usize,
    /// Connections open at once; further ones are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Request bytes held in memory by all requests together; a request that would pass it is
    /// answered 503. Bounds memory whatever the clients send.
    pub max_buffered_bytes: usize,
    /// Commands in one `/pipeline` or `/multi-exec` request; more answer 400.
    pub max_pipeline_commands: usize,
    /// Result bytes of one request; results past it are replaced by an error (per item in a
    /// batch), so a reply's size is bounded whatever is read.
    pub max_reply_bytes: usize,
    /// Subscriptions (channels and patterns) open at once on the whole server; a subscription
    /// request past it is answered 503. Each request takes at most 64.
    pub max_subscriptions: usize,
    /// Lets server administration through (CONFIG SET, ACL, REPLICAOF, SAVE, …), which is
    /// refused by default as hosted services refuse it.
    pub allow_admin: bool,
}

impl RestServerConfig {
    pub const DEFAULT_HOST: &'static str = "127.0.0.1";
    pub const DEFAULT_PORT: u16 = 8079;
    pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
    pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 256 * 1024 * 1024;
    pub const DEFAULT_MAX_PIPELINE_COMMANDS: usize =
        digis_redis_core::upstash::MAX_PIPELINE_COMMANDS;
    pub const DEFAULT_MAX_REPLY_BYTES: usize = 256 * 1024 * 1024;
    pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 1024;

    /// Defaults for everything but the Redis URL and the token.
    pub fn new(redis_url: impl Into<String>, token: impl Into<String>) -> RestServerConfig {
        RestServerConfig {
            host: Self::DEFAULT_HOST.to_string(),
            port: Self::DEFAULT_PORT,
            redis_url: redis_url.into(),
            embedded: false,
            token: token.into(),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_buffered_bytes: Self::DEFAULT_MAX_BUFFERED_BYTES,
            max_pipeline_commands: Self::DEFAULT_MAX_PIPELINE_COMMANDS,
            max_reply_bytes: Self::DEFAULT_MAX_REPLY_BYTES,
            max_subscriptions: Self::DEFAULT_MAX_SUBSCRIPTIONS,
            allow_admin: false,
        }
    }
}

// By hand, so the token and the Redis password never end up in a log line.
impl fmt::Debug for RestServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestServerConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("redis_url", &"<redacted>")
            .field("embedded", &self.embedded)
            .field("token", &"<redacted>")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_connections", &self.max_connections)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field("max_pipeline_commands", &self.max_pipeline_commands)
            .field("max_reply_bytes", &self.max_reply_bytes)
            .field("max_subscriptions", &self.max_subscriptions)
            .field("allow_admin", &self.allow_admin)
            .finish()
    }
}

/// A listening server. Dropping it stops accepting connections, as `shutdown` does without
/// waiting.
pub struct RunningServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish (up to a few seconds), then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Binds and starts serving on the current tokio runtime. Redis is connected on first use, so a
/// Redis that is down does not keep the server from starting (requests then answer 500).
pub async fn start(config: RestServerConfig) -> Result<RunningServer, String> {
    if config.token.is_empty() {
        return Err("a token is required".into());
    }
    if config.max_body_bytes == 0 {
        return Err("max_body_bytes must be at least 1".into());
    }
    if config.max_pipeline_commands == 0 || config.max_reply_bytes == 0 {
        return Err("max_pipeline_commands and max_reply_bytes must be at least 1".into());
    }
    if config.max_subscriptions == 0 || config.max_subscriptions > Semaphore::MAX_PERMITS {
        return Err("max_subscriptions must be at least 1".into());
    }
    if config.max_connections == 0 {
        return Err("max_connections must be at least 1".into());
    }
    if config.max_buffered_bytes < config.max_body_bytes {
        return Err("max_buffered_bytes must be at least max_body_bytes".into());
    }
    let backend = if config.embedded {
        backend::Backend::Embedded(embedded::EmbeddedStore::new())
    } else {
        backend::Backend::Redis(Box::new(backend::RedisBackend::new(
            &config.redis_url,
            secrets(&config),
        )?))
    };
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let shared = Arc::new(http::Shared {
        token: config.token.into_bytes(),
        policy: if config.allow_admin {
            command::Policy::AllowAdmin
        } else {
            command::Policy::Hosted
        },
        max_commands: config.max_pipeline_commands,
        max_reply: config.max_reply_bytes,
        max_body: config.max_body_bytes,
        buffered: http::BufferBudget::new(config.max_buffered_bytes),
        backend,
        subscriptions: Arc::new(Semaphore::new(config.max_subscriptions)),
        max_subscriptions: config.max_subscriptions,
        sync: AtomicU64::new(0),
    });
    let warm = shared.clone();
    tokio::spawn(async move { warm.backend.warm_up().await });
    let (stop, stopped) = oneshot::channel();
    let connection_slots = Arc::new(Semaphore::new(config.max_connections));
    let task = tokio::spawn(serve(listener, shared, connection_slots, stopped));
    Ok(RunningServer { addr, stop, task })
}

/// The token and every credential of the Redis URL, masked in any error text.
fn secrets(config: &RestServerConfig) -> Secrets {
    Secrets::merge([
        Secrets::new([config.token.clone()]),
        Secrets::of_url(&config.redis_url),
    ])
}

async fn serve(
    listener: TcpListener,
    shared: Arc<http::Shared>,
    connection_slots: Arc<Semaphore>,
    mut stop: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // A dropped `RunningServer` stops the server too.
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Over the cap: closed at once (dropped), so the client learns it without waiting.
                let Ok(slot) = connection_slots.clone().try_acquire_owned() else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let service = service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(http::handle(shared, req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                connections.spawn(async move {
                    let _ = conn.await;
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    // Idle keep-alive connections close at once; busy ones after their current request.
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
}
