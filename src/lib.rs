//! The napi binding: a thin layer that turns JS calls into core feature calls. Values cross as
//! strings (V8 does the JSON work); errors cross as Error objects with their `code` set here
//! (js_error.rs), which the JS layer turns into typed errors or the contract's fallbacks.

mod completion;
mod coordination;
pub mod doctor;
mod js_error;
mod node_loop;
mod pubsub;
pub mod rest_server;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use digis_redis_core::{
    backend::Unavailable,
    circuit::{CircuitBreaker, CircuitState, CircuitView},
    embedded::EmbeddedBackend,
    features::{
        Algorithm, RateLimitDecision, RateLimitRequest, Target, WindowHits, WindowHitsChange,
    },
    keys,
    options::{BreakerPolicy, Timeouts},
    order::{self, Sequencer},
    packed,
    redis_cluster::ClusterBackend,
    redis_protocol::{handshake, RedisBackend},
    reply_json,
    upstash::{UpstashBackend, UpstashConfig},
    BackendKind, Cmd, Features, SharedBackend,
};
use js_error::{from_napi, to_js, Code};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Tokio worker threads for network I/O: `DIGIS_REDIS_IO_THREADS`, default 1. One thread keeps
/// a call's I/O on a single core beside Node's thread; on a small machine more workers compete
/// with Node, the server and each other for the same cores (BENCHMARKS.md, "Express app").
const IO_THREADS_VARIABLE: &str = "DIGIS_REDIS_IO_THREADS";

/// The I/O thread count `DIGIS_REDIS_IO_THREADS` asks for, or why it is ignored.
fn io_threads_setting() -> std::result::Result<usize, String> {
    match std::env::var(IO_THREADS_VARIABLE) {
        Err(_) => Ok(1),
        Ok(value) if value.is_empty() => Ok(1),
        Ok(value) => value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<usize>().ok())
            .flatten()
            .filter(|n| (1..=256).contains(n))
            .ok_or_else(|| {
                format!("{IO_THREADS_VARIABLE} must be a whole number from 1 to 256, got {value:?}")
            }),
    }
}

/// Why `DIGIS_REDIS_IO_THREADS` was ignored (the JS layer reports it once), or null.
#[napi]
pub fn io_threads_problem() -> Option<String> {
    io_threads_setting().err()
}

