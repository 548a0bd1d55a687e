//! The Upstash REST backend: commands as JSON over HTTPS, the way @upstash/redis sends them
//! (`POST /`, `/pipeline`, `/multi-exec`, bearer token, base64-encoded replies), with one
//! deadline per call and retries only where re-sending cannot change the outcome.

mod codec;
mod idempotent;
mod lane;
mod sse;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rand::Rng;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use tokio::time::Instant;
use url::Url;

use crate::lua::{self, Script, ScriptCall};
use crate::options::Timeouts;
use crate::redact::{redact_url, Secrets};
use crate::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply, Result};

/// Idle keep-alive connections are dropped after this. It stays below the idle timeouts of the
/// usual hops in front of an HTTP server (AWS ALB 60 s, nginx 75 s, NAT gateways 350 s), so we
/// never write a request into a connection the other side is closing, a failure we could not
/// retry for a non-idempotent command. A busy process reuses connections long before 30 s.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounds the sockets kept open after a burst; a burst may still open more while it lasts.
const POOL_MAX_IDLE_PER_HOST: usize = 32;
/// Retry pauses: full jitter over min(cap, base * 2^attempt), so the default 2 retries cost at
/// most 75 ms of a 1 s call budget and concurrent callers do not retry in lockstep.
const BACKOFF_BASE_MS: u64 = 25;
const BACKOFF_CAP_MS: u64 = 250;

const SYNC_TOKEN: &str = "upstash-sync-token";
/// Commands per `/pipeline` request: a longer batch goes as several requests, in order (a
/// `/multi-exec` cannot be split and goes whole). `rest-server` accepts this many by default;
/// it bounds what one request costs the server.
pub const MAX_PIPELINE_COMMANDS: usize = 10_000;

/// Where and how to reach Upstash: the REST URL and token (`UPSTASH_REDIS_REST_URL` /
/// `UPSTASH_REDIS_REST_TOKEN`).
#[derive(Clone)]
pub struct UpstashConfig {
    pub url: String,
    pub token: String,
}

impl fmt::Debug for UpstashConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstashConfig")
            .field("url", &redact_url(&self.url))
            .field("token", &"***")
            .finish()
    }
}

/// One Upstash database. Its requests go one after the other, in issue order (see `lane.rs`),
/// over one HTTP/1.1 keep-alive pool.
pub struct UpstashBackend {
    http: Arc<Http>,
    lane: Arc<lane::Lane>,
}

/// How to send one request: endpoints, credentials, client, deadlines.
struct Http {
    command_url: Url,
    pipeline_url: Url,
    multi_exec_url: Url,
    /// The URL for display, secrets masked.
    shown_url: String,
    /// `Bearer <token>`, marked sensitive; `None` when the token travels as `?_token=` only.
    auth: Option<HeaderValue>,
    secrets: Secrets,
    timeouts: Arc<Timeouts>,
    /// Built on first use, and again whenever the connect timeout has been reconfigured, since
    /// reqwest fixes it when the client is built. Clones share the connection pool.
    client: Mutex<Option<(Duration, reqwest::Client)>>,
    /// The latest `upstash-sync-token` seen, sent back for read-your-writes across replicas.
    sync_token: Mutex<Option<HeaderValue>>,
}

impl fmt::Debug for UpstashBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstashBackend")
            .field("url", &self.http.shown_url)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

