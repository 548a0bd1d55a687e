//! One HTTP request: auth, body, routing, and the JSON reply.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value as Json};
use subtle::ConstantTimeEq;

use crate::backend::{Backend, Transaction, Unavailable};
use crate::command::{parse_batch, parse_command, parse_path, refusal, Args, Policy};
use crate::pubsub::{EventStream, Kind, MAX_PER_CONNECTION, QUEUE};
use crate::reply::{result, Encoding, Outcome};

/// After a body passes the limit it is still read (and discarded) up to this much more, so the
/// client gets to read the 413 instead of a reset connection while it is still sending.
const DRAIN_CAP: usize = 64 * 1024 * 1024;
/// An unauthenticated request's body is only read (and dropped) when it declares at most this
/// many bytes and arrives within this time.
const STRANGER_DRAIN_CAP: usize = 64 * 1024;
const STRANGER_DRAIN_TIME: Duration = Duration::from_millis(500);
/// A body that takes longer than this to arrive is abandoned.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Shared {
    pub token: Vec<u8>,
    pub policy: Policy,
    pub max_commands: usize,
    pub max_reply: usize,
    pub max_body: usize,
    pub buffered: BufferBudget,
    pub backend: Backend,
    /// Subscriptions (channels and patterns) open on the whole server; each subscription
    /// stream holds its count of permits until the client goes away.
    pub subscriptions: Arc<tokio::sync::Semaphore>,
    pub max_subscriptions: usize,
    /// Source of `upstash-sync-token` values. One Redis has no replicas to catch up with, so a
    /// counter that only grows is all the token needs to be.
    pub sync: AtomicU64,
}

/// The request bytes all requests together may hold in memory.
pub struct BufferBudget {
    used: AtomicUsize,
    cap: usize,
}

impl BufferBudget {
    pub fn new(cap: usize) -> BufferBudget {
        BufferBudget {
            used: AtomicUsize::new(0),
            cap,
        }
    }

    /// `bytes` more for `held`, or `false` (nothing taken) when that would pass the cap.
    fn reserve(&self, held: &mut Reservation<'_>, bytes: usize) -> bool {
        let before = self.used.fetch_add(bytes, Ordering::AcqRel);
        if before.saturating_add(bytes) > self.cap {
            self.used.fetch_sub(bytes, Ordering::AcqRel);
            return false;
        }
        held.bytes += bytes;
        true
    }
}

/// Bytes taken from a [`BufferBudget`], given back when the request is done with them.
struct Reservation<'a> {
    budget: &'a BufferBudget,
    bytes: usize,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

struct Reply {
    status: StatusCode,
    /// The JSON text: a pipeline's items are written one by one, never held as one tree.
    body: String,
    /// The request body was not read to its end, so the connection cannot be reused.
    close: bool,
    /// A subscription: the events, sent instead of `body`.
    events: Option<EventStream>,
}

/// A response body: one JSON text, or a subscription's event stream.
pub enum ResponseBody {
    Json(Full<Bytes>),
    Events(EventStream),
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        // Both variants are Unpin.
        match self.get_mut() {
            ResponseBody::Json(body) => std::pin::Pin::new(body).poll_frame(cx),
            ResponseBody::Events(events) => std::pin::Pin::new(events).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Json(body) => body.is_end_stream(),
            ResponseBody::Events(_) => false,
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            ResponseBody::Json(body) => body.size_hint(),
            ResponseBody::Events(_) => hyper::body::SizeHint::default(),
        }
    }
}

impl Reply {
    fn ok(body: Json) -> Reply {
        Reply::ok_text(body.to_string())
    }

    fn ok_text(body: String) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
            close: false,
            events: None,
        }
    }

    fn error(status: StatusCode, text: impl Into<String>) -> Reply {
        Reply {
            status,
            body: json!({ "error": text.into() }).to_string(),
            close: false,
            events: None,
        }
    }
}

/// A JSON array of pipeline items, each replaced by an error once the results together pass
/// `max_reply` bytes (the commands ran; only their results are withheld).
fn items_reply(
    outcomes: impl Iterator<Item = Outcome>,
    encoding: Encoding,
    max_reply: usize,
) -> Reply {
    let mut body = String::from("[");
    let mut total = 0usize;
    for (i, outcome) in outcomes.enumerate() {
        if i > 0 {
            body.push(',');
        }
        total = total.saturating_add(outcome.size());
        let item = if total > max_reply {
            Outcome::Error(too_large(max_reply)).to_item(encoding)
        } else {
            outcome.to_item(encoding)
        };
        body.push_str(&item.to_string());
    }
    body.push(']');
    Reply::ok_text(body)
}

