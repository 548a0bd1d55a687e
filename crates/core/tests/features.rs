//! The features against the embedded backend, without Node.

use std::sync::Arc;

use bytes::Bytes;
use digis_redis_core::{
    embedded::EmbeddedBackend,
    features::{ActiveStream, Algorithm, RateLimitRequest, Target, WindowHitsChange},
    Cmd, ErrorKind, Features, Reply,
};

fn features() -> (Features, EmbeddedBackend) {
    let store = EmbeddedBackend::new();
    (Features::new(Arc::new(store.clone())), store)
}

fn ttl(store: &EmbeddedBackend, key: &str) -> i64 {
    store
        .execute(&Cmd::new("TTL").arg(key))
        .unwrap()
        .as_int()
        .unwrap()
}

fn req(
    id: &str,
    algorithm: Algorithm,
    limit: u64,
    window_seconds: u64,
    cost: u64,
) -> RateLimitRequest {
    RateLimitRequest {
        id: id.to_string(),
        algorithm,
        limit,
        window_seconds,
        cost,
    }
}

fn live(data: &'static str, viewers: u64) -> ActiveStream {
    ActiveStream {
        data: Bytes::from(data),
        viewers,
    }
}

fn user(id: &str) -> Target {
    Target::User(id.to_string())
}

#[tokio::test]
async fn set_uses_setex_when_there_is_a_ttl_and_set_when_there_is_none() {
    let (f, store) = features();
    f.set(&user("1"), Bytes::from("{}"), Some(3600))
        .await
        .unwrap();
    f.set(&user("2"), Bytes::from("{}"), None).await.unwrap();
    assert!((3595..=3600).contains(&ttl(&store, "user:1")));
    assert_eq!(ttl(&store, "user:2"), -1);
}

#[tokio::test]
async fn get_distinguishes_a_miss_from_an_empty_value() {
    let (f, _) = features();
    let key = Target::Raw("k".into());
    assert_eq!(f.get(&key).await.unwrap(), None);
    f.set(&key, Bytes::new(), None).await.unwrap();
    assert_eq!(f.get(&key).await.unwrap(), Some(Bytes::new()));
}

#[tokio::test]
async fn every_namespace_builds_the_original_key() {
    let (f, store) = features();
    for (target, key) in [
        (Target::Session("s".into()), "session:s"),
        (Target::User("u".into()), "user:u"),
        (Target::Creator("c".into()), "creator:c"),
        (Target::CreatorList, "creator:list"),
        (Target::ActiveStream("x".into()), "stream:active:x"),
        (Target::Otp("a@b".into()), "otp:a@b"),
        (Target::Raw("raw key".into()), "raw key"),
    ] {
        f.set(&target, Bytes::from("v"), None).await.unwrap();
        assert_eq!(
            store.execute(&Cmd::new("GET").arg(key)).unwrap(),
            Reply::bulk("v"),
            "{key}"
        );
    }
}

#[tokio::test]
async fn del_pattern_counts_what_it_deleted() {
    let (f, _) = features();
    for i in 0..2500 {
        f.set(&Target::Raw(format!("p:{i}")), Bytes::from("1"), None)
            .await
            .unwrap();
    }
    f.set(&Target::Raw("q:1".into()), Bytes::from("1"), None)
        .await
        .unwrap();
    assert_eq!(f.del_pattern("p:*").await.unwrap(), 2500);
    assert_eq!(f.del_pattern("p:*").await.unwrap(), 0);
    assert!(f.exists(&Target::Raw("q:1".into())).await.unwrap());
}

#[tokio::test]
async fn mget_keeps_order_and_misses() {
    let (f, _) = features();
    f.set(&Target::Raw("a".into()), Bytes::from("1"), None)
        .await
        .unwrap();
    let got = f
        .mget(vec!["a".into(), "missing".into(), "a".into()])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![Some(Bytes::from("1")), None, Some(Bytes::from("1"))]
    );
    assert!(f.mget(Vec::new()).await.unwrap().is_empty());
}