impl UpstashBackend {
    /// Checks the configuration; nothing is sent until the first call.
    pub fn new(config: UpstashConfig, timeouts: Arc<Timeouts>) -> Result<UpstashBackend> {
        // Messages below never quote the URL or the token: either may hold the secret.
        let mut url = Url::parse(config.url.trim())
            .map_err(|e| invalid(format!("invalid upstash url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "upstash url must start with https:// or http:// (got {}://)",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("upstash url has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "upstash url must not contain credentials; pass the token separately",
            ));
        }
        url.set_fragment(None);

        let token = config.token.trim();
        let query_tokens: Vec<String> = url
            .query_pairs()
            .filter(|(k, _)| k == "_token")
            .map(|(_, v)| v.into_owned())
            .collect();
        let auth = if token.is_empty() {
            if query_tokens.is_empty() {
                return Err(invalid("upstash token is empty"));
            }
            None
        } else {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                invalid("upstash token contains characters not allowed in an HTTP header")
            })?;
            value.set_sensitive(true);
            Some(value)
        };

        let mut shown_url = redact_url(url.as_str());
        if url.query().is_none() && shown_url.ends_with('/') {
            shown_url.pop();
        }
        let http = Http {
            command_url: endpoint(&url, ""),
            pipeline_url: endpoint(&url, "pipeline"),
            multi_exec_url: endpoint(&url, "multi-exec"),
            shown_url,
            auth,
            secrets: Secrets::merge([
                Secrets::new([token.to_string()]),
                Secrets::of_url(url.as_str()),
            ]),
            timeouts,
            client: Mutex::new(None),
            sync_token: Mutex::new(None),
        };
        Ok(UpstashBackend {
            http: Arc::new(http),
            lane: Arc::default(),
        })
    }

    /// `upstash https://host (token ***)`, for logs and status output.
    pub fn describe(&self) -> String {
        format!("upstash {} (token ***)", self.http.shown_url)
    }

    /// `cmds` through the lane, within the call budget.
    async fn send(&self, cmds: Vec<Cmd>, shape: lane::Shape) -> Result<Vec<Result<Reply>>> {
        self.http
            .bounded(|deadline| self.lane.send(&self.http, cmds, shape, deadline))
            .await
    }

    /// One command through the lane, as a single request would answer it.
    async fn send_one(&self, cmd: Cmd, deadline: Instant) -> Result<Reply> {
        let mut items = self
            .lane
            .send(&self.http, vec![cmd], lane::Shape::Single, deadline)
            .await?;
        items
            .pop()
            .unwrap_or_else(|| Err(Error::protocol("no reply to a command")))
    }
}

impl Http {
    /// One batch (`/pipeline` or `/multi-exec`), retried only if every command is idempotent.
    async fn exec_batch(
        &self,
        url: &Url,
        mut cmds: Vec<Cmd>,
        deadline: Instant,
    ) -> Result<Vec<Result<Reply>>> {
        if *url != self.pipeline_url || cmds.len() <= MAX_PIPELINE_COMMANDS {
            return self.exec_request(url, cmds, deadline).await;
        }
        // Split in order, one request after the other, so commands still run in the order
        // given. A failed request fails its commands and those after it (never sent).
        let total = cmds.len();
        let mut results = Vec::with_capacity(total);
        while !cmds.is_empty() {
            let rest = cmds.split_off(cmds.len().min(MAX_PIPELINE_COMMANDS));
            match self.exec_request(url, cmds, deadline).await {
                Ok(replies) => results.extend(replies),
                Err(err) => {
                    results.resize_with(total, || Err(err.clone()));
                    return Ok(results);
                }
            }
            cmds = rest;
        }
        Ok(results)
    }

    /// One `/pipeline` or `/multi-exec` request.
    async fn exec_request(
        &self,
        url: &Url,
        cmds: Vec<Cmd>,
        deadline: Instant,
    ) -> Result<Vec<Result<Reply>>> {
        let body = codec::encode_batch(&cmds)?;
        let retry = idempotent::all_idempotent(&cmds);
        let (status, answer) = self.post(url, body, retry, deadline).await?;
        codec::decode_batch(status, &answer, cmds.len(), &self.secrets)
    }

    /// One single command, retried only on transport failures and only if idempotent.
    async fn exec(&self, cmd: &Cmd, deadline: Instant) -> Result<Reply> {
        let body = codec::encode_command(cmd)?;
        let retry = idempotent::is_idempotent(cmd);
        let (status, answer) = self.post(&self.command_url, body, retry, deadline).await?;
        codec::decode_reply(status, &answer, &self.secrets)
    }