fn too_large(max_reply: usize) -> String {
    format!(
        "ERR reply too large: the results of this request pass {max_reply} bytes; \
         read less per request"
    )
}

pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<ResponseBody> {
    let sync = shared.sync.fetch_add(1, Ordering::Relaxed) + 1;
    let reply = route(&shared, req).await;
    let (body, content_type) = match reply.events {
        Some(events) => (ResponseBody::Events(events), "text/event-stream"),
        None => (
            ResponseBody::Json(Full::new(Bytes::from(reply.body))),
            "application/json",
        ),
    };
    let mut response = Response::new(body);
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if content_type == "text/event-stream" {
        headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    }
    headers.insert("upstash-sync-token", HeaderValue::from(sync));
    if reply.close {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn route(shared: &Shared, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    // Decided from the headers alone: a stranger's body is never read, and its connection is
    // closed rather than drained, so unauthenticated clients cost neither memory nor bandwidth.
    if !is_authorized(&parts, &shared.token) {
        discard_small_body(body).await;
        let mut reply = Reply::error(
            StatusCode::UNAUTHORIZED,
            "WRONGPASS invalid or missing auth token",
        );
        reply.close = true;
        return reply;
    }
    // Read (or drain) the body before answering anything else, so the client is never cut off
    // mid-upload and a keep-alive connection stays usable.
    let mut held = Reservation {
        budget: &shared.buffered,
        bytes: 0,
    };
    let body = read_body(body, shared.max_body, &mut held).await;
    let close = !matches!(
        body,
        BodyRead::Complete(_) | BodyRead::TooLarge { drained: true }
    );
    let mut reply = dispatch(shared, &parts, body).await;
    reply.close |= close;
    reply
}

async fn dispatch(shared: &Shared, parts: &Parts, body: BodyRead) -> Reply {
    let body = match body {
        BodyRead::Complete(body) => body,
        BodyRead::TooLarge { .. } => {
            return Reply::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "ERR request body too large (limit {} bytes)",
                    shared.max_body
                ),
            )
        }
        BodyRead::Failed(why) => return Reply::error(StatusCode::BAD_REQUEST, why),
        BodyRead::Busy => {
            return Reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ERR server busy: too many request bytes in flight, retry later",
            )
        }
    };
    let post = match parts.method {
        Method::POST => true,
        Method::GET => false,
        _ => {
            return Reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "ERR only GET and POST are supported",
            )
        }
    };
    let encoding = match parts.headers.get("upstash-encoding") {
        Some(v) if v.as_bytes().eq_ignore_ascii_case(b"base64") => Encoding::Base64,
        _ => Encoding::Utf8,
    };
    let bad_request = |text: String| Reply::error(StatusCode::BAD_REQUEST, text);

    match (parts.uri.path(), post) {
        ("/", true) => match parse_command(&body) {
            Ok(args) => single(shared, args, encoding).await,
            Err(text) => bad_request(text),
        },
        ("/pipeline" | "/pipeline/", true) => match parse_batch(&body, shared.max_commands) {
            Ok(commands) => pipeline(shared, commands, encoding).await,
            Err(text) => bad_request(text),
        },
        ("/multi-exec" | "/multi-exec/", true) => match parse_batch(&body, shared.max_commands) {
            Ok(commands) => transaction(shared, commands, encoding).await,
            Err(text) => bad_request(text),
        },
        ("/pipeline" | "/pipeline/" | "/multi-exec" | "/multi-exec/", false) => Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "ERR use POST with a JSON array of commands",
        ),
        (path, _) if subscription_kind(path).is_some() => {
            let (kind, names) = subscription_kind(path).unwrap_or((Kind::Channels, ""));
            subscribe(shared, kind, names).await
        }
        (path, _) => match parse_path(path, post.then_some(&body[..])) {
            Ok(args) => single(shared, args, encoding).await,
            Err(text) => bad_request(text),
        },
    }
}