#[napi_derive::module_init]
fn init() {
    // A runtime that cannot be built leaves napi-rs its default one.
    if let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(io_threads_setting().unwrap_or(1))
        .thread_name("digis-redis-io")
        .enable_all()
        .build()
    {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}

/// Which key family a single-value call addresses; the key itself is built in Rust.
#[napi]
#[derive(Clone, Copy)]
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

const ALL_NAMESPACES: [Namespace; 9] = [
    Namespace::Raw,
    Namespace::Session,
    Namespace::User,
    Namespace::Creator,
    Namespace::CreatorList,
    Namespace::ActiveStream,
    Namespace::Otp,
    Namespace::CreatorStatus,
    Namespace::TokenBalance,
];

/// A `Namespace` sent as its number (packed batches carry them in a Uint8Array).
fn namespace_from(n: u8) -> Result<Namespace, Code> {
    ALL_NAMESPACES
        .iter()
        .copied()
        .find(|&ns| ns as u8 == n)
        .ok_or_else(|| {
            js_error::core(
                digis_redis_core::ErrorKind::InvalidArgument,
                format!("no namespace {n}"),
            )
        })
}

fn packing_error(what: &str) -> Error<Code> {
    js_error::core(
        digis_redis_core::ErrorKind::InvalidArgument,
        format!("packed {what} do not match their lengths"),
    )
}

/// The targets of a packed batch: namespace numbers, and ids concatenated with their lengths.
fn packed_targets(namespaces: &[u8], ids: &str, id_lengths: &[u32]) -> Result<Vec<Target>, Code> {
    let pieces = packed::split_utf16(ids, id_lengths)
        .filter(|pieces| pieces.len() == namespaces.len())
        .ok_or_else(|| packing_error("ids"))?;
    namespaces
        .iter()
        .zip(pieces)
        .map(|(&ns, id)| namespace_from(ns).map(|ns| target(ns, id.to_string())))
        .collect()
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

/// The codes the core gives its errors, for the JS layer to tell the binding's failures from
/// anything else thrown.
#[napi]
pub fn error_codes() -> Vec<&'static str> {
    digis_redis_core::ErrorKind::ALL
        .iter()
        .map(|kind| kind.code())
        .collect()
}

/// `CACHE_PREFIXES`, as JSON.
#[napi]
pub fn cache_prefixes_json() -> String {
    constants_json(&keys::CACHE_PREFIXES, true)
}

/// The fixed key names and default prefixes the JS layer needs, as JSON: JS never spells a key.
#[napi]
pub fn key_names_json() -> String {
    constants_json(
        &[
            ("ANALYTICS_TOTALS", keys::ANALYTICS_TOTALS),
            ("SESSION_STORE_PREFIX", keys::SESSION_STORE_PREFIX),
            ("RATE_LIMIT_STORE_PREFIX", keys::RATE_LIMIT_STORE_PREFIX),
        ],
        true,
    )
}

/// A record of an express store with a caller-chosen prefix.
#[napi]
pub fn prefixed_key(prefix: String, id: String) -> String {
    keys::prefixed(&prefix, &id)
}

/// The SCAN MATCH pattern for every key under `prefix`, glob characters escaped.
#[napi]
pub fn prefix_pattern(prefix: String) -> String {
    keys::prefix_pattern(&prefix)
}

/// A response cached by `cacheResponse` under `name`.
#[napi]
pub fn response_key(name: String) -> String {
    keys::response(&name)
}

/// The set of responses cached under `tag`.
#[napi]
pub fn response_tag_key(tag: String) -> String {
    keys::response_tag(&tag)
}

/// The creator read counts of one decay epoch.
#[napi]
pub fn creator_popularity_key(half_life_seconds: f64, epoch: f64) -> String {
    keys::creator_popularity(half_life_seconds, epoch)
}

/// A lock's fencing counter.
#[napi]
pub fn lock_fence_key(name: String) -> String {
    keys::lock_fence(&name)
}

/// `TTL` in seconds, as JSON.
#[napi]
pub fn ttl_json() -> String {
    constants_json(&keys::TTL, false)
}

/// `url` with its credentials masked, for display (core's one redaction rule, for `doctor`).
#[napi]
pub fn redact_url(url: String) -> String {
    digis_redis_core::redact::redact_url(&url)
}

/// `text` with every one of `tokens` and every credential of `urls` masked.
#[napi]
pub fn redact_secrets(text: String, tokens: Vec<String>, urls: Vec<String>) -> String {
    use digis_redis_core::redact::Secrets;
    let url_secrets = urls.iter().map(|url| Secrets::of_url(url));
    Secrets::merge(std::iter::once(Secrets::new(tokens)).chain(url_secrets)).redact(&text)
}

#[napi(object)]
pub struct RateLimitResult {
    pub allowed: bool,
    pub remaining: f64,
    pub reset_ms: f64,
    pub retry_after_ms: f64,
}

/// A fixed window's hit counter after a change (`RateLimitStore`).
#[napi(object)]
pub struct WindowHitsResult {
    pub hits: f64,
    /// 0 when no window is running.
    pub reset_ms: f64,
}

impl From<WindowHits> for WindowHitsResult {
    fn from(w: WindowHits) -> WindowHitsResult {
        WindowHitsResult {
            hits: w.hits as f64,
            reset_ms: w.reset_ms as f64,
        }
    }
}

/// Values of a batch of reads, packed (see `digis_redis_core::packed`): the values found,
/// concatenated, and per read its UTF-16 length in `text`, or -1 for a miss or a failed read.
#[napi(object, object_from_js = false)]
pub struct PackedValues {
    pub text: String,
    pub lengths: Int32Array,
    /// Per read: null, or why it failed; null as a whole when none did.
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

/// A batch of rate-limit checks: the result at each index (null where the check failed).
#[napi(object, object_from_js = false)]
pub struct RateLimitBatch {
    pub values: Vec<Option<RateLimitResult>>,
    /// Null when every check succeeded, else the error or null at each index.
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

/// A batch of EXPIREs: per item 1 when the key existed and got the expiry, else 0 (also where
/// the item failed, with its error at the same index of `errors`).
#[napi(object, object_from_js = false)]
pub struct ExpireBatch {
    pub values: Uint8Array,
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

/// A batch of window-counter changes: per item its hits then its time left (ms, 0 when no
/// window runs) at `2i` and `2i + 1` of `counts` (0 and 0 where the item failed, with its error
/// at index `i` of `errors`).
#[napi(object, object_from_js = false)]
pub struct WindowHitsBatch {
    pub counts: Float64Array,
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

/// A batch of one-time-code checks, shaped like `RateLimitBatch`.
#[napi(object, object_from_js = false)]
pub struct OtpVerifyBatch {
    pub values: Vec<Option<bool>>,
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

/// Per-item errors of a batch: null as a whole when nothing failed, else an Error (with its
/// `code`) or null at each index.
type ItemErrors = Option<Vec<Option<Error<Code>>>>;

/// Per-item outcomes as the JS batcher takes them: values (null where an item failed) and the
/// errors.
fn split_outcomes<T, U: From<T>>(
    items: Vec<digis_redis_core::Result<T>>,
) -> (Vec<Option<U>>, ItemErrors) {
    let count = items.len();
    let mut values = Vec::with_capacity(count);
    let mut errors: ItemErrors = None;
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Ok(value) => values.push(Some(value.into())),
            Err(err) => {
                values.push(None);
                errors.get_or_insert_with(|| (0..count).map(|_| None).collect())[i] =
                    Some(to_js(err));
            }
        }
    }
    (values, errors)
}

impl From<RateLimitDecision> for RateLimitResult {
    fn from(d: RateLimitDecision) -> RateLimitResult {
        RateLimitResult {
            allowed: d.allowed,
            remaining: d.remaining as f64,
            reset_ms: d.reset_ms as f64,
            retry_after_ms: d.retry_after_ms as f64,
        }
    }
}

fn rate_limit_request(
    id: String,
    algorithm: RateLimitAlgorithm,
    limit: u32,
    window_seconds: u32,
    cost: u32,
) -> RateLimitRequest {
    RateLimitRequest {
        id,
        algorithm: match algorithm {
            RateLimitAlgorithm::TokenBucket => Algorithm::TokenBucket,
            RateLimitAlgorithm::SlidingWindow => Algorithm::SlidingWindow,
            RateLimitAlgorithm::FixedWindow => Algorithm::FixedWindow,
        },
        limit: u64::from(limit),
        window_seconds: u64::from(window_seconds),
        cost: u64::from(cost),
    }
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
    /// The embedded store's memory bound in bytes (0: none).
    pub embedded_max_bytes: Option<i64>,
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
    /// How calls reach the store: `node-loop` (the socket is driven by Node's own loop),
    /// `io-thread` (by the addon's tokio thread) or `in-process` (the embedded store).
    pub transport: String,
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
    breaker: Option<Arc<dyn CircuitView>>,
    tuning: Tuning,
    description: String,
    /// The store itself, when it is the embedded one (its memory bound follows configure()).
    embedded: Option<EmbeddedBackend>,
    /// Issue order of the calls to a server backend (see `digis_redis_core::order`).
    order: Arc<Sequencer>,
    /// The backend's socket is driven by Node's loop: calls run on Node's thread (node_loop).
    on_node_loop: bool,
}

/// A plain value when the work finished at once (the embedded store), else a promise.
type Answer<'env, T> = Either<T, PromiseRaw<'env, T>>;

impl NativeClient {
    /// Every call goes through here. On the embedded store, which never waits on I/O, `work`
    /// runs to its end on the calling thread: no thread hop, no wake-up of Node's loop, and
    /// calls act in the order they were issued (walks and big batches included, at the cost of
    /// holding the thread for their length, as a Redis server does). On a server backend it
    /// becomes a promise, settled through the shared completion queue (completion.rs); its
    /// place in line is taken now, on the caller's thread, so its first command reaches the
    /// connection after every call issued before it.
    fn answer<'env, T, F>(&self, env: &'env Env, work: F) -> Result<Answer<'env, T>, Code>
    where
        T: ToNapiValue + Send + 'static,
        F: Future<Output = digis_redis_core::Result<T>> + Send + 'static,
    {
        let mut work = Box::pin(work);
        if self.breaker.is_none() {
            let mut cx = Context::from_waker(Waker::noop());
            let polled = std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(&mut cx)));
            match polled {
                Ok(Poll::Ready(outcome)) => return outcome.map(Either::A).map_err(to_js),
                Ok(Poll::Pending) => {}
                Err(_) => {
                    return Err(js_error::core(
                        digis_redis_core::ErrorKind::Internal,
                        "a panic in the embedded store was caught",
                    ))
                }
            }
        }
        let ticket = self.order.ticket();
        let budget = self.tuning.timeouts.call();
        let call = async move { order::in_order(ticket, budget, work).await.map_err(to_js) };
        let panicked = || {
            js_error::core(
                digis_redis_core::ErrorKind::Internal,
                "a panic in the addon was caught",
            )
        };
        let promise = if self.on_node_loop {
            node_loop::executor::Executor::current(env)
                .and_then(|executor| executor.spawn(env, call, panicked))
        } else {
            completion::spawn(env, call, panicked)
        };
        promise.map(Either::B).map_err(from_napi)
    }

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
            embedded: None,
            order: Sequencer::new(),
            on_node_loop: false,
        }
    }

    /// A client on a cluster, whose backend keeps a circuit per master itself.
    fn with_own_circuits(backend: Arc<ClusterBackend>, tuning: Tuning) -> NativeClient {
        let description = backend.describe();
        NativeClient {
            features: Arc::new(Features::new(backend.clone())),
            breaker: Some(backend),
            tuning,
            description,
            embedded: None,
            order: Sequencer::new(),
            on_node_loop: false,
        }
    }
}