    /// Sends `body`, re-sending it after a transport failure when `retry` allows, until the
    /// retries are spent or the next pause would overrun `deadline`. Answers status and body.
    async fn post(
        &self,
        url: &Url,
        body: Vec<u8>,
        retry: bool,
        deadline: Instant,
    ) -> Result<(u16, Bytes)> {
        let client = self.client()?;
        let body = Bytes::from(body);
        let retries = if retry { self.timeouts.retries() } else { 0 };
        let mut attempt = 0;
        loop {
            let failure = match self.send_once(&client, url, body.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            let pause = backoff(attempt);
            if attempt >= retries || !is_transport(&failure) || Instant::now() + pause >= deadline {
                return Err(self.request_error(failure, attempt + 1));
            }
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        client: &reqwest::Client,
        url: &Url,
        body: Bytes,
    ) -> std::result::Result<(u16, Bytes), reqwest::Error> {
        let mut request = client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("upstash-encoding", "base64")
            .body(body);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let sync_token = self.sync_token.lock().clone();
        if let Some(token) = sync_token {
            request = request.header(SYNC_TOKEN, token);
        }
        let response = request.send().await?;
        // Replies to concurrent requests can arrive out of order; the last one received wins,
        // which at worst asks a replica for a slightly older write than we could have.
        if let Some(token) = response.headers().get(SYNC_TOKEN) {
            *self.sync_token.lock() = Some(token.clone());
        }
        let status = response.status().as_u16();
        Ok((status, response.bytes().await?))
    }

    fn client(&self) -> Result<reqwest::Client> {
        let connect = self.timeouts.connect();
        let mut slot = self.client.lock();
        if let Some((built_for, client)) = slot.as_ref() {
            if *built_for == connect {
                return Ok(client.clone());
            }
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .tcp_nodelay(true)
            // A redirected POST would become a GET or be re-sent elsewhere; Upstash never
            // redirects, so a redirect is an error to see, not to follow.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("digis-redis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("could not build the HTTP client: {}", self.error_text(e)),
                )
            })?;
        *slot = Some((connect, client.clone()));
        Ok(client)
    }

    fn request_error(&self, err: reqwest::Error, attempts: u32) -> Error {
        let kind = if is_transport(&err) {
            ErrorKind::Connection
        } else {
            ErrorKind::Internal
        };
        let tries = if attempts > 1 {
            format!(" ({attempts} attempts)")
        } else {
            String::new()
        };
        Error::new(
            kind,
            format!("upstash request failed{tries}: {}", self.error_text(err)),
        )
    }

    /// reqwest's message and its causes ("error sending request: connection closed before
    /// message completed"), without the URL (it may carry `?_token=`) or any other secret.
    fn error_text(&self, err: reqwest::Error) -> String {
        let err = err.without_url();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            let part = cause.to_string();
            if !text.contains(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
            source = cause.source();
        }
        self.secrets.redact(&text)
    }

    /// Runs `work` within the call budget, retries and script fallbacks included.
    async fn bounded<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: FnOnce(Instant) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let budget = self.timeouts.call();
        let deadline = Instant::now() + budget;
        match tokio::time::timeout_at(deadline, work(deadline)).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("upstash call timed out after {} ms", budget.as_millis()),
            )),
        }
    }
}

/// `<base>/<segment>`, keeping a path prefix and the query (`?_token=`) of the configured URL,
/// as @upstash/redis joins them.
fn endpoint(base: &Url, segment: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}/{segment}", base.path().trim_end_matches('/')));
    url
}

/// A failure to connect or a connection that broke before the whole reply arrived: the request
/// may or may not have run. Builder and redirect errors are ours and would fail again.
fn is_transport(err: &reqwest::Error) -> bool {
    !(err.is_builder() || err.is_redirect() || err.is_status())
}

fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE_MS
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_CAP_MS);
    Duration::from_millis(rand::rng().random_range(0..=ceiling))
}