/// `/subscribe/<names>` or `/psubscribe/<names>`: the kind and the names' part of the path.
fn subscription_kind(path: &str) -> Option<(Kind, &str)> {
    let (name, rest) = path.strip_prefix('/')?.split_once('/')?;
    if name.eq_ignore_ascii_case("subscribe") {
        Some((Kind::Channels, rest))
    } else if name.eq_ignore_ascii_case("psubscribe") {
        Some((Kind::Patterns, rest))
    } else {
        None
    }
}

/// A subscription answered as a server-sent-event stream (the request's body, `[]` from the
/// official client, is not used). Bounded per request and on the whole server.
async fn subscribe(shared: &Shared, kind: Kind, names: &str) -> Reply {
    let names: Vec<Vec<u8>> = names
        .strip_suffix('/')
        .unwrap_or(names)
        .split('/')
        .map(|seg| percent_encoding::percent_decode_str(seg).collect())
        .collect();
    if names.iter().any(Vec::is_empty) {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            format!(
                "ERR {} needs channel names: /{}/<name>",
                kind.command(),
                kind.command()
            ),
        );
    }
    if names.len() > MAX_PER_CONNECTION {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            format!("ERR too many channels in one subscription: at most {MAX_PER_CONNECTION}"),
        );
    }
    let Ok(permits) = shared
        .subscriptions
        .clone()
        .try_acquire_many_owned(names.len() as u32)
    else {
        return Reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "ERR server busy: {} subscriptions are open (--max-subscriptions), retry later",
                shared.max_subscriptions
            ),
        );
    };
    let (events, received) = tokio::sync::mpsc::channel(QUEUE);
    match shared.backend.subscribe(kind, names, events).await {
        Ok(()) => {
            let mut reply = Reply::ok_text(String::new());
            reply.events = Some(EventStream::new(received, permits));
            reply
        }
        Err(Unavailable(text)) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, text),
    }
}

async fn single(shared: &Shared, args: Args, encoding: Encoding) -> Reply {
    if let Some(why) = refusal(&args, shared.policy) {
        return Reply::error(StatusCode::BAD_REQUEST, why);
    }
    match shared.backend.call(&args).await {
        Ok(outcome @ Outcome::Reply(_)) if outcome.size() > shared.max_reply => {
            Reply::error(StatusCode::BAD_REQUEST, too_large(shared.max_reply))
        }
        Ok(Outcome::Reply(value)) => Reply::ok(json!({ "result": result(&value, encoding) })),
        Ok(Outcome::Error(text)) => Reply::error(StatusCode::BAD_REQUEST, text),
        Err(Unavailable(text)) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, text),
    }
}

async fn pipeline(shared: &Shared, commands: Vec<Args>, encoding: Encoding) -> Reply {
    // Refused commands answer inline, like any failing item; the rest go in one round trip.
    let refusals: Vec<Option<String>> = commands
        .iter()
        .map(|args| refusal(args, shared.policy))
        .collect();
    let allowed: Vec<Args> = commands
        .into_iter()
        .zip(&refusals)
        .filter(|(_, refused)| refused.is_none())
        .map(|(args, _)| args)
        .collect();
    let mut outcomes = match shared.backend.pipeline(&allowed).await {
        Ok(outcomes) => outcomes.into_iter(),
        Err(Unavailable(text)) => {
            return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, text);
        }
    };
    let items = refusals.into_iter().map(|refused| match refused {
        Some(why) => Outcome::Error(why),
        None => outcomes.next().unwrap_or_else(|| {
            Outcome::Error("ERR redis answered the pipeline with too few replies".into())
        }),
    });
    items_reply(items, encoding, shared.max_reply)
}

async fn transaction(shared: &Shared, commands: Vec<Args>, encoding: Encoding) -> Reply {
    // A refused command cannot be queued, so the whole transaction is refused, as Redis
    // discards one with a command it cannot queue.
    if let Some((i, why)) = commands
        .iter()
        .enumerate()
        .find_map(|(i, args)| refusal(args, shared.policy).map(|why| (i, why)))
    {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            format!("{why} (command {} of the transaction)", i + 1),
        );
    }
    match shared.backend.transaction(&commands).await {
        Ok(Transaction::Executed(outcomes)) => {
            items_reply(outcomes.into_iter(), encoding, shared.max_reply)
        }
        Ok(Transaction::Discarded(text)) => Reply::error(StatusCode::BAD_REQUEST, text),
        Err(Unavailable(text)) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, text),
    }
}