#[napi]
impl NativeClient {
    /// A client on the in-process store.
    #[napi(factory)]
    pub fn embedded(options: Option<BackendOptions>) -> NativeClient {
        let store = EmbeddedBackend::new();
        let client = NativeClient {
            features: Arc::new(Features::new(Arc::new(store.clone()))),
            breaker: None,
            tuning: Tuning::default(),
            description: "embedded".to_string(),
            embedded: Some(store),
            order: Sequencer::new(),
            on_node_loop: false,
        };
        if let Some(options) = options {
            client.set_options(options);
        }
        client
    }

    /// A client with no backend: every call fails with `reason`, so the features answer their
    /// fallbacks and log it (a production process started without any backend variable).
    #[napi(factory)]
    pub fn unconfigured(reason: String, options: BackendOptions) -> NativeClient {
        let error =
            digis_redis_core::Error::new(digis_redis_core::ErrorKind::InvalidArgument, reason);
        NativeClient::server(
            BackendKind::Unconfigured,
            Err(error),
            Tuning::from_options(&options),
        )
    }

    /// A client on the Redis protocol (`redis://`, `rediss://`). Never throws: a bad URL makes
    /// every call fail with the reason.
    ///
    /// With `nodeLoop`, a plain-TCP server's socket is driven by Node's own loop (node_loop),
    /// where this runtime allows it; otherwise by the tokio I/O thread.
    #[napi(factory)]
    pub fn redis(url: String, options: BackendOptions, node_loop: Option<bool>) -> NativeClient {
        let tuning = Tuning::from_options(&options);
        let timeouts = tuning.timeouts.clone();
        if node_loop == Some(true) && node_loop::usable() {
            if let Ok(backend) =
                RedisBackend::with_connector(&url, timeouts.clone(), node_loop::LoopConnector)
            {
                if handshake::plain_tcp(backend.connection_info()) {
                    let description = backend.describe();
                    let made = Ok((Arc::new(backend) as SharedBackend, description));
                    let mut client = NativeClient::server(BackendKind::Redis, made, tuning);
                    client.on_node_loop = true;
                    return client;
                }
            }
        }
        let made = RedisBackend::new(&url, timeouts).map(|b| {
            let description = b.describe();
            (Arc::new(b) as SharedBackend, description)
        });
        NativeClient::server(BackendKind::Redis, made, tuning)
    }

