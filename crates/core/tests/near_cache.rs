//! The near cache against a real Redis: invalidations from other connections, expiry, flushes,
//! and a server that goes away. The shared server is `REDIS_TEST_URL`, else 127.0.0.1:6379/9.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use digis_redis_core::circuit::CircuitBreaker;
use digis_redis_core::features::Target;
use digis_redis_core::lua::{Script, ScriptCall};
use digis_redis_core::near_cache::{NearRead, NearSettings, Tracking};
use digis_redis_core::options::{BreakerPolicy, Timeouts};
use digis_redis_core::redis_protocol::RedisBackend;
use digis_redis_core::{Backend, BackendKind, Cmd, Features, Reply, SharedBackend};

fn shared() -> String {
    std::env::var("REDIS_TEST_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/9".to_string())
}

fn available() -> bool {
    let url = url::Url::parse(&shared()).unwrap();
    let address = (
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(6379),
    );
    let up = std::net::TcpStream::connect(address).is_ok();
    if !up {
        eprintln!("SKIPPED: no redis at {}", shared());
    }
    up
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server of this test's own on `port`, keeping nothing on disk.
fn redis_server(port: u16) -> std::process::Child {
    std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server")
}

/// A redis-server of this test's own, and its URL once it answers.
fn own_server() -> (std::process::Child, String) {
    let port = free_port();
    let server = redis_server(port);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (server, format!("redis://127.0.0.1:{port}/0"))
}

fn features(url: &str) -> (Features, Arc<Timeouts>) {
    let timeouts = Arc::new(Timeouts::new(2000, 1000, 0));
    let backend = RedisBackend::new(url, timeouts.clone()).unwrap();
    let breaker = CircuitBreaker::new(Arc::new(backend), Arc::new(BreakerPolicy::default()));
    (Features::new(Arc::new(breaker)), timeouts)
}

/// Features on `url` with the near cache on and its tracking live.
async fn with_live_near_cache(url: &str) -> Features {
    let (f, timeouts) = features(url);
    let runtime = tokio::runtime::Handle::current();
    f.configure_near_cache(Some(NearSettings::default()), &runtime, timeouts)
        .unwrap();
    until("tracking live", Duration::from_secs(10), || {
        f.near_stats().unwrap().tracking == Tracking::Live
    })
    .await;
    f
}

/// A plain connection of another client.
async fn other(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn near_text(f: &Features, target: &Target) -> Option<Option<String>> {
    f.near_peek(target)
        .map(|v| v.map(|b| String::from_utf8(b.to_vec()).unwrap()))
}

/// A read as the JS layer makes it: from the near cache, else from the server with the
/// placeholder taken when it was issued.
async fn read(f: &Features, target: &Target) -> digis_redis_core::Result<Option<Vec<u8>>> {
    let fill = match f.near_read(target) {
        Some(NearRead::Hit(value)) => return Ok(value.map(|v| v.to_vec())),
        Some(NearRead::Miss(fill)) => fill,
        None => None,
    };
    let mut items = f.get_filling(vec![(target.clone(), fill)]).await?;
    Ok(items.pop().unwrap()?.map(|v| v.to_vec()))
}

/// Reads `target` until the near cache holds it: the announcement of a write made just before
/// may arrive after the first read's reply and drop what it stored.
async fn cached(f: &Features, target: &Target) {
    let started = Instant::now();
    while near_text(f, target).is_none() {
        assert!(started.elapsed() < Duration::from_secs(2), "never cached");
        read(f, target).await.unwrap();
    }
}

fn key(name: &str) -> String {
    format!("t:near:{name}:{}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clients_write_and_expiry_reach_the_near_cache() {
    if !available() {
        return;
    }
    let url = shared();
    let f = with_live_near_cache(&url).await;
    let mut conn = other(&url).await;
    let target = Target::Raw(key("write"));
    let _: () = redis::cmd("SET")
        .arg(target.key())
        .arg("v1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        read(&f, &target).await.unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    cached(&f, &target).await;
    assert_eq!(near_text(&f, &target), Some(Some("v1".into())));

    let _: () = redis::cmd("SET")
        .arg(target.key())
        .arg("v2")
        .query_async(&mut conn)
        .await
        .unwrap();
    until("invalidated", Duration::from_secs(2), || {
        near_text(&f, &target).is_none()
    })
    .await;
    assert!(f.near_stats().unwrap().announced > 0);
    assert_eq!(
        read(&f, &target).await.unwrap().as_deref(),
        Some(&b"v2"[..])
    );

    // A key with a TTL: the entry ends with it, even before the server's expiry cycle.
    let expiring = Target::Raw(key("expiring"));
    let _: () = redis::cmd("SET")
        .arg(expiring.key())
        .arg("soon")
        .arg("PX")
        .arg(150)
        .query_async(&mut conn)
        .await
        .unwrap();
    cached(&f, &expiring).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(near_text(&f, &expiring), None);

    // Our own write drops the entry before it is sent.
    cached(&f, &target).await;
    f.set(&target, "mine".into(), None).await.unwrap();
    assert_eq!(
        read(&f, &target).await.unwrap().as_deref(),
        Some(&b"mine"[..])
    );

    let idle = Arc::new(Timeouts::new(1000, 1000, 0));
    f.configure_near_cache(None, &tokio::runtime::Handle::current(), idle)
        .unwrap();
    assert!(f.near_stats().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_darkens_the_near_cache_until_tracking_is_back() {
    if !available() {
        return;
    }
    let port = free_port();
    let mut server = redis_server(port);
    let url = format!("redis://127.0.0.1:{port}/0");
    let f = with_live_near_cache(&url).await;
    let target = Target::User("7".into());
    f.set(&target, "before".into(), None).await.unwrap();
    cached(&f, &target).await;

    server.kill().unwrap();
    server.wait().unwrap();
    until("dark", Duration::from_secs(5), || {
        f.near_stats().unwrap().tracking == Tracking::Connecting
    })
    .await;
    assert_eq!(near_text(&f, &target), None);

    let mut server = redis_server(port);
    until("live again", Duration::from_secs(15), || {
        f.near_stats().unwrap().tracking == Tracking::Live
    })
    .await;
    // The restarted server has no such key: nothing stale is served.
    let got = loop {
        match read(&f, &target).await {
            Ok(value) => break value,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(got, None);
    assert_eq!(near_text(&f, &target), Some(None));
    let _ = f.backend().call(Cmd::new("SHUTDOWN").arg("NOSAVE")).await;
    let _ = server.kill();
    let _ = server.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cache_namespace_only_its_prefixes_are_announced_and_a_flush_drops_all() {
    if !available() {
        return;
    }
    // A private server: on the shared one other tests write `user:` keys too.
    let (mut server, url) = own_server();
    let (f, timeouts) = features(&url);
    let runtime = tokio::runtime::Handle::current();
    let users_only = NearSettings {
        spaces: vec![digis_redis_core::near_cache::NearSpace::Users],
        ..NearSettings::default()
    };
    f.configure_near_cache(Some(users_only), &runtime, timeouts.clone())
        .unwrap();
    let live = |f: &Features| f.near_stats().unwrap().tracking == Tracking::Live;
    until("tracking live", Duration::from_secs(10), || live(&f)).await;
    let mut conn = other(&url).await;
    let user = Target::User(key("prefix"));
    let raw = key("prefix-raw");
    let announced = || f.near_stats().unwrap().announced;
    let before = announced();
    let _: () = redis::cmd("SET")
        .arg(&raw)
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(user.key())
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    until("the user key announced", Duration::from_secs(2), || {
        announced() > before
    })
    .await;
    // Both writes were made before the announcement came: only the user key was announced.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(announced(), before + 1);

    // Back to every namespace: nothing is served until every key is tracked.
    f.configure_near_cache(Some(NearSettings::default()), &runtime, timeouts)
        .unwrap();
    assert_eq!(f.near_stats().unwrap().tracking, Tracking::Connecting);
    until("tracking live again", Duration::from_secs(10), || live(&f)).await;
    let before = announced();
    let _: () = redis::cmd("SET")
        .arg(&raw)
        .arg(2)
        .query_async(&mut conn)
        .await
        .unwrap();
    until("any key announced", Duration::from_secs(2), || {
        announced() > before
    })
    .await;

    // A flush (on this private server: the shared one's database is other tests') drops all.
    let target = Target::Raw(raw);
    cached(&f, &target).await;
    let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
    until("flushed", Duration::from_secs(2), || {
        near_text(&f, &target).is_none()
    })
    .await;
    let _ = server.kill();
    let _ = server.wait();
}

/// A backend that counts how often tracking asks for its servers: once to open the listeners,
/// then once per health check (the comparison of masters).
struct CountingChecks {
    inner: SharedBackend,
    asked: Arc<AtomicUsize>,
}

#[async_trait]
impl Backend for CountingChecks {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }

    async fn call(&self, cmd: Cmd) -> digis_redis_core::Result<Reply> {
        self.inner.call(cmd).await
    }

    async fn pipeline(
        &self,
        cmds: Vec<Cmd>,
        atomic: bool,
    ) -> digis_redis_core::Result<Vec<digis_redis_core::Result<Reply>>> {
        self.inner.pipeline(cmds, atomic).await
    }

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> digis_redis_core::Result<Reply> {
        self.inner.eval(script, keys, args).await
    }

    async fn eval_many(
        &self,
        calls: Vec<ScriptCall>,
    ) -> digis_redis_core::Result<Vec<digis_redis_core::Result<Reply>>> {
        self.inner.eval_many(calls).await
    }

    async fn tracking_servers(
        &self,
    ) -> Option<digis_redis_core::Result<Vec<redis::ConnectionInfo>>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.inner.tracking_servers().await
    }
}

/// The listener's health check (PING, and on a cluster the comparison of masters) keeps its
/// schedule while invalidations stream in: on a busy server it is the only way a stalled node
/// or a changed topology is noticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_runs_while_changes_are_announced() {
    let (mut server, url) = own_server();
    let timeouts = Arc::new(Timeouts::new(2000, 1000, 0));
    let asked = Arc::new(AtomicUsize::new(0));
    let backend = CountingChecks {
        inner: Arc::new(RedisBackend::new(&url, timeouts.clone()).unwrap()),
        asked: asked.clone(),
    };
    let f = Features::new(Arc::new(backend));
    f.configure_near_cache(
        Some(NearSettings::default()),
        &tokio::runtime::Handle::current(),
        timeouts.clone(),
    )
    .unwrap();
    until("tracking live", Duration::from_secs(10), || {
        f.near_stats().unwrap().tracking == Tracking::Live
    })
    .await;
    let before = asked.load(Ordering::SeqCst);
    // A change every 100 ms: an announcement always arrives well within the check's 500 ms.
    let mut conn = other(&url).await;
    let busy = key("busy");
    let started = Instant::now();
    let mut writes = 0;
    while started.elapsed() < Duration::from_millis(2600) {
        let _: () = redis::cmd("SET")
            .arg(&busy)
            .arg(writes)
            .query_async(&mut conn)
            .await
            .unwrap();
        writes += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let checks = asked.load(Ordering::SeqCst) - before;
    assert!(
        checks >= 2,
        "{checks} health checks in 2.6 s of announcements every 100 ms ({writes} writes)"
    );
    f.configure_near_cache(None, &tokio::runtime::Handle::current(), timeouts)
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
}