#[tokio::test]
async fn creators_invalidate_removes_the_profile_and_the_list() {
    let (f, _) = features();
    f.set(&Target::Creator("7".into()), Bytes::from("{}"), None)
        .await
        .unwrap();
    f.set(&Target::CreatorList, Bytes::from("[]"), None)
        .await
        .unwrap();
    f.creators_invalidate("7").await.unwrap();
    assert!(!f.exists(&Target::Creator("7".into())).await.unwrap());
    assert!(!f.exists(&Target::CreatorList).await.unwrap());
}

#[tokio::test]
async fn streams_are_listed_from_the_index_and_pruned() {
    let (f, store) = features();
    f.streams_set_active("b", Bytes::from("B"), Some(60))
        .await
        .unwrap();
    f.streams_set_active("a", Bytes::from("A"), None)
        .await
        .unwrap();
    assert_eq!(
        f.streams_all_active(60_000).await.unwrap(),
        vec![live("A", 0), live("B", 0)]
    );
    // Deleted behind the index's back: not listed, and pruned from the index.
    store
        .execute(&Cmd::new("DEL").arg("stream:active:b"))
        .unwrap();
    assert_eq!(
        f.streams_all_active(60_000).await.unwrap(),
        vec![live("A", 0)]
    );
    assert_eq!(
        store
            .execute(&Cmd::new("SCARD").arg("stream:index:active"))
            .unwrap(),
        Reply::Int(1)
    );
    f.streams_remove_active("a").await.unwrap();
    assert!(f.streams_all_active(60_000).await.unwrap().is_empty());
}

#[tokio::test]
async fn reindex_adopts_streams_written_without_the_index() {
    let (f, store) = features();
    store
        .execute(&Cmd::new("SET").arg("stream:active:legacy").arg("L"))
        .unwrap();
    assert!(f.streams_all_active(60_000).await.unwrap().is_empty());
    assert_eq!(f.streams_reindex().await.unwrap(), 1);
    assert_eq!(
        f.streams_all_active(60_000).await.unwrap(),
        vec![live("L", 0)]
    );
}

#[tokio::test]
async fn rate_limit_counts_in_a_window_with_the_time_left() {
    let (f, store) = features();
    for expected_remaining in (0..3).rev() {
        let d = f
            .rate_limit_check(&req("ip", Algorithm::FixedWindow, 3, 60, 1))
            .await
            .unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, expected_remaining);
        assert!((59_000..=60_000).contains(&d.reset_ms));
    }
    let blocked = f
        .rate_limit_check(&req("ip", Algorithm::FixedWindow, 3, 60, 1))
        .await
        .unwrap();
    assert!(!blocked.allowed);
    assert_eq!(blocked.remaining, 0);
    assert!((59..=60).contains(&ttl(&store, "rate:ip")));
    f.rate_limit_reset("ip").await.unwrap();
    assert!(
        f.rate_limit_check(&req("ip", Algorithm::FixedWindow, 3, 60, 1))
            .await
            .unwrap()
            .allowed
    );
}

#[tokio::test]
async fn rate_limit_repairs_a_counter_left_without_expiry() {
    let (f, store) = features();
    store
        .execute(&Cmd::new("SET").arg("rate:stuck").arg("99"))
        .unwrap();
    let d = f
        .rate_limit_check(&req("stuck", Algorithm::FixedWindow, 10, 30, 1))
        .await
        .unwrap();
    assert!(!d.allowed);
    assert!((29..=30).contains(&ttl(&store, "rate:stuck")));
}