    /// Whether this client's socket is driven by Node's own loop (`nodeLoop`), for `doctor`.
    #[napi(getter)]
    pub fn on_node_loop(&self) -> bool {
        self.on_node_loop
    }

    /// A client on a Redis Cluster, from its seed nodes' URLs (`redis://`, `rediss://`). Never
    /// throws: bad URLs make every call fail with the reason.
    #[napi(factory)]
    pub fn cluster(urls: Vec<String>, options: BackendOptions) -> NativeClient {
        let tuning = Tuning::from_options(&options);
        match ClusterBackend::new(&urls, tuning.timeouts.clone(), tuning.breaker.clone()) {
            Ok(backend) => NativeClient::with_own_circuits(Arc::new(backend), tuning),
            Err(err) => NativeClient::server(BackendKind::RedisCluster, Err(err), tuning),
        }
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

    /// The circuit's state changes since the last call, oldest first (each is logged once):
    /// the state, then on a cluster which circuit (`open master 10.0.0.1:6379`).
    #[napi]
    pub fn take_circuit_events(&self) -> Vec<String> {
        self.breaker
            .as_ref()
            .map(|b| {
                b.take_transitions()
                    .into_iter()
                    .map(|(state, which)| match which {
                        Some(which) => format!("{} {which}", state.name()),
                        None => state.name().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Never rejects: a PING through the breaker, timed.
    #[napi(ts_return_type = "Health | Promise<Health>")]
    pub fn health<'env>(&self, env: &'env Env) -> Result<Answer<'env, Health>, Code> {
        let f = self.features.clone();
        let breaker = self.breaker.clone();
        let transport = match (&self.breaker, self.on_node_loop) {
            (None, _) => "in-process",
            (Some(_), true) => "node-loop",
            (Some(_), false) => "io-thread",
        };
        self.answer(env, async move {
            let started = std::time::Instant::now();
            let result = f.ping().await;
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            let ok = matches!(result, Ok(true));
            let circuit = breaker.as_ref().map_or(CircuitState::Closed, |b| b.state());
            Ok(Health {
                backend: f.backend().kind().name().to_string(),
                ok,
                latency_ms: ok.then_some(latency_ms),
                circuit: circuit.name().to_string(),
                last_error: match result {
                    Err(err) => Some(err.to_string()),
                    Ok(_) => breaker.as_ref().and_then(|b| b.last_error()),
                },
                transport: transport.to_string(),
            })
        })
    }

    /// `embedded`, `redis`, `redis-cluster` or `upstash`.
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
        if let (Some(store), Some(bytes)) = (&self.embedded, options.embedded_max_bytes) {
            store.set_max_bytes(usize::try_from(bytes).unwrap_or(0));
        }
    }

    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn set<'env>(
        &self,
        env: &'env Env,
        ns: Namespace,
        id: String,
        value: String,
        ttl_seconds: Option<u32>,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        let ttl = ttl_seconds.map(u64::from);
        self.answer(env, async move {
            f.set(&target(ns, id), value.into(), ttl).await
        })
    }

    #[napi(ts_return_type = "string | null | Promise<string | null>")]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        ns: Namespace,
        id: String,
    ) -> Result<Answer<'env, Option<String>>, Code> {
        let f = self.features.clone();
        self.answer(
            env,
            async move { Ok(f.get(&target(ns, id)).await?.map(text)) },
        )
    }

