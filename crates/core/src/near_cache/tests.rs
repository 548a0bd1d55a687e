use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::embedded::EmbeddedBackend;
use crate::{Backend, Cmd};

fn settings(max_bytes: usize, max_entries: usize) -> NearSettings {
    NearSettings {
        max_bytes,
        max_entries,
        ..NearSettings::default()
    }
}

/// A tracked near cache whose invalidations flow.
fn live(max_bytes: usize, max_entries: usize) -> Arc<NearCache> {
    let near = NearCache::tracked(&settings(max_bytes, max_entries));
    near.go_live(near.next_round(), Vec::new());
    near
}

/// The placeholder a read of `key` issued now takes (`None`: a hit, or nothing may be stored).
fn begin(near: &NearCache, key: &[u8]) -> Option<Fill> {
    match near.read(key, NearSpace::Cache) {
        NearRead::Miss(fill) => fill,
        NearRead::Hit(_) => None,
    }
}

fn fill(near: &NearCache, key: &str, value: Option<&str>, pttl: i64) {
    let ticket = begin(near, key.as_bytes()).unwrap();
    near.complete_fill(
        key.as_bytes(),
        ticket,
        value.map(|v| Bytes::from(v.to_owned())),
        pttl,
    );
}

/// The entry as it stands, without taking a placeholder.
fn hit(near: &NearCache, key: &str) -> Option<Option<String>> {
    near.peek(key.as_bytes())
        .map(|value| value.map(|v| String::from_utf8(v.to_vec()).unwrap()))
}

#[test]
fn a_filled_read_is_answered_and_so_is_a_key_that_does_not_exist() {
    let near = live(1 << 20, 100);
    assert_eq!(hit(&near, "a"), None);
    fill(&near, "a", Some("{\"x\":1}"), -1);
    fill(&near, "missing", None, -2);
    let json = Bytes::from_static(b"{\"x\":1}");
    assert_eq!(near.read(b"a", NearSpace::Cache), NearRead::Hit(Some(json)));
    assert_eq!(near.read(b"missing", NearSpace::Cache), NearRead::Hit(None));
    let stats = near.stats();
    assert_eq!(stats.spaces[0].hits, 2);
    assert_eq!(
        stats.spaces[0].misses, 2,
        "the reads that took the placeholders"
    );
}

#[test]
fn a_change_while_the_get_is_on_its_way_keeps_the_old_value_out() {
    let near = live(1 << 20, 100);
    for change in ["invalidate", "forget", "flush", "dark"] {
        let ticket = begin(&near, b"k").unwrap();
        match change {
            "invalidate" => near.invalidate([&b"k"[..]]),
            "forget" => near.forget(b"k"),
            "flush" => near.invalidate_all(),
            _ => {
                near.go_dark(None);
                near.go_live(near.next_round(), Vec::new());
            }
        }
        near.complete_fill(b"k", ticket, Some(Bytes::from_static(b"old")), -1);
        assert_eq!(hit(&near, "k"), None, "after {change}");
    }
}

#[test]
fn two_reads_on_their_way_share_one_placeholder_and_a_later_read_replaces_a_stale_entry() {
    let near = live(1 << 20, 100);
    let first = begin(&near, b"k").unwrap();
    let second = begin(&near, b"k").unwrap();
    near.complete_fill(b"k", first, Some(Bytes::from_static(b"v1")), -1);
    // The second reply finds the entry filled: it stores nothing over it.
    near.complete_fill(b"k", second, Some(Bytes::from_static(b"v0")), -1);
    assert_eq!(hit(&near, "k"), Some(Some("v1".into())));
}

#[test]
fn nothing_is_served_or_stored_until_tracking_is_live() {
    let near = NearCache::tracked(&NearSettings::default());
    assert!(begin(&near, b"k").is_none());
    near.go_live(near.next_round(), Vec::new());
    fill(&near, "k", Some("v"), -1);
    near.go_dark(Some("connection lost".into()));
    assert_eq!(hit(&near, "k"), None);
    assert_eq!(near.stats().tracking, Tracking::Connecting);
    assert_eq!(near.stats().last_error.as_deref(), Some("connection lost"));
    near.go_live(near.next_round(), Vec::new());
    assert_eq!(
        hit(&near, "k"),
        None,
        "what was stored before the loss is gone"
    );
}

