//! `NativeClient`: the client of one backend, how it is made and tuned, and its health.

use std::sync::Arc;

use digis_redis_binding_macros::feature_methods;
use digis_redis_core::environment::UNCONFIGURED_REASON;
use digis_redis_core::{
    backend::Unavailable,
    circuit::{CircuitBreaker, CircuitState, CircuitView},
    embedded::EmbeddedBackend,
    options::{BreakerPolicy, Timeouts},
    order::Sequencer,
    redis_cluster::ClusterBackend,
    redis_protocol::{handshake, RedisBackend},
    upstash::{UpstashBackend, UpstashConfig},
    BackendKind, Features, SharedBackend,
};
use napi::bindgen_prelude::{Either, Null};
use napi_derive::napi;

use crate::environment::BackendSelection;
use crate::node_loop;

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

/// A value, or null (where napi would leave a None out of the object).
pub(crate) fn or_null<T>(value: Option<T>) -> Either<T, Null> {
    value.map_or(Either::B(Null), Either::A)
}

#[napi(object)]
pub struct Health {
    pub backend: String,
    pub ok: bool,
    /// Round trip of a PING; null when it failed.
    pub latency_ms: Either<f64, Null>,
    pub circuit: String,
    /// The failing PING's error, else the last transport failure seen; secrets masked.
    pub last_error: Either<String, Null>,
    /// How calls reach the store: `node-loop` (the socket is driven by Node's own loop),
    /// `io-thread` (by the addon's tokio thread) or `in-process` (the embedded store).
    pub transport: String,
}

/// What `configure()` can change while the client runs.
#[derive(Default)]
pub(crate) struct Tuning {
    pub(crate) timeouts: Arc<Timeouts>,
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
    pub(crate) features: Arc<Features>,
    /// None for the embedded store, which has no network to fail.
    pub(crate) breaker: Option<Arc<dyn CircuitView>>,
    pub(crate) tuning: Tuning,
    description: String,
    /// The store itself, when it is the embedded one (its memory bound follows configure()).
    embedded: Option<EmbeddedBackend>,
    /// Issue order of the calls to a server backend (see `digis_redis_core::order`).
    pub(crate) order: Arc<Sequencer>,
    /// The backend's socket is driven by Node's loop: calls run on Node's thread (node_loop).
    pub(crate) on_node_loop: bool,
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
    /// The client of the backend `selection` names (as `selectBackend` answers it); `nodeLoop`
    /// is for a Redis URL (see `redis`). The embedded store for a kind it does not know.
    #[napi(factory)]
    pub fn for_selection(
        selection: BackendSelection,
        options: BackendOptions,
        node_loop: Option<bool>,
    ) -> NativeClient {
        let BackendSelection {
            kind,
            url,
            token,
            urls,
        } = selection;
        let (url, token) = (url.unwrap_or_default(), token.unwrap_or_default());
        match kind.as_str() {
            "upstash" => NativeClient::upstash(url, token, options),
            "cluster" => NativeClient::cluster(urls.unwrap_or_default(), options),
            "redis" => NativeClient::redis(url, options, node_loop),
            "unconfigured" => NativeClient::unconfigured(UNCONFIGURED_REASON.into(), options),
            _ => NativeClient::embedded(Some(options)),
        }
    }

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

    /// The circuit's state changes since the last call, oldest first, as the lines that log
    /// them (each once; on a cluster naming the circuit: `(master 10.0.0.1:6379)`).
    #[napi]
    pub fn take_circuit_events(&self) -> Vec<String> {
        self.breaker
            .as_ref()
            .map(|b| {
                b.take_transitions()
                    .into_iter()
                    .map(|(state, which)| state.log_line(which.as_deref()))
                    .collect()
            })
            .unwrap_or_default()
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
}

#[feature_methods]
#[napi]
impl NativeClient {
    /// Never rejects: a PING through the breaker, timed.
    fn health(&self) -> Health {
        let breaker = self.breaker.clone();
        let transport = match (&self.breaker, self.on_node_loop) {
            (None, _) => "in-process",
            (Some(_), true) => "node-loop",
            (Some(_), false) => "io-thread",
        };
        move |f| async move {
            let started = std::time::Instant::now();
            let result = f.ping().await;
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            let ok = matches!(result, Ok(true));
            let circuit = breaker.as_ref().map_or(CircuitState::Closed, |b| b.state());
            Ok(Health {
                backend: f.backend().kind().name().to_string(),
                ok,
                latency_ms: or_null(ok.then_some(latency_ms)),
                circuit: circuit.name().to_string(),
                last_error: or_null(match result {
                    Err(err) => Some(err.to_string()),
                    Ok(_) => breaker.as_ref().and_then(|b| b.last_error()),
                }),
                transport: transport.to_string(),
            })
        }
    }
}
