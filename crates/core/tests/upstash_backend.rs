//! The Upstash REST backend against a tiny HTTP/1.1 server that plays Upstash: canned or computed
//! answers, connections closed without an answer, or requests never answered.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use digis_redis_core::lua::Script;
use digis_redis_core::options::Timeouts;
use digis_redis_core::upstash::{UpstashBackend, UpstashConfig};
use digis_redis_core::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply};
use serde_json::{json, Value};

const TOKEN: &str = "tok-SECRET-1234";

#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

enum Action {
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Drop the connection after reading the request, as a reset or crashed server would.
    Close,
    /// Keep the connection open and never answer.
    Hang,
}

fn answer(status: u16, body: Value) -> Action {
    Action::Answer {
        status,
        headers: vec![],
        body: body.to_string(),
    }
}

fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

type Handler = dyn Fn(&Request, usize) -> Action + Send + Sync;

struct Mock {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Mock {
    /// Serves on 127.0.0.1; `handler` sees each request and its index among all requests.
    fn start(handler: impl Fn(&Request, usize) -> Action + Send + Sync + 'static) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = requests.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (seen, handler) = (seen.clone(), handler.clone());
                thread::spawn(move || serve(stream, &seen, &*handler));
            }
        });
        Mock { port, requests }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn backend(&self, timeouts: Timeouts) -> UpstashBackend {
        backend_at(&self.url(), timeouts)
    }
}

fn backend_at(url: &str, timeouts: Timeouts) -> UpstashBackend {
    UpstashBackend::new(
        UpstashConfig {
            url: url.to_string(),
            token: TOKEN.to_string(),
        },
        Arc::new(timeouts),
    )
    .unwrap()
}

