//! A server on port 0 against the Redis at `REDIS_TEST_URL` (default 127.0.0.1:6379), and a tiny HTTP client for it.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use digis_redis_rest_server::{start, RestServerConfig, RunningServer};
use serde_json::Value;

/// `REDIS_TEST_URL` (as `npm test` takes it), or the Redis at 127.0.0.1:6379.
pub fn redis_url() -> String {
    std::env::var("REDIS_TEST_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// `host:port` of [`redis_url`].
fn redis_addr() -> String {
    let url = url::Url::parse(&redis_url()).expect("REDIS_TEST_URL is a URL");
    format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(6379)
    )
}
pub const TOKEN: &str = "test-token-123";

pub struct Harness {
    pub server: RunningServer,
    pub base: String,
    pub http: reqwest::Client,
    pub prefix: String,
}

pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub headers: reqwest::header::HeaderMap,
}

/// Whether a Redis answers at 127.0.0.1:6379; tests print a loud SKIPPED line when not.
pub async fn redis_up() -> bool {
    let probe = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(redis_addr()).await.ok()?;
        s.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await.ok()?;
        buf[..n].starts_with(b"+PONG").then_some(())
    };
    let up = matches!(
        tokio::time::timeout(Duration::from_secs(1), probe).await,
        Ok(Some(()))
    );
    if !up {
        eprintln!("SKIPPED: no redis at {}", redis_addr());
    }
    up
}

pub fn unique_prefix(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "rest-test:{label}:{}:{nanos}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn start_with(config: RestServerConfig, label: &str) -> Harness {
    let server = start(config).await.expect("server starts");
    let base = format!("http://{}", server.local_addr());
    Harness {
        server,
        base,
        http: reqwest::Client::new(),
        prefix: unique_prefix(label),
    }
}

/// `None` (after printing SKIPPED) when no Redis is up.
pub async fn harness(label: &str) -> Option<Harness> {
    if !redis_up().await {
        return None;
    }
    let mut config = RestServerConfig::new(redis_url(), TOKEN);
    config.port = 0;
    Some(start_with(config, label).await)
}

impl Harness {
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.expect("request is answered");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("reply is JSON: {text:?} (status {status})"));
        Answer {
            status,
            json,
            headers,
        }
    }

    pub fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
    }

    /// `POST /` with a JSON command.
    pub async fn cmd(&self, body: Value) -> Answer {
        self.send(self.post("/", body.to_string())).await
    }

    pub async fn cmd_base64(&self, body: Value) -> Answer {
        self.send(
            self.post("/", body.to_string())
                .header("Upstash-Encoding", "base64"),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(TOKEN),
        )
        .await
    }

    /// The `result` of a command that must succeed.
    pub async fn ok(&self, body: Value) -> Value {
        let answer = self.cmd(body.clone()).await;
        assert_eq!(answer.status, 200, "{body} → {}", answer.json);
        answer.json["result"].clone()
    }

    /// Deletes every key under this test's prefix.
    pub async fn cleanup(self) {
        let script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
                      n = n + redis.call('DEL', k) end return n";
        let pattern = format!("{}*", self.prefix);
        self.ok(serde_json::json!(["EVAL", script, 0, pattern]))
            .await;
        self.server.shutdown().await;
    }
}