    /// A handle for `embeddedGet` / `embeddedSet`, the embedded store's synchronous calls
    /// (opaque to JS: its Rust type means nothing to TypeScript).
    #[napi(getter, ts_return_type = "ExternalObject<unknown>")]
    pub fn embedded_handle(&self) -> External<Arc<Features>> {
        External::new(self.features.clone())
    }

    /// GETs gathered by the JS layer within one tick, sent as one pipeline. Packed both ways:
    /// ids concatenated with their UTF-16 lengths in, values likewise out, one string each way
    /// instead of an array element per key.
    #[napi(ts_return_type = "PackedValues | Promise<PackedValues>")]
    pub fn get_many_packed<'env>(
        &self,
        env: &'env Env,
        namespaces: Uint8Array,
        ids: String,
        id_lengths: Uint32Array,
    ) -> Result<Answer<'env, PackedValues>, Code> {
        let targets = packed_targets(&namespaces, &ids, &id_lengths)?;
        let f = self.features.clone();
        self.answer(env, async move {
            let items = f.get_many(targets).await?;
            let (values, errors) =
                split_outcomes::<Option<bytes::Bytes>, Option<bytes::Bytes>>(items);
            let mut packer = packed::Packer::with_capacity(values.len());
            for value in values {
                packer.push(value.flatten().as_deref());
            }
            Ok(PackedValues {
                text: packer.text,
                lengths: Int32Array::new(packer.lengths),
                errors,
            })
        })
    }

    /// SETs gathered within one tick, as one pipeline, packed like `get_many_packed`; `lengths`
    /// holds the ids' lengths, then the values'; a negative TTL means none. Null when every
    /// write succeeded, else the error at each index (null where the write succeeded).
    #[napi(
        ts_return_type = "Array<Error | undefined | null> | null | Promise<Array<Error | undefined | null> | null>"
    )]
    pub fn set_many_packed<'env>(
        &self,
        env: &'env Env,
        namespaces: Uint8Array,
        ids: String,
        values: String,
        lengths: Uint32Array,
        ttl_seconds: Float64Array,
    ) -> Result<Answer<'env, ItemErrors>, Code> {
        let (id_lengths, value_lengths) = lengths.split_at(namespaces.len().min(lengths.len()));
        let targets = packed_targets(&namespaces, &ids, id_lengths)?;
        let ranges = packed::utf16_ranges(&values, value_lengths)
            .filter(|ranges| ranges.len() == targets.len() && ttl_seconds.len() == targets.len())
            .ok_or_else(|| packing_error("values"))?;
        // Every value is a slice of the one buffer that crossed from JS: no copy per value.
        let joined = bytes::Bytes::from(values);
        let items = targets
            .into_iter()
            .zip(ranges)
            .zip(ttl_seconds.iter())
            .map(|((target, range), &ttl)| {
                let ttl = (ttl >= 0.0).then_some(ttl as u64);
                (target, joined.slice(range), ttl)
            })
            .collect();
        let f = self.features.clone();
        self.answer(env, async move {
            let outcomes = f.set_many(items).await?;
            let (_, errors) = split_outcomes::<(), ()>(outcomes);
            Ok(errors)
        })
    }

    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn del<'env>(
        &self,
        env: &'env Env,
        ns: Namespace,
        id: String,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.del(&target(ns, id)).await })
    }

    #[napi(ts_return_type = "boolean | Promise<boolean>")]
    pub fn exists<'env>(
        &self,
        env: &'env Env,
        ns: Namespace,
        id: String,
    ) -> Result<Answer<'env, bool>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.exists(&target(ns, id)).await })
    }

    #[napi(ts_return_type = "boolean | Promise<boolean>")]
    pub fn expire<'env>(
        &self,
        env: &'env Env,
        ns: Namespace,
        id: String,
        seconds: u32,
    ) -> Result<Answer<'env, bool>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.expire(&target(ns, id), u64::from(seconds)).await
        })
    }

    /// EXPIREs gathered within one tick, as one pipeline, targets packed like
    /// `get_many_packed`.
    #[napi(ts_return_type = "ExpireBatch | Promise<ExpireBatch>")]
    pub fn expire_many_packed<'env>(
        &self,
        env: &'env Env,
        namespaces: Uint8Array,
        ids: String,
        id_lengths: Uint32Array,
        seconds: Uint32Array,
    ) -> Result<Answer<'env, ExpireBatch>, Code> {
        let targets = packed_targets(&namespaces, &ids, &id_lengths)?;
        if seconds.len() != targets.len() {
            return Err(packing_error("expiries"));
        }
        let items = targets
            .into_iter()
            .zip(seconds.iter().map(|&s| u64::from(s)))
            .collect();
        let f = self.features.clone();
        self.answer(env, async move {
            let (values, errors) = split_outcomes::<bool, bool>(f.expire_many(items).await?);
            let flags = values.into_iter().map(|v| u8::from(v == Some(true)));
            Ok(ExpireBatch {
                values: Uint8Array::new(flags.collect()),
                errors,
            })
        })
    }

    #[napi(ts_return_type = "number | Promise<number>")]
    pub fn incr<'env>(
        &self,
        env: &'env Env,
        ns: Namespace,
        id: String,
    ) -> Result<Answer<'env, i64>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.incr(&target(ns, id)).await })
    }

    #[napi(ts_return_type = "Array<string | null> | Promise<Array<string | null>>")]
    pub fn mget<'env>(
        &self,
        env: &'env Env,
        keys: Vec<String>,
    ) -> Result<Answer<'env, Vec<Option<String>>>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            Ok(f.mget(keys)
                .await?
                .into_iter()
                .map(|v| v.map(text))
                .collect())
        })
    }

    #[napi(ts_return_type = "number | Promise<number>")]
    pub fn del_pattern<'env>(
        &self,
        env: &'env Env,
        pattern: String,
    ) -> Result<Answer<'env, i64>, Code> {
        let f = self.features.clone();
        self.answer(
            env,
            async move { Ok(f.del_pattern(&pattern).await? as i64) },
        )
    }

    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn creators_invalidate<'env>(
        &self,
        env: &'env Env,
        id: String,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.creators_invalidate(&id).await })
    }

    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn streams_set_active<'env>(
        &self,
        env: &'env Env,
        id: String,
        value: String,
        ttl_seconds: Option<u32>,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        let ttl = ttl_seconds.map(u64::from);
        self.answer(env, async move {
            f.streams_set_active(&id, value.into(), ttl).await
        })
    }

    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn streams_remove_active<'env>(
        &self,
        env: &'env Env,
        id: String,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.streams_remove_active(&id).await })
    }

    #[napi(ts_return_type = "Array<ActiveStreamItem> | Promise<Array<ActiveStreamItem>>")]
    pub fn streams_all_active<'env>(
        &self,
        env: &'env Env,
        presence_ms: u32,
    ) -> Result<Answer<'env, Vec<ActiveStreamItem>>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            let streams = f.streams_all_active(u64::from(presence_ms)).await?;
            Ok(streams
                .into_iter()
                .map(|s| ActiveStreamItem {
                    data: text(s.data),
                    viewers: s.viewers as f64,
                })
                .collect())
        })
    }

    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn streams_viewer_joined<'env>(
        &self,
        env: &'env Env,
        stream: String,
        viewer: String,
        presence_ms: u32,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.streams_viewer_joined(&stream, &viewer, u64::from(presence_ms))
                .await
        })
    }

    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn streams_viewer_left<'env>(
        &self,
        env: &'env Env,
        stream: String,
        viewer: String,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(
            env,
            async move { f.streams_viewer_left(&stream, &viewer).await },
        )
    }

    #[napi(ts_return_type = "number | Promise<number>")]
    pub fn streams_viewer_count<'env>(
        &self,
        env: &'env Env,
        stream: String,
        presence_ms: u32,
    ) -> Result<Answer<'env, f64>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            let n = f
                .streams_viewer_count(&stream, u64::from(presence_ms))
                .await?;
            Ok(n as f64)
        })
    }

    /// `status` null clears it.
    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn creators_set_status<'env>(
        &self,
        env: &'env Env,
        id: String,
        status: Option<String>,
        ttl_seconds: u32,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.creators_set_status(&id, status.as_deref(), u64::from(ttl_seconds))
                .await
        })
    }

    #[napi(ts_return_type = "Array<CreatorStatusItem> | Promise<Array<CreatorStatusItem>>")]
    pub fn creators_online<'env>(
        &self,
        env: &'env Env,
    ) -> Result<Answer<'env, Vec<CreatorStatusItem>>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            let online = f.creators_online().await?;
            Ok(online
                .into_iter()
                .map(|(creator_id, status)| CreatorStatusItem {
                    creator_id,
                    status: text(status),
                })
                .collect())
        })
    }

    #[napi(ts_return_type = "number | Promise<number>")]
    pub fn streams_reindex<'env>(&self, env: &'env Env) -> Result<Answer<'env, i64>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { Ok(f.streams_reindex().await? as i64) })
    }

    #[napi(ts_return_type = "RateLimitResult | Promise<RateLimitResult>")]
    pub fn rate_limit_check<'env>(
        &self,
        env: &'env Env,
        id: String,
        algorithm: RateLimitAlgorithm,
        limit: u32,
        window_seconds: u32,
        cost: u32,
    ) -> Result<Answer<'env, RateLimitResult>, Code> {
        let request = rate_limit_request(id, algorithm, limit, window_seconds, cost);
        let f = self.features.clone();
        self.answer(env, async move {
            Ok(f.rate_limit_check(&request).await?.into())
        })
    }

    /// Checks gathered within one tick, as one pipeline of scripts. Each item is a result or
    /// its error (`"<CODE>: <message>"`).
    #[napi(ts_return_type = "RateLimitBatch | Promise<RateLimitBatch>")]
    pub fn rate_limit_check_many<'env>(
        &self,
        env: &'env Env,
        ids: Vec<String>,
        algorithms: Vec<RateLimitAlgorithm>,
        limits: Vec<u32>,
        windows: Vec<u32>,
        costs: Vec<u32>,
    ) -> Result<Answer<'env, RateLimitBatch>, Code> {
        let requests: Vec<RateLimitRequest> = ids
            .into_iter()
            .zip(algorithms)
            .zip(limits.into_iter().zip(windows).zip(costs))
            .map(|((id, algorithm), ((limit, window), cost))| {
                rate_limit_request(id, algorithm, limit, window, cost)
            })
            .collect();
        let f = self.features.clone();
        self.answer(env, async move {
            let items = f.rate_limit_check_many(&requests).await?;
            let (values, errors) = split_outcomes(items);
            Ok(RateLimitBatch { values, errors })
        })
    }

    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn rate_limit_reset<'env>(
        &self,
        env: &'env Env,
        id: String,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.rate_limit_reset(&id).await })
    }

    /// Adds `change` (1, -1 or 0) to the hit counter at `key` (the whole key, prefix included),
    /// starting a `window_ms` window on the first hit, and on every hit when `restart_on_hit`.
    #[napi(ts_return_type = "WindowHitsResult | Promise<WindowHitsResult>")]
    pub fn window_hits<'env>(
        &self,
        env: &'env Env,
        key: String,
        window_ms: u32,
        change: i32,
        restart_on_hit: bool,
    ) -> Result<Answer<'env, WindowHitsResult>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            Ok(f.window_hits(
                &key,
                u64::from(window_ms),
                i64::from(change),
                restart_on_hit,
            )
            .await?
            .into())
        })
    }

    /// `window_hits` changes gathered within one tick, each still one atomic script call, sent
    /// in order in one round trip: whole keys packed like `get_many_packed`'s ids, and per item
    /// its window, change and restart flag (1 or 0).
    #[napi(ts_return_type = "WindowHitsBatch | Promise<WindowHitsBatch>")]
    pub fn window_hits_many<'env>(
        &self,
        env: &'env Env,
        keys: String,
        key_lengths: Uint32Array,
        window_ms: Uint32Array,
        changes: Int32Array,
        restart_on_hit: Uint8Array,
    ) -> Result<Answer<'env, WindowHitsBatch>, Code> {
        let count = key_lengths.len();
        let keys = packed::split_utf16(&keys, &key_lengths)
            .filter(|_| window_ms.len() == count && changes.len() == count)
            .filter(|_| restart_on_hit.len() == count)
            .ok_or_else(|| packing_error("keys"))?;
        let requests: Vec<WindowHitsChange> = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| WindowHitsChange {
                key: key.to_owned(),
                window_ms: u64::from(window_ms[i]),
                change: i64::from(changes[i]),
                restart_on_hit: restart_on_hit[i] != 0,
            })
            .collect();
        let f = self.features.clone();
        self.answer(env, async move {
            let (values, errors) =
                split_outcomes::<WindowHits, WindowHits>(f.window_hits_many(&requests).await?);
            let mut counts = Vec::with_capacity(2 * values.len());
            for value in values {
                let WindowHits { hits, reset_ms } = value.unwrap_or(WindowHits {
                    hits: 0,
                    reset_ms: 0,
                });
                counts.push(hits as f64);
                counts.push(reset_ms as f64);
            }
            Ok(WindowHitsBatch {
                counts: Float64Array::new(counts),
                errors,
            })
        })
    }

    #[napi(ts_return_type = "void | Promise<void>")]
    pub fn otp_store<'env>(
        &self,
        env: &'env Env,
        id: String,
        code: String,
        ttl_seconds: Option<u32>,
    ) -> Result<Answer<'env, ()>, Code> {
        let f = self.features.clone();
        self.answer(env, async move {
            f.otp_store(&id, code.into(), ttl_seconds.map(u64::from))
                .await
        })
    }

    /// Verifications gathered within one tick, as one pipeline of scripts: per item `true` /
    /// `false`, or null with its error at the same index of `errors`.
    #[napi(ts_return_type = "OtpVerifyBatch | Promise<OtpVerifyBatch>")]
    pub fn otp_verify_many<'env>(
        &self,
        env: &'env Env,
        ids: Vec<String>,
        codes: Vec<String>,
        max_attempts: u32,
    ) -> Result<Answer<'env, OtpVerifyBatch>, Code> {
        let attempts: Vec<(String, String)> = ids.into_iter().zip(codes).collect();
        let f = self.features.clone();
        self.answer(env, async move {
            let items = f.otp_verify_many(&attempts, max_attempts).await?;
            let (values, errors) = split_outcomes(items);
            Ok(OtpVerifyBatch { values, errors })
        })
    }

    #[napi(ts_return_type = "boolean | Promise<boolean>")]
    pub fn otp_verify<'env>(
        &self,
        env: &'env Env,
        id: String,
        code: String,
        max_attempts: u32,
    ) -> Result<Answer<'env, bool>, Code> {
        let f = self.features.clone();
        self.answer(
            env,
            async move { f.otp_verify(&id, &code, max_attempts).await },
        )
    }

    #[napi(ts_return_type = "boolean | Promise<boolean>")]
    pub fn ping<'env>(&self, env: &'env Env) -> Result<Answer<'env, bool>, Code> {
        let f = self.features.clone();
        self.answer(env, async move { f.ping().await })
    }

    /// One raw command; the reply as JSON text.
    #[napi(ts_return_type = "string | Promise<string>")]
    pub fn command<'env>(
        &self,
        env: &'env Env,
        parts: Vec<String>,
    ) -> Result<Answer<'env, String>, Code> {
        let cmd = Cmd::from_parts(parts.into_iter().map(Into::into).collect());
        let f = self.features.clone();
        self.answer(env, async move {
            let reply = f.raw_command(cmd).await?;
            Ok(reply_json::reply_to_json(&reply))
        })
    }

    /// Raw commands in one round trip (`atomic`: MULTI/EXEC); the items as JSON text.
    #[napi(ts_return_type = "string | Promise<string>")]
    pub fn pipeline<'env>(
        &self,
        env: &'env Env,
        commands: Vec<Vec<String>>,
        atomic: bool,
    ) -> Result<Answer<'env, String>, Code> {
        let cmds = commands
            .into_iter()
            .map(|parts| Cmd::from_parts(parts.into_iter().map(Into::into).collect()))
            .collect();
        let f = self.features.clone();
        self.answer(env, async move {
            let items = f.raw_pipeline(cmds, atomic).await?;
            Ok(reply_json::pipeline_to_json(&items))
        })
    }
}