/// Keep-alive: answers requests on one connection until the client closes it.
fn serve(stream: TcpStream, seen: &Mutex<Vec<Request>>, handler: &Handler) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while let Some(request) = read_request(&mut reader) {
        let index = {
            let mut seen = seen.lock().unwrap();
            seen.push(request.clone());
            seen.len() - 1
        };
        match handler(&request, index) {
            Action::Answer {
                status,
                headers,
                body,
            } => {
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                if out.write_all(head.as_bytes()).is_err()
                    || out.write_all(body.as_bytes()).is_err()
                {
                    return;
                }
            }
            Action::Close => return,
            Action::Hang => {
                // Until the client gives up and closes.
                let _ = reader.read_to_end(&mut Vec::new());
                return;
            }
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut words = line.split_whitespace();
    let method = words.next()?.to_string();
    let path = words.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

fn quick() -> Timeouts {
    Timeouts::new(1000, 500, 2)
}

fn assert_no_token(err: &Error) {
    assert!(
        !err.message.contains(TOKEN),
        "token leaked: {}",
        err.message
    );
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn requests_look_like_upstash_redis_and_echo_the_sync_token() {
    let mock = Mock::start(|_, i| Action::Answer {
        status: 200,
        headers: vec![("upstash-sync-token", format!("sync-{i}"))],
        body: json!({ "result": "OK" }).to_string(),
    });
    let backend = mock.backend(quick());
    assert_eq!(backend.kind(), BackendKind::Upstash);
    for _ in 0..3 {
        assert_eq!(
            backend.call(Cmd::from_line("SET k vé EX 100")).await,
            Ok(Reply::ok())
        );
    }
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    let first = &requests[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/");
    assert_eq!(
        first.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("upstash-encoding"), Some("base64"));
    assert_eq!(first.body, json!(["SET", "k", "vé", "EX", "100"]));
    // Nothing to echo at first; afterwards the latest token received.
    assert_eq!(first.header("upstash-sync-token"), None);
    assert_eq!(requests[1].header("upstash-sync-token"), Some("sync-0"));
    assert_eq!(requests[2].header("upstash-sync-token"), Some("sync-1"));
}

#[tokio::test]
async fn replies_are_decoded_from_base64_at_every_depth() {
    let mock = Mock::start(|req, _| {
        let result = match req.body[0].as_str().unwrap() {
            "NESTED" => json!([b64("v1"), null, 42, [b64("a"), [b64("b")], null], ""]),
            "ENCODED_OK" => json!(b64("OK")),
            "BINARY" => json!(STANDARD.encode([0xff, 0x00, 0xfe])),
            "PLAIN" => json!("not base64!"),
            _ => json!("OK"),
        };
        answer(200, json!({ "result": result }))
    });
    let backend = mock.backend(quick());
    assert_eq!(
        backend.call(Cmd::from_line("NESTED")).await,
        Ok(Reply::Array(vec![
            bulk("v1"),
            Reply::Nil,
            Reply::Int(42),
            Reply::Array(vec![bulk("a"), Reply::Array(vec![bulk("b")]), Reply::Nil]),
            bulk(""),
        ]))
    );
    // Upstash leaves a top-level OK plain; its local proxy encodes it.
    assert_eq!(
        backend.call(Cmd::from_line("SET k v")).await,
        Ok(Reply::ok())
    );
    let encoded = backend.call(Cmd::from_line("ENCODED_OK")).await.unwrap();
    assert_eq!(encoded.into_bytes().as_deref(), Some(&b"OK"[..]));
    assert_eq!(
        backend.call(Cmd::from_line("BINARY")).await,
        Ok(Reply::Bulk(Bytes::from_static(&[0xff, 0x00, 0xfe])))
    );
    let err = backend.call(Cmd::from_line("PLAIN")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Protocol);
}

#[tokio::test]
async fn command_errors_pass_verbatim_and_bad_bodies_are_protocol_errors() {
    let mock = Mock::start(|req, _| match req.body[0].as_str().unwrap() {
        "AUTH401" => answer(
            401,
            json!({ "error": "WRONGPASS invalid or missing auth token" }),
        ),
        "HTML" => Action::Answer {
            status: 502,
            headers: vec![],
            body: format!("<html>Bad Gateway {}</html>", "x".repeat(10_000)),
        },
        _ => answer(
            400,
            json!({ "error": "WRONGTYPE Operation against a key holding the wrong kind of value" }),
        ),
    });
    let backend = mock.backend(quick());
    let err = backend.call(Cmd::from_line("INCR h")).await.unwrap_err();
    assert_eq!(
        err,
        Error::command("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    let err = backend.call(Cmd::from_line("AUTH401")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Command);
    assert!(err
        .message
        .starts_with("WRONGPASS invalid or missing auth token"));
    assert_no_token(&err);
    let err = backend.call(Cmd::from_line("HTML")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Protocol);
    assert!(
        err.message
            .starts_with("upstash answered HTTP 502 with a non-JSON body: <html>Bad Gateway"),
        "{}",
        err.message
    );
    assert!(err.message.len() < 400);
}

#[tokio::test]
async fn binary_arguments_are_refused_before_sending() {
    let mock = Mock::start(|_, _| answer(200, json!({ "result": "OK" })));
    let backend = mock.backend(quick());
    let err = backend
        .call(Cmd::new("SET").arg("k").arg(vec![0xffu8, 0xfe]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(err
        .message
        .starts_with("binary arguments are not supported over REST"));
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn pipelines_keep_inline_errors_and_transactions_can_abort() {
    let mock = Mock::start(|req, _| match req.path.as_str() {
        "/pipeline" if req.body.as_array().unwrap().len() == 3 => answer(
            200,
            json!([
                { "result": "OK" },
                { "error": "WRONGTYPE Operation against a key holding the wrong kind of value" },
                { "result": [b64("a"), 5] }
            ]),
        ),
        "/pipeline" => answer(200, json!([{ "result": 1 }])),
        "/multi-exec" if req.body[0][0] == "BAD" => answer(
            400,
            json!({ "error": "EXECABORT Transaction discarded because of previous errors." }),
        ),
        "/multi-exec" => answer(200, json!([{ "result": 1 }, { "result": 2 }])),
        _ => answer(404, json!({ "error": "not found" })),
    });
    let backend = mock.backend(quick());
    let items = backend
        .pipeline(
            vec![
                Cmd::from_line("SET a 1"),
                Cmd::from_line("INCR s"),
                Cmd::from_line("EVAL x 0"),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        items,
        vec![
            Ok(Reply::ok()),
            Err(Error::command(
                "WRONGTYPE Operation against a key holding the wrong kind of value"
            )),
            Ok(Reply::Array(vec![bulk("a"), Reply::Int(5)])),
        ]
    );
    assert_eq!(
        mock.requests()[0].body,
        json!([["SET", "a", "1"], ["INCR", "s"], ["EVAL", "x", "0"]])
    );

    // One reply for two commands.
    let err = backend
        .pipeline(
            vec![Cmd::from_line("GET a"), Cmd::from_line("GET b")],
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Protocol);

    let items = backend
        .pipeline(
            vec![Cmd::from_line("INCR a"), Cmd::from_line("INCR a")],
            true,
        )
        .await
        .unwrap();
    assert_eq!(items, vec![Ok(Reply::Int(1)), Ok(Reply::Int(2))]);
    let err = backend
        .pipeline(vec![Cmd::from_line("BAD"), Cmd::from_line("INCR a")], true)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Command);
    assert!(err.message.starts_with("EXECABORT"));
    assert_eq!(mock.requests()[3].path, "/multi-exec");

    // Nothing to send, nothing sent.
    assert_eq!(backend.pipeline(vec![], true).await, Ok(vec![]));
    assert_eq!(mock.requests().len(), 4);
}

static SCRIPT: Script = Script::new("test_script", "return redis.call('INCR', KEYS[1])");

#[tokio::test]
async fn eval_falls_back_from_evalsha_on_noscript() {
    let mock = Mock::start(|req, _| match req.body[0].as_str().unwrap() {
        "EVALSHA" => answer(
            400,
            json!({ "error": "NOSCRIPT No matching script. Please use EVAL." }),
        ),
        _ => answer(200, json!({ "result": 7 })),
    });
    let backend = mock.backend(quick());
    let reply = backend
        .eval(&SCRIPT, vec![Bytes::from("k")], vec![Bytes::from("5")])
        .await;
    assert_eq!(reply, Ok(Reply::Int(7)));
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body,
        json!(["EVALSHA", SCRIPT.sha1(), "1", "k", "5"])
    );
    assert_eq!(
        requests[1].body,
        json!(["EVAL", SCRIPT.source, "1", "k", "5"])
    );
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_call_deadline() {
    let mock = Mock::start(|_, _| Action::Hang);
    let backend = mock.backend(Timeouts::new(200, 500, 2));
    let started = Instant::now();
    let err = backend.call(Cmd::from_line("GET k")).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert_eq!(err.message, "upstash call timed out after 200 ms");
    assert!(elapsed >= Duration::from_millis(200));
    assert!(elapsed < Duration::from_millis(400), "{elapsed:?}");
    // A hung request is not retried: the deadline covers the whole call.
    assert_eq!(mock.requests().len(), 1);

    let started = Instant::now();
    let err = backend
        .eval(&SCRIPT, vec![Bytes::from("k")], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn idempotent_commands_are_retried_after_a_dropped_connection() {
    let mock = Mock::start(|_, i| {
        if i == 0 {
            Action::Close
        } else {
            answer(200, json!({ "result": b64("v") }))
        }
    });
    let backend = mock.backend(quick());
    assert_eq!(backend.call(Cmd::from_line("GET k")).await, Ok(bulk("v")));
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn idempotent_batches_are_retried_too() {
    let mock = Mock::start(|_, i| {
        if i == 0 {
            Action::Close
        } else {
            answer(200, json!([{ "result": "OK" }, { "result": b64("v") }]))
        }
    });
    let backend = mock.backend(quick());
    let items = backend
        .pipeline(
            vec![Cmd::from_line("SET k v"), Cmd::from_line("GET k")],
            false,
        )
        .await
        .unwrap();
    assert_eq!(items, vec![Ok(Reply::ok()), Ok(bulk("v"))]);
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn non_idempotent_commands_are_not_retried() {
    let mock = Mock::start(|_, i| {
        if i == 0 {
            Action::Close
        } else {
            answer(200, json!({ "result": 1 }))
        }
    });
    let backend = mock.backend(quick());
    let err = backend.call(Cmd::from_line("INCR k")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Connection);
    assert!(
        err.message.starts_with("upstash request failed"),
        "{}",
        err.message
    );
    assert_no_token(&err);
    assert_eq!(mock.requests().len(), 1);

    // A batch with one non-idempotent command is not re-sent either.
    let mock = Mock::start(|_, _| Action::Close);
    let backend = mock.backend(quick());
    let err = backend
        .pipeline(
            vec![Cmd::from_line("GET a"), Cmd::from_line("INCR a")],
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Connection);
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn retries_stop_after_the_configured_count() {
    let mock = Mock::start(|_, _| Action::Close);
    let backend = mock.backend(Timeouts::new(1000, 500, 2));
    let err = backend.call(Cmd::from_line("GET k")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Connection);
    assert!(err.message.contains("(3 attempts)"), "{}", err.message);
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_without_leaking_the_token() {
    // Bind then drop: nothing listens on the port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/?_token={TOKEN}");
    let backend = backend_at(&url, quick());
    let err = backend.call(Cmd::from_line("GET k")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Connection);
    assert_no_token(&err);
}

#[test]
fn the_token_never_shows_in_debug_or_describe() {
    let config = UpstashConfig {
        url: "https://eu1-x.upstash.io".to_string(),
        token: TOKEN.to_string(),
    };
    assert!(!format!("{config:?}").contains(TOKEN));
    let backend = UpstashBackend::new(config, Arc::new(Timeouts::default())).unwrap();
    assert_eq!(
        backend.describe(),
        "upstash https://eu1-x.upstash.io (token ***)"
    );
    assert!(!format!("{backend:?}").contains(TOKEN));

    for url in ["redis://eu1-x.upstash.io:6379", "eu1-x.upstash.io"] {
        let err = UpstashBackend::new(
            UpstashConfig {
                url: url.to_string(),
                token: TOKEN.to_string(),
            },
            Arc::new(Timeouts::default()),
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert_no_token(&err);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn long_pipelines_go_as_several_requests_in_order() {
    use digis_redis_core::upstash::MAX_PIPELINE_COMMANDS;
    // Each command is `INCRBY n <i>`; the mock answers each with its own i, and fails the
    // third request (a transport failure) to show what a lost chunk does.
    let mock = Mock::start(|req, index| {
        let items = req.body.as_array().unwrap();
        assert!(
            items.len() <= MAX_PIPELINE_COMMANDS,
            "{} commands",
            items.len()
        );
        if index == 2 {
            return Action::Close;
        }
        let results: Vec<Value> = items
            .iter()
            .map(|c| json!({ "result": c[2].as_str().unwrap().parse::<i64>().unwrap() }))
            .collect();
        answer(200, Value::Array(results))
    });
    let backend = mock.backend(Timeouts::new(5000, 1000, 0));
    let n = 2 * MAX_PIPELINE_COMMANDS + 5;
    let cmds = (0..n)
        .map(|i| Cmd::new("INCRBY").arg("n").arg(i.to_string()))
        .collect();
    let items = backend.pipeline(cmds, false).await.unwrap();
    assert_eq!(items.len(), n);
    for (i, item) in items.iter().enumerate().take(2 * MAX_PIPELINE_COMMANDS) {
        assert_eq!(item, &Ok(Reply::Int(i as i64)));
    }
    assert!(items[2 * MAX_PIPELINE_COMMANDS..]
        .iter()
        .all(|item| item.is_err()));
    let sizes: Vec<usize> = mock
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.body.as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [MAX_PIPELINE_COMMANDS, MAX_PIPELINE_COMMANDS, 5]);
}

/// Calls reach the server in the order they were issued: one request in flight, the calls
/// issued meanwhile merged into the next `/pipeline` in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_reach_the_server_in_issue_order_and_queued_calls_share_a_request() {
    let counter = Arc::new(Mutex::new(0));
    let mock = Mock::start(move |req, _| {
        // Numbered on arrival, answered after a pause, so that requests in flight together
        // would be numbered in whatever order they arrived.
        let number = || {
            let mut n = counter.lock().unwrap();
            *n += 1;
            *n
        };
        let body = match req.path.as_str() {
            "/" => json!({ "result": number() }),
            _ => Value::Array(
                req.body
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|_| json!({ "result": number() }))
                    .collect(),
            ),
        };
        thread::sleep(Duration::from_millis(5));
        answer(200, body)
    });
    let backend = mock.backend(Timeouts::new(5000, 1000, 0));
    let calls = (0..100).map(|_| backend.call(Cmd::from_line("INCR n")));
    let replies = futures_util::future::join_all(calls).await;
    let numbers: Vec<i64> = replies
        .into_iter()
        .map(|r| match r.unwrap() {
            Reply::Int(n) => n,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(numbers, (1..=100).collect::<Vec<_>>());
    let requests = mock.requests();
    assert!(requests.len() < 10, "{} requests", requests.len());
}

/// A request the server never answers holds the lane only until its deadline.
#[tokio::test]
async fn a_stalled_request_holds_later_calls_no_longer_than_its_deadline() {
    let mock = Mock::start(|_, index| {
        if index == 0 {
            Action::Hang
        } else {
            answer(200, json!({ "result": b64("PONG") }))
        }
    });
    let backend = mock.backend(Timeouts::new(300, 300, 0));
    let err = backend.call(Cmd::new("PING")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    let started = Instant::now();
    assert_eq!(backend.call(Cmd::new("PING")).await, Ok(bulk("PONG")));
    assert!(started.elapsed() < Duration::from_millis(250));
}