#[async_trait]
impl Backend for UpstashBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Upstash
    }

    async fn subscribe(
        &self,
        kind: crate::pubsub::Kind,
        names: Vec<Bytes>,
        events: tokio::sync::mpsc::Sender<crate::pubsub::Event>,
    ) -> Result<()> {
        self.http.subscribe(kind, names, events).await
    }

    async fn call(&self, cmd: Cmd) -> Result<Reply> {
        self.http
            .bounded(|deadline| self.send_one(cmd, deadline))
            .await
    }

    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let shape = if atomic {
            lane::Shape::Atomic
        } else {
            lane::Shape::Pipeline
        };
        self.send(cmds, shape).await
    }

    async fn eval_many(&self, calls: Vec<ScriptCall>) -> Result<Vec<Result<Reply>>> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        self.http
            .bounded(|deadline| {
                lua::eval_many_by_sha(&calls, move |cmds| {
                    self.lane
                        .send(&self.http, cmds, lane::Shape::Pipeline, deadline)
                })
            })
            .await
    }

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> Result<Reply> {
        self.http
            .bounded(|deadline| {
                lua::eval_by_sha(script, keys, args, move |cmd| self.send_one(cmd, deadline))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(url: &str, token: &str) -> Result<UpstashBackend> {
        UpstashBackend::new(
            UpstashConfig {
                url: url.to_string(),
                token: token.to_string(),
            },
            Arc::new(Timeouts::default()),
        )
    }

    #[test]
    fn endpoints_keep_prefix_and_query() {
        let b = backend("https://h.upstash.io", "tok-secret").unwrap();
        assert_eq!(b.http.command_url.as_str(), "https://h.upstash.io/");
        assert_eq!(
            b.http.pipeline_url.as_str(),
            "https://h.upstash.io/pipeline"
        );
        assert_eq!(
            b.http.multi_exec_url.as_str(),
            "https://h.upstash.io/multi-exec"
        );
        let b = backend("http://localhost:8079/proxy/?_token=tok-secret", "").unwrap();
        assert_eq!(
            b.http.pipeline_url.as_str(),
            "http://localhost:8079/proxy/pipeline?_token=tok-secret"
        );
        assert!(b.http.auth.is_none());
        assert_eq!(
            b.describe(),
            "upstash http://localhost:8079/proxy/?_token=*** (token ***)"
        );
    }

    #[test]
    fn the_client_is_rebuilt_when_the_connect_timeout_changes() {
        let b = backend("https://h.upstash.io", "tok-secret").unwrap();
        let b = &b.http;
        b.client().unwrap();
        assert_eq!(
            b.client.lock().as_ref().map(|(d, _)| *d),
            Some(b.timeouts.connect())
        );
        b.timeouts.set_connect_ms(1234);
        b.client().unwrap();
        assert_eq!(
            b.client.lock().as_ref().map(|(d, _)| *d),
            Some(Duration::from_millis(1234))
        );
    }

    #[test]
    fn backoff_is_capped_full_jitter() {
        for attempt in 0..40 {
            let ceiling = (BACKOFF_BASE_MS << attempt.min(16)).min(BACKOFF_CAP_MS);
            for _ in 0..20 {
                assert!(backoff(attempt) <= Duration::from_millis(ceiling));
            }
        }
    }

    #[test]
    fn bad_configurations_are_refused_without_the_token() {
        for (url, token) in [
            ("redis://h:6379", "tok-secret"),
            ("ftp://h", "tok-secret"),
            ("not a url tok-secret", "tok-secret"),
            ("https://user:tok-secret@h", "tok-secret"),
            ("https://h", ""),
            ("https://h", "tok-secret\nx"),
        ] {
            let err = backend(url, token).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument, "{url}");
            assert!(!err.message.contains("tok-secret"), "{}", err.message);
        }
        assert!(backend("http://127.0.0.1:8080", "tok-secret").is_ok());
    }
}