fn is_authorized(parts: &Parts, token: &[u8]) -> bool {
    let matches = |given: &[u8]| bool::from(given.ct_eq(token));
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| bearer(v.as_bytes()))
        .is_some_and(matches);
    let query = parts
        .uri
        .query()
        .and_then(query_token)
        .is_some_and(|t| matches(&t));
    header | query
}

/// `Bearer <token>`, the scheme in any case.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let rest = value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|_| &value[7..])?;
    Some(rest.trim_ascii())
}

/// `_token=<token>` from the query string, percent-decoded (a `+` stays a `+`).
fn query_token(query: &str) -> Option<Vec<u8>> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("_token="))
        .map(|raw| percent_encoding::percent_decode_str(raw).collect())
}

enum BodyRead {
    Complete(Bytes),
    /// Over the limit; `drained` when it was still read to its end.
    TooLarge {
        drained: bool,
    },
    Failed(String),
    /// Holding it would pass the server's [`BufferBudget`].
    Busy,
}

/// Reads and drops a stranger's small body (a wrong token with an ordinary command), so that
/// closing the connection does not reset it before the client reads its 401. Anything larger
/// or slower is not waited for: the connection just closes.
async fn discard_small_body(mut body: Incoming) {
    if body
        .size_hint()
        .upper()
        .is_none_or(|n| n > STRANGER_DRAIN_CAP as u64)
    {
        return;
    }
    let drain = async { while let Some(Ok(_)) = body.frame().await {} };
    let _ = tokio::time::timeout(STRANGER_DRAIN_TIME, drain).await;
}

/// The body, up to `limit` bytes, each byte held reserved in `held` (the declared length at
/// once when there is one, so a request that cannot fit fails before it is read).
async fn read_body(mut body: Incoming, limit: usize, held: &mut Reservation<'_>) -> BodyRead {
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > (limit + DRAIN_CAP) as u64) {
        return BodyRead::TooLarge { drained: false };
    }
    let budget = held.budget;
    if let Some(n) = declared.filter(|&n| n <= limit as u64) {
        if !budget.reserve(held, n as usize) {
            return BodyRead::Busy;
        }
    }
    let deadline = tokio::time::Instant::now() + BODY_TIMEOUT;
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(frame) => frame,
            Err(_) if total > limit => return BodyRead::TooLarge { drained: false },
            Err(_) => return BodyRead::Failed("ERR timed out reading the request body".into()),
        };
        match frame {
            None => break,
            Some(Err(_)) if total > limit => return BodyRead::TooLarge { drained: false },
            Some(Err(e)) => return BodyRead::Failed(format!("ERR cannot read request body: {e}")),
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                total = total.saturating_add(data.len());
                if total > limit.saturating_add(DRAIN_CAP) {
                    return BodyRead::TooLarge { drained: false };
                }
                if total <= limit {
                    let more = total.saturating_sub(held.bytes);
                    if more > 0 && !budget.reserve(held, more) {
                        return BodyRead::Busy;
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
    if total > limit {
        BodyRead::TooLarge { drained: true }
    } else {
        BodyRead::Complete(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_budget_is_shared_and_given_back() {
        let budget = BufferBudget::new(100);
        let mut a = Reservation {
            budget: &budget,
            bytes: 0,
        };
        assert!(budget.reserve(&mut a, 60));
        {
            let mut b = Reservation {
                budget: &budget,
                bytes: 0,
            };
            assert!(!budget.reserve(&mut b, 41), "60 + 41 passes the cap");
            assert!(budget.reserve(&mut b, 40));
            assert!(!budget.reserve(&mut a, 1));
        }
        assert_eq!(
            budget.used.load(Ordering::Acquire),
            60,
            "b gave its 40 back"
        );
        drop(a);
        assert_eq!(budget.used.load(Ordering::Acquire), 0);
    }

    #[test]
    fn bearer_and_query_tokens_are_read() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(query_token("a=1&_token=x%2By+z"), Some(b"x+y+z".to_vec()));
        assert_eq!(query_token("token=x"), None);
    }
}