#[tokio::test]
async fn otp_verify_compares_strings_and_consumes_once() {
    let (f, _) = features();
    let code = Target::Otp("me".into());
    f.set(&code, Bytes::from("012345"), Some(300))
        .await
        .unwrap();
    assert!(!f.otp_verify("me", "12345", 5).await.unwrap());
    assert!(!f.otp_verify("me", "0123456", 5).await.unwrap());
    assert!(f.otp_verify("me", "012345", 5).await.unwrap());
    assert!(!f.otp_verify("me", "012345", 5).await.unwrap());
    assert_eq!(f.get(&code).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_otp_verifications_succeed_exactly_once() {
    let (f, _) = features();
    let f = Arc::new(f);
    f.set(&Target::Otp("race".into()), Bytes::from("999999"), None)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let f = f.clone();
            tokio::spawn(async move { f.otp_verify("race", "999999", 5).await.unwrap() })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        successes += usize::from(task.await.unwrap());
    }
    assert_eq!(successes, 1);
}

#[tokio::test]
async fn errors_keep_their_kind() {
    let (f, store) = features();
    store
        .execute(&Cmd::new("HSET").arg("user:h").arg("f").arg("v"))
        .unwrap();
    let err = f.get(&user("h")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Command);
    assert!(err.message.starts_with("WRONGTYPE"));
    assert!(f.ping().await.unwrap());
}

#[tokio::test]
async fn viewers_are_counted_once_within_the_presence_window() {
    let (f, _) = features();
    f.streams_set_active("s", Bytes::from("{}"), None)
        .await
        .unwrap();
    for viewer in ["a", "b", "a"] {
        f.streams_viewer_joined("s", viewer, 60_000).await.unwrap();
    }
    assert_eq!(f.streams_viewer_count("s", 60_000).await.unwrap(), 2);
    assert_eq!(
        f.streams_all_active(60_000).await.unwrap(),
        vec![live("{}", 2)]
    );
    f.streams_viewer_left("s", "a").await.unwrap();
    assert_eq!(f.streams_viewer_count("s", 60_000).await.unwrap(), 1);
    // Presence ends after the window: a 1 ms window has passed by the time we count.
    f.streams_viewer_joined("s", "c", 1).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(f.streams_viewer_count("s", 1).await.unwrap(), 0);
}

#[tokio::test]
async fn creator_statuses_are_listed_from_their_index() {
    let (f, store) = features();
    f.creators_set_status("b", Some("busy"), 60).await.unwrap();
    f.creators_set_status("a", Some("online"), 60)
        .await
        .unwrap();
    assert_eq!(
        f.creators_online().await.unwrap(),
        vec![
            ("a".to_string(), Bytes::from("online")),
            ("b".to_string(), Bytes::from("busy"))
        ]
    );
    f.creators_set_status("a", None, 60).await.unwrap();
    store
        .execute(&Cmd::new("DEL").arg("{creator:b}:status"))
        .unwrap();
    assert!(f.creators_online().await.unwrap().is_empty());
    assert_eq!(
        store
            .execute(&Cmd::new("SCARD").arg("creator:index:status"))
            .unwrap(),
        Reply::Int(0)
    );
}

#[tokio::test]
async fn otp_store_resets_the_guess_count() {
    let (f, store) = features();
    f.otp_store("me", Bytes::from("123456"), Some(300))
        .await
        .unwrap();
    assert!(!f.otp_verify("me", "000000", 5).await.unwrap());
    assert_eq!(
        store
            .execute(&Cmd::new("GET").arg("{otp:me}:tries"))
            .unwrap(),
        Reply::bulk("1")
    );
    f.otp_store("me", Bytes::from("654321"), Some(300))
        .await
        .unwrap();
    assert_eq!(
        store
            .execute(&Cmd::new("EXISTS").arg("{otp:me}:tries"))
            .unwrap(),
        Reply::Int(0)
    );
}

#[tokio::test]
async fn every_algorithm_answers_through_the_same_call() {
    let (f, _) = features();
    for algorithm in [
        Algorithm::TokenBucket,
        Algorithm::SlidingWindow,
        Algorithm::FixedWindow,
    ] {
        let first = f
            .rate_limit_check(&req("x", algorithm, 1, 60, 1))
            .await
            .unwrap();
        assert!(first.allowed, "{algorithm:?}");
        let second = f
            .rate_limit_check(&req("x", algorithm, 1, 60, 1))
            .await
            .unwrap();
        assert!(!second.allowed, "{algorithm:?}");
        assert!(second.retry_after_ms > 0, "{algorithm:?}");
    }
    f.rate_limit_reset("x").await.unwrap();
    assert!(
        f.rate_limit_check(&req("x", Algorithm::TokenBucket, 1, 60, 1))
            .await
            .unwrap()
            .allowed
    );
}

#[tokio::test]
async fn batched_checks_and_verifications_keep_each_outcome() {
    let (f, _) = features();
    let requests = vec![
        req("a", Algorithm::TokenBucket, 1, 60, 1),
        req("a", Algorithm::TokenBucket, 1, 60, 1),
        req("b", Algorithm::FixedWindow, 5, 60, 2),
    ];
    let decisions: Vec<_> = f
        .rate_limit_check_many(&requests)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.unwrap())
        .collect();
    assert!(decisions[0].allowed);
    assert!(!decisions[1].allowed);
    assert_eq!(decisions[2].remaining, 3);
    f.otp_store("me", Bytes::from("123456"), None)
        .await
        .unwrap();
    let attempts = vec![
        ("me".to_string(), "000000".to_string()),
        ("me".to_string(), "123456".to_string()),
        ("me".to_string(), "123456".to_string()),
    ];
    let outcomes: Vec<bool> = f
        .otp_verify_many(&attempts, 5)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.unwrap())
        .collect();
    assert_eq!(outcomes, vec![false, true, false]);
}