// The embedded store's hot calls are free functions over a handle rather than methods:
// napi-rs tracks borrows of `this` on every method call, which costs more than the work itself.

fn not_immediate(what: &str) -> Error<Code> {
    js_error::core(
        digis_redis_core::ErrorKind::Unsupported,
        format!("{what} needs a backend that answers without I/O"),
    )
}

/// GET answered synchronously (embedded store). The stored bytes become a JS string without an
/// intermediate Rust `String`.
#[napi(ts_args_type = "handle: ExternalObject<unknown>, ns: Namespace, id: string")]
pub fn embedded_get<'env>(
    env: &'env Env,
    handle: &External<Arc<Features>>,
    ns: Namespace,
    id: String,
) -> Result<Option<napi::JsString<'env>>, Code> {
    let answered = handle
        .get_immediately(target(ns, id))
        .ok_or_else(|| not_immediate("embeddedGet"))?;
    match answered.map_err(to_js)? {
        None => Ok(None),
        Some(bytes) => match std::str::from_utf8(&bytes) {
            Ok(text) => env.create_string(text).map(Some).map_err(from_napi),
            // Not written by this package (which stores UTF-8): replaced as `text` does.
            Err(_) => env
                .create_string(String::from_utf8_lossy(&bytes))
                .map(Some)
                .map_err(from_napi),
        },
    }
}

/// SET / SETEX done synchronously (embedded store).
#[napi(
    ts_args_type = "handle: ExternalObject<unknown>, ns: Namespace, id: string, value: string, ttlSeconds?: number | undefined | null"
)]
pub fn embedded_set(
    handle: &External<Arc<Features>>,
    ns: Namespace,
    id: String,
    value: String,
    ttl_seconds: Option<u32>,
) -> Result<(), Code> {
    handle
        .set_immediately(target(ns, id), value.into(), ttl_seconds.map(u64::from))
        .ok_or_else(|| not_immediate("embeddedSet"))?
        .map_err(to_js)
}