#[test]
fn bytes_and_entries_are_bounded_least_recently_used_first() {
    let value = "x".repeat(100);
    let per_entry = 1 + value.len() + store::ENTRY_OVERHEAD;
    let near = live(per_entry * 3, 100);
    for key in ["a", "b", "c"] {
        fill(&near, key, Some(&value), -1);
    }
    // A read makes `a` the most recently used.
    assert!(matches!(
        near.read(b"a", NearSpace::Cache),
        NearRead::Hit(_)
    ));
    fill(&near, "d", Some(&value), -1);
    assert_eq!(hit(&near, "b"), None, "b was the least recently used");
    assert!(hit(&near, "a").is_some() && hit(&near, "c").is_some() && hit(&near, "d").is_some());
    let stats = near.stats();
    assert!(stats.bytes <= per_entry * 3);
    assert_eq!(stats.evictions, 1);

    let near = live(1 << 20, 2);
    for key in ["a", "b", "c"] {
        fill(&near, key, Some("v"), -1);
    }
    assert_eq!(near.stats().entries, 2);
    assert_eq!(hit(&near, "a"), None);
}

#[test]
fn a_value_bigger_than_the_whole_bound_is_not_kept() {
    let near = live(1024, 100);
    fill(&near, "small", Some("v"), -1);
    fill(&near, "big", Some(&"x".repeat(2000)), -1);
    assert_eq!(hit(&near, "big"), None);
    assert!(hit(&near, "small").is_some());
    assert!(near.stats().bytes <= 1024);
}

#[test]
fn entries_end_with_the_server_ttl_and_the_staleness_bound() {
    let near = live(1 << 20, 100);
    fill(&near, "short", Some("v"), 30);
    fill(&near, "long", Some("v"), 60_000);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(hit(&near, "short"), None);
    assert!(hit(&near, "long").is_some());

    let bounded = NearCache::ttl_only(&NearSettings {
        max_staleness: Some(Duration::from_millis(30)),
        ..NearSettings::default()
    });
    fill(&bounded, "k", Some("v"), -1);
    assert!(hit(&bounded, "k").is_some());
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(hit(&bounded, "k"), None);
}

#[test]
fn namespaces_left_out_are_not_answered() {
    let near = NearCache::tracked(&NearSettings {
        spaces: vec![NearSpace::Users],
        ..NearSettings::default()
    });
    near.go_live(near.next_round(), Vec::new());
    assert!(near.answers(NearSpace::Users));
    assert!(!near.answers(NearSpace::Cache));
    assert!(begin(&near, b"k").is_none());
}

#[tokio::test]
async fn writes_sent_by_this_process_drop_their_keys_and_reads_do_not() {
    let slot = local_writes::NearSlot::default();
    let near = live(1 << 20, 100);
    *slot.write() = Some(near.clone());
    let backend = ForgetOnWrite::new(Arc::new(EmbeddedBackend::new()), slot);
    for key in ["a", "b", "c", "d", "e"] {
        fill(&near, key, Some("v"), -1);
    }
    backend.call(Cmd::new("GET").arg("a")).await.unwrap();
    backend.call(Cmd::new("PTTL").arg("a")).await.unwrap();
    assert!(hit(&near, "a").is_some(), "reads keep the entry");
    backend
        .call(Cmd::new("SET").arg("a").arg("1"))
        .await
        .unwrap();
    assert_eq!(hit(&near, "a"), None);
    backend
        .pipeline(vec![Cmd::new("del").arg("b").arg("c")], false)
        .await
        .unwrap();
    assert_eq!(hit(&near, "b"), None);
    assert_eq!(hit(&near, "c"), None);
    assert!(hit(&near, "d").is_some());
    backend
        .eval(
            &crate::lua::LOCK_RELEASE,
            vec![Bytes::from_static(b"d")],
            vec![Bytes::from_static(b"token")],
        )
        .await
        .unwrap();
    assert_eq!(hit(&near, "d"), None, "a script's keys");
    backend.call(Cmd::new("FLUSHALL")).await.unwrap();
    assert_eq!(hit(&near, "e"), None);
}