#[tokio::test]
async fn batched_expiries_and_window_counters_keep_each_outcome_in_order() {
    let (f, store) = features();
    f.set(&Target::Raw("sess:a".into()), Bytes::from("{}"), Some(10))
        .await
        .unwrap();
    let expiries = f
        .expire_many(vec![
            (Target::Raw("sess:a".into()), 500),
            (Target::Raw("sess:none".into()), 500),
        ])
        .await
        .unwrap();
    assert_eq!(
        expiries.into_iter().map(|e| e.unwrap()).collect::<Vec<_>>(),
        vec![true, false]
    );
    assert!(ttl(&store, "sess:a") > 10);

    f.set(&Target::Raw("rl:text".into()), Bytes::from("x"), None)
        .await
        .unwrap();
    let change = |key: &str, change| WindowHitsChange {
        key: key.to_string(),
        window_ms: 60_000,
        change,
        restart_on_hit: false,
    };
    let items = f
        .window_hits_many(&[
            change("rl:a", 1),
            change("rl:a", 1),
            change("rl:text", 1),
            change("rl:a", -1),
            change("rl:b", 0),
        ])
        .await
        .unwrap();
    let hits: Vec<Option<i64>> = items
        .iter()
        .map(|i| i.as_ref().ok().map(|w| w.hits))
        .collect();
    // Each change sees the ones before it; a value that is not a counter fails alone.
    assert_eq!(hits, vec![Some(1), Some(2), None, Some(1), Some(0)]);
    assert!(items[0].as_ref().unwrap().reset_ms > 59_000);
    assert_eq!(items[4].as_ref().unwrap().reset_ms, 0);
}

/// Answers each command with its own name and records what reached it.
#[derive(Default)]
struct Echo {
    pipelines: parking_lot::Mutex<Vec<Vec<Cmd>>>,
}

