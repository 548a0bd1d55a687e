//! The REST server end to end, from raw bytes on a connection: hyper's HTTP/1 parser, then
//! `http::handle` (bearer / `?_token=` authentication, body limits, routing, JSON and
//! path-style command parsing, refusals). The Redis URL points at a closed local port, so a
//! request that gets as far as Redis is answered 500 without touching any server.
//!
//! Input: the raw bytes a client sends (several pipelined requests are fine); the seeds in
//! `corpus/rest_http` carry the token `fuzz-token`.
//! Set REST_HTTP_PRINT=1 to see the answers (e.g. with `-runs=0` over the seeds).
//! Properties: no panic; the connection ends; whatever is answered starts with an HTTP/1.x
//! status line; every answer of the handler is JSON.
#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use digis_redis_rest_server::fuzzing::{handle, server, Server};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

const TOKEN: &str = "fuzz-token";
/// Small enough to reach the 413 paths with fuzz-sized inputs.
const MAX_BODY: usize = 256;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fn shared() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| server("redis://127.0.0.1:1/0", TOKEN, MAX_BODY).unwrap())
}

async fn exchange(data: &[u8]) -> Vec<u8> {
    let (mut client, conn) = tokio::io::duplex(1 << 16);
    let service = service_fn(|req| async move { Ok::<_, Infallible>(handle(shared(), req).await) });
    let serve = tokio::spawn(async move {
        // The client half-closes after sending: answer what was asked before closing.
        let _ = http1::Builder::new()
            .half_close(true)
            .serve_connection(TokioIo::new(conn), service)
            .await;
    });
    let mut answer = Vec::new();
    let (mut rd, mut wr) = tokio::io::split(&mut client);
    let write = async {
        let _ = wr.write_all(data).await;
        let _ = wr.shutdown().await;
    };
    let read = async {
        let _ = rd.read_to_end(&mut answer).await;
    };
    tokio::join!(write, read);
    serve.await.unwrap();
    answer
}

/// Checks every response in `answer`: status line, then headers, then a JSON body when the
/// handler produced it (it always sets `content-type: application/json`).
fn check(answer: &[u8]) {
    let mut rest = answer;
    while !rest.is_empty() {
        // hyper answers an HTTP/1.0 request in HTTP/1.0.
        assert!(
            rest.starts_with(b"HTTP/1.1 ") || rest.starts_with(b"HTTP/1.0 "),
            "{:?}",
            String::from_utf8_lossy(rest)
        );
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("response headers end")
            + 4;
        let head = std::str::from_utf8(&rest[..end])
            .expect("ASCII headers")
            .to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |n| n.trim().parse().unwrap());
        let body = &rest[end..end + length];
        if head.contains("content-type: application/json") {
            let json: serde_json::Value = serde_json::from_slice(body).expect("a JSON body");
            assert!(json.is_object() || json.is_array(), "{json}");
        }
        rest = &rest[end + length..];
    }
}

fuzz_target!(|data: &[u8]| {
    let answer = runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(5), exchange(data))
            .await
            .expect("the connection did not end")
    });
    if std::env::var_os("REST_HTTP_PRINT").is_some() {
        eprintln!(
            "--- {} bytes in, answer:\n{}",
            data.len(),
            String::from_utf8_lossy(&answer)
        );
    }
    check(&answer);
});
