//! The Redis protocol backend against real servers: a shared one (`REDIS_TEST_URL`, else
//! 127.0.0.1:6379), servers this test starts and stops itself, and fake servers that misbehave.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use digis_redis_core::{
    lua::OTP_VERIFY, options::Timeouts, redis_protocol::RedisBackend, Backend, Cmd, ErrorKind,
    Features, Reply,
};

/// The shared server, as the jest runner takes it.
fn shared() -> String {
    std::env::var("REDIS_TEST_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

fn shared_redis_available() -> bool {
    let url = url::Url::parse(&shared()).expect("REDIS_TEST_URL is a URL");
    let address = (
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(6379),
    );
    if std::net::TcpStream::connect(address).is_ok() {
        return true;
    }
    eprintln!("SKIPPED: no redis at {}", shared());
    false
}

fn backend(url: &str, call_ms: u64) -> RedisBackend {
    RedisBackend::new(url, Arc::new(Timeouts::new(call_ms, 500, 0))).unwrap()
}

fn prefix(name: &str) -> String {
    format!("t:rs:{name}:{}:{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct OwnRedis(Child);

impl OwnRedis {
    fn start(port: u16) -> Option<OwnRedis> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(5) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(OwnRedis(child))
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn commands_pipelines_and_transactions() {
    if !shared_redis_available() {
        return;
    }
    let db = backend(&shared(), 2000);
    let p = prefix("basic");
    assert_eq!(
        db.call(
            Cmd::new("SET")
                .arg(format!("{p}:a"))
                .arg(vec![0xffu8, 0, 1])
        )
        .await
        .unwrap(),
        Reply::ok()
    );
    assert_eq!(
        db.call(Cmd::new("GET").arg(format!("{p}:a")))
            .await
            .unwrap(),
        Reply::Bulk(Bytes::from_static(&[0xff, 0, 1]))
    );
    let items = db
        .pipeline(
            vec![
                Cmd::new("INCR").arg(format!("{p}:n")),
                Cmd::new("INCR").arg(format!("{p}:a")),
                Cmd::new("GET").arg(format!("{p}:n")),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(items[0], Ok(Reply::Int(1)));
    let err = items[1].clone().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Command);
    assert!(
        err.message.starts_with("ERR value is not an integer"),
        "{err}"
    );
    assert_eq!(items[2], Ok(Reply::bulk("1")));
    let tx = db
        .pipeline(
            vec![
                Cmd::new("INCR").arg(format!("{p}:n")),
                Cmd::new("TYPE").arg(format!("{p}:n")),
            ],
            true,
        )
        .await
        .unwrap();
    assert_eq!(tx, vec![Ok(Reply::Int(2)), Ok(Reply::Status("string"))]);
    let discarded = db
        .pipeline(
            vec![
                Cmd::new("INCR").arg(format!("{p}:n")),
                Cmd::new("NOSUCHCOMMAND"),
            ],
            true,
        )
        .await;
    assert!(discarded.is_err(), "{discarded:?}");
    db.call(Cmd::new("DEL").arg(format!("{p}:a")).arg(format!("{p}:n")))
        .await
        .unwrap();
}

#[tokio::test]
async fn scripts_fall_back_to_eval_after_a_script_flush() {
    if !shared_redis_available() {
        return;
    }
    let db = Arc::new(backend(&shared(), 2000));
    let features = Features::new(db.clone());
    let p = prefix("otp");
    db.call(Cmd::new("SCRIPT").arg("FLUSH")).await.unwrap();
    db.call(Cmd::new("SET").arg(format!("otp:{p}")).arg("123456"))
        .await
        .unwrap();
    assert!(features.otp_verify(&p, "123456", 5).await.unwrap());
    let loaded = db
        .call(Cmd::new("SCRIPT").arg("EXISTS").arg(OTP_VERIFY.sha1()))
        .await
        .unwrap();
    assert_eq!(loaded, Reply::Array(vec![Reply::Int(1)]));
}

#[tokio::test]
async fn server_errors_keep_redis_text() {
    if !shared_redis_available() {
        return;
    }
    let db = backend(&shared(), 2000);
    let p = prefix("wrongtype");
    db.call(Cmd::new("HSET").arg(&p).arg("f").arg("v"))
        .await
        .unwrap();
    let err = db.call(Cmd::new("GET").arg(&p)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Command);
    assert_eq!(
        err.message,
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    db.call(Cmd::new("DEL").arg(&p)).await.unwrap();
}

#[tokio::test]
async fn a_refused_connection_fails_fast_without_the_password() {
    let port = free_port();
    let db = backend(&format!("redis://user:s3cret-pw@127.0.0.1:{port}/0"), 1000);
    let started = Instant::now();
    let err = db.call(Cmd::new("PING")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(
        matches!(err.kind, ErrorKind::Connection | ErrorKind::Timeout),
        "{err}"
    );
    assert!(!err.message.contains("s3cret-pw"));
    assert!(!format!("{db:?}").contains("s3cret-pw"));
    assert!(db.describe().contains("***"));
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds connections without ever answering.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let db = backend(&format!("redis://127.0.0.1:{port}"), 300);
    let started = Instant::now();
    let err = db.call(Cmd::new("GET").arg("k")).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    assert!(elapsed >= Duration::from_millis(290), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(800), "{elapsed:?}");
    holder.abort();
}

#[tokio::test]
async fn reconnects_after_the_server_restarts() {
    let port = free_port();
    let Some(server) = OwnRedis::start(port) else {
        eprintln!("SKIPPED: redis-server is not installed");
        return;
    };
    let db = backend(&format!("redis://127.0.0.1:{port}/3"), 500);
    db.call(Cmd::new("SET").arg("k").arg("v")).await.unwrap();
    drop(server);
    let down = db.call(Cmd::new("GET").arg("k")).await;
    assert!(down.is_err());
    let _server = OwnRedis::start(port).expect("restart");
    // Service is back within about a second of the server.
    let started = Instant::now();
    loop {
        if db.call(Cmd::new("PING")).await.is_ok() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "no recovery"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing was persisted, and the db index from the URL is used again after reconnecting.
    assert_eq!(db.call(Cmd::new("GET").arg("k")).await.unwrap(), Reply::Nil);
    db.call(Cmd::new("SET").arg("k").arg("again"))
        .await
        .unwrap();
    let other_db = backend(&format!("redis://127.0.0.1:{port}/0"), 500);
    assert_eq!(
        other_db.call(Cmd::new("GET").arg("k")).await.unwrap(),
        Reply::Nil
    );
}

#[test]
fn urls_are_validated_without_leaking_passwords() {
    let err = RedisBackend::new("http://u:pw-secret@h", Arc::new(Timeouts::default())).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(!err.message.contains("pw-secret"));
}
