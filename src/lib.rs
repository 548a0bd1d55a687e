//! The napi binding: a thin layer that turns JS calls into core feature calls. Values cross as
//! strings (V8 does the JSON work); errors cross as `"<CODE>: <message>"`, which the JS layer
//! turns into typed errors or the contract's fallbacks.

pub mod rest_server;

use std::sync::Arc;

use digis_redis_core::{
    backend::Unavailable,
    circuit::{CircuitBreaker, CircuitState},
    embedded::EmbeddedBackend,
    features::{Algorithm, Target},
    keys,
    options::{BreakerPolicy, Timeouts},
    redis_protocol::RedisBackend,
    reply_json,
    upstash::{UpstashBackend, UpstashConfig},
    BackendKind, Cmd, Features, SharedBackend,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Which key family a single-value call addresses; the key itself is built in Rust.
#[napi]
pub enum Namespace {
    /// `cache.*`: the key exactly as given.
    Raw,
    Session,
    User,
    Creator,
    /// `creator:list`; the id is ignored.
    CreatorList,
    ActiveStream,
    Otp,
    /// A creator's availability (`{creator:<id>}:status`).
    CreatorStatus,
    /// `token:<id>`.
    TokenBalance,
}

/// `rateLimiter.check`'s `algorithm` option.
#[napi]
pub enum RateLimitAlgorithm {
    TokenBucket,
    SlidingWindow,
    FixedWindow,
}

fn target(ns: Namespace, id: String) -> Target {
    match ns {
        Namespace::Raw => Target::Raw(id),
        Namespace::Session => Target::Session(id),
        Namespace::User => Target::User(id),
        Namespace::Creator => Target::Creator(id),
        Namespace::CreatorList => Target::CreatorList,
        Namespace::ActiveStream => Target::ActiveStream(id),
        Namespace::Otp => Target::Otp(id),
        Namespace::CreatorStatus => Target::CreatorStatus(id),
        Namespace::TokenBalance => Target::TokenBalance(id),
    }
}

fn to_js(err: digis_redis_core::Error) -> Error {
    Error::from_reason(err.to_string())
}

fn text(bytes: bytes::Bytes) -> String {
    // Vec::from takes the buffer without copying when the Bytes is its only owner.
    match String::from_utf8(Vec::from(bytes)) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// `{ NAME: value, ... }` as JSON, in declaration order.
fn constants_json<V: std::fmt::Display>(pairs: &[(&str, V)], quote: bool) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(name, value)| {
            if quote {
                format!("\"{name}\":\"{value}\"")
            } else {
                format!("\"{name}\":{value}")
            }
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

/// `CACHE_PREFIXES`, as JSON.
#[napi]
pub fn cache_prefixes_json() -> String {
    constants_json(&keys::CACHE_PREFIXES, true)
}

/// `TTL` in seconds, as JSON.
#[napi]
pub fn ttl_json() -> String {
    constants_json(&keys::TTL, false)
}

#[napi(object)]
pub struct RateLimitResult {
    pub allowed: bool,
    pub remaining: f64,
    pub reset_ms: f64,
    pub retry_after_ms: f64,
}

#[napi(object)]
pub struct ActiveStreamItem {
    /// The stored text, JSON-parsed by the JS layer.
    pub data: String,
    pub viewers: f64,
}

#[napi(object)]
pub struct CreatorStatusItem {
    pub creator_id: String,
    pub status: String,
}

/// Deadlines, retries and circuit breaker of the server backends (milliseconds); absent fields
/// keep their value.
#[napi(object)]
pub struct BackendOptions {
    /// The whole budget of one call, retries included.
    pub call_timeout_ms: Option<u32>,
    pub connect_timeout_ms: Option<u32>,
    /// Extra attempts after a transport failure of an idempotent REST command.
    pub retries: Option<u32>,
    /// Consecutive transport failures that open the circuit.
    pub breaker_threshold: Option<u32>,
    /// How long an open circuit fails fast before one probe.
    pub breaker_cooldown_ms: Option<u32>,
}

#[napi(object)]
pub struct Health {
    pub backend: String,
    pub ok: bool,
    /// Round trip of a PING; null when it failed.
    pub latency_ms: Option<f64>,
    pub circuit: String,
    /// The failing PING's error, else the last transport failure seen; secrets masked.
    pub last_error: Option<String>,
}

/// What `configure()` can change while the client runs.
#[derive(Default)]
struct Tuning {
    timeouts: Arc<Timeouts>,
    breaker: Arc<BreakerPolicy>,
}

impl Tuning {
    fn from_options(options: &BackendOptions) -> Tuning {
        let tuning = Tuning::default();
        tuning.apply(options);
        tuning
    }

    fn apply(&self, options: &BackendOptions) {
        if let Some(ms) = options.call_timeout_ms {
            self.timeouts.set_call_ms(u64::from(ms));
        }
        if let Some(ms) = options.connect_timeout_ms {
            self.timeouts.set_connect_ms(u64::from(ms));
        }
        if let Some(n) = options.retries {
            self.timeouts.set_retries(n);
        }
        if let Some(n) = options.breaker_threshold {
            self.breaker.set_threshold(n);
        }
        if let Some(ms) = options.breaker_cooldown_ms {
            self.breaker.set_cooldown_ms(u64::from(ms));
        }
    }
}

#[napi]
pub struct NativeClient {
    features: Arc<Features>,
    /// None for the embedded store, which has no network to fail.
    breaker: Option<Arc<CircuitBreaker>>,
    tuning: Tuning,
    description: String,
}

impl NativeClient {
    /// A server backend behind its circuit breaker, or, when it cannot be set up, one whose
    /// every call reports why.
    fn server(
        kind: BackendKind,
        made: digis_redis_core::Result<(SharedBackend, String)>,
        tuning: Tuning,
    ) -> NativeClient {
        let (backend, description) = match made {
            Ok(made) => made,
            Err(err) => {
                let description = format!("{} (unavailable: {})", kind.name(), err.message);
                (
                    Arc::new(Unavailable::new(kind, err)) as SharedBackend,
                    description,
                )
            }
        };
        let breaker = Arc::new(CircuitBreaker::new(backend, tuning.breaker.clone()));
        NativeClient {
            features: Arc::new(Features::new(breaker.clone())),
            breaker: Some(breaker),
            tuning,
            description,
        }
    }
}

#[napi]
impl NativeClient {
    /// A client on the in-process store.
    #[napi(factory)]
    pub fn embedded() -> NativeClient {
        NativeClient {
            features: Arc::new(Features::new(Arc::new(EmbeddedBackend::new()))),
            breaker: None,
            tuning: Tuning::default(),
            description: "embedded".to_string(),
        }
    }

    /// A client on the Redis protocol (`redis://`, `rediss://`). Never throws: a bad URL makes
    /// every call fail with the reason.
    #[napi(factory)]
    pub fn redis(url: String, options: BackendOptions) -> NativeClient {
        let tuning = Tuning::from_options(&options);
        let made = RedisBackend::new(&url, tuning.timeouts.clone()).map(|b| {
            let description = b.describe();
            (Arc::new(b) as SharedBackend, description)
        });
        NativeClient::server(BackendKind::Redis, made, tuning)
    }

    /// A client on the Upstash REST API. Never throws: a bad URL or token makes every call fail
    /// with the reason.
    #[napi(factory)]
    pub fn upstash(url: String, token: String, options: BackendOptions) -> NativeClient {
        let tuning = Tuning::from_options(&options);
        let made =
            UpstashBackend::new(UpstashConfig { url, token }, tuning.timeouts.clone()).map(|b| {
                let description = b.describe();
                (Arc::new(b) as SharedBackend, description)
            });
        NativeClient::server(BackendKind::Upstash, made, tuning)
    }

    /// `closed`, `open` or `half-open`; always `closed` on the embedded store.
    #[napi(getter)]
    pub fn circuit(&self) -> &'static str {
        self.breaker
            .as_ref()
            .map_or(CircuitState::Closed, |b| b.state())
            .name()
    }

    /// Never rejects: a PING through the breaker, timed.
    #[napi]
    pub async fn health(&self) -> Health {
        let started = std::time::Instant::now();
        let result = self.features.ping().await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let ok = matches!(result, Ok(true));
        Health {
            backend: self.features.backend().kind().name().to_string(),
            ok,
            latency_ms: ok.then_some(latency_ms),
            circuit: self.circuit().to_string(),
            last_error: match result {
                Err(err) => Some(err.to_string()),
                Ok(_) => self.breaker.as_ref().and_then(|b| b.last_error()),
            },
        }
    }

    /// `embedded`, `redis` or `upstash`.
    #[napi(getter)]
    pub fn backend(&self) -> &'static str {
        self.features.backend().kind().name()
    }

    /// The backend and its address, secrets masked.
    #[napi(getter)]
    pub fn description(&self) -> String {
        self.description.clone()
    }

    #[napi]
    pub fn set_options(&self, options: BackendOptions) {
        self.tuning.apply(&options);
    }

    #[napi]
    pub async fn set(
        &self,
        ns: Namespace,
        id: String,
        value: String,
        ttl_seconds: Option<u32>,
    ) -> Result<()> {
        let ttl = ttl_seconds.map(u64::from);
        self.features
            .set(&target(ns, id), value.into(), ttl)
            .await
            .map_err(to_js)
    }

    #[napi]
    pub async fn get(&self, ns: Namespace, id: String) -> Result<Option<String>> {
        let found = self.features.get(&target(ns, id)).await.map_err(to_js)?;
        Ok(found.map(text))
    }

    #[napi]
    pub async fn del(&self, ns: Namespace, id: String) -> Result<()> {
        self.features.del(&target(ns, id)).await.map_err(to_js)
    }

    #[napi]
    pub async fn exists(&self, ns: Namespace, id: String) -> Result<bool> {
        self.features.exists(&target(ns, id)).await.map_err(to_js)
    }

    #[napi]
    pub async fn expire(&self, ns: Namespace, id: String, seconds: u32) -> Result<bool> {
        self.features
            .expire(&target(ns, id), u64::from(seconds))
            .await
            .map_err(to_js)
    }

    #[napi]
    pub async fn incr(&self, ns: Namespace, id: String) -> Result<i64> {
        self.features.incr(&target(ns, id)).await.map_err(to_js)
    }

    #[napi]
    pub async fn mget(&self, keys: Vec<String>) -> Result<Vec<Option<String>>> {
        let found = self.features.mget(keys).await.map_err(to_js)?;
        Ok(found.into_iter().map(|v| v.map(text)).collect())
    }

    #[napi]
    pub async fn del_pattern(&self, pattern: String) -> Result<i64> {
        let n = self.features.del_pattern(&pattern).await.map_err(to_js)?;
        Ok(n as i64)
    }

    #[napi]
    pub async fn creators_invalidate(&self, id: String) -> Result<()> {
        self.features.creators_invalidate(&id).await.map_err(to_js)
    }

    #[napi]
    pub async fn streams_set_active(
        &self,
        id: String,
        value: String,
        ttl_seconds: Option<u32>,
    ) -> Result<()> {
        let ttl = ttl_seconds.map(u64::from);
        self.features
            .streams_set_active(&id, value.into(), ttl)
            .await
            .map_err(to_js)
    }

    #[napi]
    pub async fn streams_remove_active(&self, id: String) -> Result<()> {
        self.features
            .streams_remove_active(&id)
            .await
            .map_err(to_js)
    }

    #[napi]
    pub async fn streams_all_active(&self, presence_ms: u32) -> Result<Vec<ActiveStreamItem>> {
        let streams = self
            .features
            .streams_all_active(u64::from(presence_ms))
            .await
            .map_err(to_js)?;
        Ok(streams
            .into_iter()
            .map(|s| ActiveStreamItem {
                data: text(s.data),
                viewers: s.viewers as f64,
            })
            .collect())
    }

    #[napi]
    pub async fn streams_viewer_joined(
        &self,
        stream: String,
        viewer: String,
        presence_ms: u32,
    ) -> Result<()> {
        self.features
            .streams_viewer_joined(&stream, &viewer, u64::from(presence_ms))
            .await
            .map_err(to_js)
    }

    #[napi]
    pub async fn streams_viewer_left(&self, stream: String, viewer: String) -> Result<()> {
        self.features
            .streams_viewer_left(&stream, &viewer)
            .await
            .map_err(to_js)
    }

    #[napi]
    pub async fn streams_viewer_count(&self, stream: String, presence_ms: u32) -> Result<f64> {
        let n = self
            .features
            .streams_viewer_count(&stream, u64::from(presence_ms))
            .await
            .map_err(to_js)?;
        Ok(n as f64)
    }

    /// `status` null clears it.
    #[napi]
    pub async fn creators_set_status(
        &self,
        id: String,
        status: Option<String>,
        ttl_seconds: u32,
    ) -> Result<()> {
        self.features
            .creators_set_status(&id, status.as_deref(), u64::from(ttl_seconds))
            .await
            .map_err(to_js)
    }

    #[napi]
    pub async fn creators_online(&self) -> Result<Vec<CreatorStatusItem>> {
        let online = self.features.creators_online().await.map_err(to_js)?;
        Ok(online
            .into_iter()
            .map(|(creator_id, status)| CreatorStatusItem {
                creator_id,
                status: text(status),
            })
            .collect())
    }

    #[napi]
    pub async fn streams_reindex(&self) -> Result<i64> {
        let n = self.features.streams_reindex().await.map_err(to_js)?;
        Ok(n as i64)
    }

    #[napi]
    pub async fn rate_limit_check(
        &self,
        id: String,
        algorithm: RateLimitAlgorithm,
        limit: u32,
        window_seconds: u32,
        cost: u32,
    ) -> Result<RateLimitResult> {
        let algorithm = match algorithm {
            RateLimitAlgorithm::TokenBucket => Algorithm::TokenBucket,
            RateLimitAlgorithm::SlidingWindow => Algorithm::SlidingWindow,
            RateLimitAlgorithm::FixedWindow => Algorithm::FixedWindow,
        };
        let d = self
            .features
            .rate_limit_check(
                &id,
                algorithm,
                u64::from(limit),
                u64::from(window_seconds),
                u64::from(cost),
            )
            .await
            .map_err(to_js)?;
        Ok(RateLimitResult {
            allowed: d.allowed,
            remaining: d.remaining as f64,
            reset_ms: d.reset_ms as f64,
            retry_after_ms: d.retry_after_ms as f64,
        })
    }

    #[napi]
    pub async fn rate_limit_reset(&self, id: String) -> Result<()> {
        self.features.rate_limit_reset(&id).await.map_err(to_js)
    }

    #[napi]
    pub async fn otp_store(
        &self,
        id: String,
        code: String,
        ttl_seconds: Option<u32>,
    ) -> Result<()> {
        self.features
            .otp_store(&id, code.into(), ttl_seconds.map(u64::from))
            .await
            .map_err(to_js)
    }

    #[napi]
    pub async fn otp_verify(&self, id: String, code: String, max_attempts: u32) -> Result<bool> {
        self.features
            .otp_verify(&id, &code, max_attempts)
            .await
            .map_err(to_js)
    }

    #[napi]
    pub async fn ping(&self) -> Result<bool> {
        self.features.ping().await.map_err(to_js)
    }

    /// One raw command; the reply as JSON text.
    #[napi]
    pub async fn command(&self, parts: Vec<String>) -> Result<String> {
        let cmd = Cmd::from_parts(parts.into_iter().map(Into::into).collect());
        let reply = self.features.backend().call(cmd).await.map_err(to_js)?;
        Ok(reply_json::reply_to_json(&reply))
    }

    /// Raw commands in one round trip (`atomic`: MULTI/EXEC); the items as JSON text.
    #[napi]
    pub async fn pipeline(&self, commands: Vec<Vec<String>>, atomic: bool) -> Result<String> {
        let cmds = commands
            .into_iter()
            .map(|parts| Cmd::from_parts(parts.into_iter().map(Into::into).collect()))
            .collect();
        let items = self
            .features
            .backend()
            .pipeline(cmds, atomic)
            .await
            .map_err(to_js)?;
        Ok(reply_json::pipeline_to_json(&items))
    }
}