#[test]
fn a_reply_to_a_read_issued_before_a_write_is_never_kept_however_late_it_comes() {
    let near = live(1 << 20, 100);
    let before = begin(&near, b"k").unwrap();
    // The write is issued (its batch not sent yet), then another read.
    near.forget(b"k");
    let after = begin(&near, b"k").unwrap();
    assert_ne!(before, after);
    near.complete_fill(b"k", before, Some(Bytes::from_static(b"old")), -1);
    assert_eq!(
        hit(&near, "k"),
        None,
        "the older read saw the key before the write"
    );
    near.complete_fill(b"k", after, Some(Bytes::from_static(b"new")), -1);
    assert_eq!(hit(&near, "k"), Some(Some("new".into())));
}

#[test]
fn with_cache_prefixes_only_those_raw_keys_are_answered_and_tracked() {
    let near = NearCache::tracked(&NearSettings {
        cache_prefixes: Some(vec!["feed:".into(), "feed:hot:".into(), "profile:".into()]),
        ..NearSettings::default()
    });
    near.go_live(near.next_round(), Vec::new());
    assert!(begin(&near, b"feed:1").is_some());
    assert!(
        begin(&near, b"other:1").is_none(),
        "a raw key outside the prefixes"
    );
    // The covered `feed:hot:` goes (servers refuse overlapping prefixes); the namespaces' own
    // prefixes join the cache's.
    assert_eq!(
        near.tracked_prefixes().unwrap(),
        ["creator:", "feed:", "profile:", "session:", "token:", "user:"]
    );
    assert_eq!(
        live(1024, 10).tracked_prefixes(),
        None,
        "any raw key: every key"
    );
}

#[test]
fn a_lost_connection_darkens_its_own_round_only() {
    let near = NearCache::tracked(&NearSettings::default());
    let first = near.next_round();
    near.go_live(first, Vec::new());
    fill(&near, "k", Some("v"), -1);
    near.lose(first);
    assert_eq!(near.stats().tracking, Tracking::Connecting);
    assert_eq!(
        hit(&near, "k"),
        None,
        "nothing served once a connection is lost"
    );
    let second = near.next_round();
    near.go_live(second, Vec::new());
    fill(&near, "k", Some("v"), -1);
    // A late loss reported by a connection of the round before.
    near.lose(first);
    assert_eq!(near.stats().tracking, Tracking::Live);
    assert_eq!(hit(&near, "k"), Some(Some("v".into())));
}

#[test]
fn stats_name_the_servers_of_the_live_round_only() {
    let near = NearCache::tracked(&NearSettings::default());
    let servers = || near.stats().tracked_servers;
    assert!(servers().is_empty(), "connecting: none");
    let first = near.next_round();
    near.go_live(
        first,
        vec!["127.0.0.1:7000".into(), "127.0.0.1:7001".into()],
    );
    assert_eq!(servers(), ["127.0.0.1:7000", "127.0.0.1:7001"]);
    near.lose(first);
    assert!(servers().is_empty(), "lost: none");
    let second = near.next_round();
    near.go_live(second, vec!["127.0.0.1:7002".into()]);
    near.lose(first);
    assert_eq!(
        servers(),
        ["127.0.0.1:7002"],
        "a late loss of the round before"
    );
    near.go_dark(None);
    assert!(servers().is_empty(), "dark: none");
    near.go_live(near.next_round(), vec!["127.0.0.1:7002".into()]);
    near.stop();
    assert!(servers().is_empty(), "off: none");
}