#[async_trait::async_trait]
impl digis_redis_core::Backend for Echo {
    fn kind(&self) -> digis_redis_core::BackendKind {
        digis_redis_core::BackendKind::Redis
    }
    async fn call(&self, cmd: Cmd) -> digis_redis_core::Result<Reply> {
        Ok(Reply::Bulk(cmd.parts()[0].clone()))
    }
    async fn pipeline(
        &self,
        cmds: Vec<Cmd>,
        _: bool,
    ) -> digis_redis_core::Result<Vec<digis_redis_core::Result<Reply>>> {
        self.pipelines.lock().push(cmds.clone());
        Ok(cmds
            .iter()
            .map(|cmd| Ok(Reply::Bulk(cmd.parts()[0].clone())))
            .collect())
    }
    async fn eval(
        &self,
        _: &'static digis_redis_core::lua::Script,
        _: Vec<bytes::Bytes>,
        _: Vec<bytes::Bytes>,
    ) -> digis_redis_core::Result<Reply> {
        unreachable!()
    }
}

#[tokio::test]
async fn an_empty_raw_command_fails_alone_and_never_reaches_the_backend() {
    let echo = Arc::new(Echo::default());
    let f = Features::new(echo.clone());
    let empty = Cmd::from_parts(vec![]);
    let items = f
        .raw_pipeline(
            vec![
                Cmd::from_line("A"),
                empty.clone(),
                Cmd::from_line("B"),
                empty.clone(),
                Cmd::from_line("C"),
            ],
            false,
        )
        .await
        .unwrap();
    let names: Vec<String> = items
        .iter()
        .map(|item| match item {
            Ok(reply) => String::from_utf8(reply.clone().into_bytes().unwrap().to_vec()).unwrap(),
            Err(err) => err.message.clone(),
        })
        .collect();
    assert_eq!(names, ["A", "empty command", "B", "empty command", "C"]);
    assert_eq!(
        echo.pipelines.lock().clone(),
        vec![vec![
            Cmd::from_line("A"),
            Cmd::from_line("B"),
            Cmd::from_line("C")
        ]]
    );

    let err = f
        .raw_pipeline(vec![Cmd::from_line("A"), empty.clone()], true)
        .await
        .unwrap_err();
    assert!(err.message.starts_with("EXECABORT"), "{}", err.message);
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    let only_empty = f.raw_pipeline(vec![empty.clone()], false).await.unwrap();
    assert_eq!(only_empty.len(), 1);
    assert!(only_empty[0].is_err());
    assert!(f.raw_command(empty).await.is_err());
    assert_eq!(echo.pipelines.lock().len(), 1);
}

#[tokio::test]
async fn a_cost_above_the_limit_or_a_zero_is_refused_before_any_script_runs() {
    let (f, store) = features();
    for algorithm in [
        Algorithm::TokenBucket,
        Algorithm::SlidingWindow,
        Algorithm::FixedWindow,
    ] {
        for (limit, window, cost) in [(2, 60, 5), (0, 60, 1), (3, 0, 1), (3, 60, 0)] {
            let err = f
                .rate_limit_check(&req("ip", algorithm, limit, window, cost))
                .await
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument, "{algorithm:?} {err}");
        }
    }
    let err = f
        .rate_limit_check(&req("ip", Algorithm::SlidingWindow, 2, 60, 5))
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "cost (5) must not exceed limit (2): it could never be allowed"
    );
    // In a batch the bad check fails alone; the others are answered in their places.
    let items = f
        .rate_limit_check_many(&[
            req("a", Algorithm::SlidingWindow, 3, 60, 1),
            req("b", Algorithm::SlidingWindow, 2, 60, 5),
            req("c", Algorithm::SlidingWindow, 3, 60, 3),
        ])
        .await
        .unwrap();
    assert_eq!(items[0].as_ref().unwrap().remaining, 2);
    assert_eq!(
        items[1].as_ref().unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(items[2].as_ref().unwrap().remaining, 0);
    // Nothing was stored for the refused checks.
    assert_eq!(
        store
            .execute(
                &Cmd::new("EXISTS")
                    .arg(digis_redis_core::keys::rate_limit_sliding_window("ip"))
                    .arg(digis_redis_core::keys::rate_limit_sliding_window("b"))
            )
            .unwrap()
            .as_int(),
        Some(0)
    );
}
