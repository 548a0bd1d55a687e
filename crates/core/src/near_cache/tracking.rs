//! Server-assisted invalidation: one RESP3 connection per server (per master on a cluster)
//! with `CLIENT TRACKING on BCAST`, so the server pushes the name of every key that changes,
//! expires or is evicted, and a null on a flush. BCAST rather than the default mode: it needs
//! nothing from the connections that carry the calls (their reconnects, and the cluster
//! client's, are not ours to hook), and it cannot miss a key read on any of them.
//!
//! The near cache serves only while every listener is up. A listener that drops, a PING that
//! fails, or (on a cluster) masters that change flush it, and it stays dark until tracking is
//! re-established everywhere: the server forgets a connection's tracking when it goes.

use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::{AsyncPushSender, MultiplexedConnection};
use redis::{AsyncConnectionConfig, ConnectionInfo, ProtocolVersion, PushInfo, PushKind, Value};
use tokio::sync::Notify;

use super::NearCache;
use crate::options::Timeouts;
use crate::redact::Secrets;
use crate::SharedBackend;

/// How often each listener is PINGed and the cluster's masters are compared: the longest a
/// silently broken connection (no RST) can go unnoticed, plus the call deadline.
const CHECK_EVERY: Duration = Duration::from_millis(500);
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// Keeps `near` fed with invalidations from `backend`'s servers until it is stopped or
/// dropped. Spawn it on the runtime the backend's calls run on.
pub async fn track(near: Weak<NearCache>, backend: SharedBackend, timeouts: Arc<Timeouts>) {
    let mut retry = FIRST_RETRY;
    loop {
        let Some(servers) = servers(&near, &backend).await else {
            return;
        };
        let outcome = match servers {
            Ok(servers) => listen(&near, &backend, &timeouts, servers).await,
            Err(why) => Err(why),
        };
        let Some(cache) = near.upgrade().filter(|n| !n.is_stopped()) else {
            return;
        };
        match outcome {
            // Was live, then lost: try again at once.
            Ok(()) => {
                cache.go_dark(None);
                retry = FIRST_RETRY;
            }
            Err(why) => {
                cache.go_dark(Some(why));
                drop(cache);
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
}

/// The servers to track, or `None` when tracking should end (stopped, dropped, or a backend
/// without a push channel).
async fn servers(
    near: &Weak<NearCache>,
    backend: &SharedBackend,
) -> Option<Result<Vec<ConnectionInfo>, String>> {
    if near.upgrade().is_none_or(|n| n.is_stopped()) {
        return None;
    }
    Some(backend.tracking_servers().await?.map_err(|e| e.to_string()))
}

fn addresses(servers: &[ConnectionInfo]) -> Vec<String> {
    let mut all: Vec<String> = servers.iter().map(|s| s.addr().to_string()).collect();
    all.sort();
    all
}

/// Opens a listener per server, goes live, and relays invalidations until one listener is
/// lost (`Ok`) or could not be opened (`Err`, the reason with secrets masked).
async fn listen(
    near: &Weak<NearCache>,
    backend: &SharedBackend,
    timeouts: &Timeouts,
    servers: Vec<ConnectionInfo>,
) -> Result<(), String> {
    let watched = addresses(&servers);
    // Pushes are applied where redis-rs reads them, with no hand-off to another task per push;
    // a lost listener only wakes this loop (a late one from an earlier round wakes nobody).
    let lost = Arc::new(Notify::new());
    let Some(round) = near.upgrade().map(|cache| cache.next_round()) else {
        return Ok(());
    };
    let relay = {
        let (near, lost) = (near.clone(), lost.clone());
        move |push: PushInfo| match near.upgrade() {
            Some(cache) => {
                if !apply(&cache, push) {
                    // Nothing is served from here on, before this loop even wakes.
                    cache.lose(round);
                    lost.notify_one();
                }
                Ok(())
            }
            None => Err(()),
        }
    };
    let relay: Arc<dyn AsyncPushSender> = Arc::new(relay);
    let Some(prefixes) = near.upgrade().map(|cache| cache.tracked_prefixes()) else {
        return Ok(());
    };
    let mut listeners = Vec::with_capacity(servers.len());
    for info in servers {
        let secrets = Secrets::new(info.redis_settings().password().map(str::to_owned));
        let opened = open_listener(info, timeouts, relay.clone(), prefixes.as_deref()).await;
        listeners.push(opened.map_err(|e| secrets.redact(&e.to_string()))?);
    }
    match near.upgrade() {
        // Namespaces changed while the listeners opened: track the new prefixes.
        Some(cache) if !cache.is_stopped() && cache.tracked_prefixes() == prefixes => {
            cache.go_live(round, watched.clone())
        }
        _ => return Ok(()),
    }
    loop {
        if near.upgrade().is_none_or(|cache| cache.is_stopped()) {
            return Ok(());
        }
        // Stopped, or its namespaces changed. The wait holds the cache for at most one check
        // period; a dropped one ends the loop at the next.
        let changed = async {
            if let Some(cache) = near.upgrade() {
                tokio::select! {
                    _ = cache.stop.notified() => {}
                    _ = cache.retrack.notified() => {}
                }
            }
        };
        tokio::select! {
            _ = lost.notified() => return Ok(()),
            _ = tokio::time::sleep(CHECK_EVERY) => {
                if !healthy(&mut listeners, timeouts).await {
                    return Ok(());
                }
                // A failover or resharding: the new masters know nothing of us.
                match backend.tracking_servers().await {
                    Some(Ok(now)) if addresses(&now) == watched => {}
                    _ => return Ok(()),
                }
            }
            _ = changed => return Ok(()),
        }
    }
}

async fn open_listener(
    info: ConnectionInfo,
    timeouts: &Timeouts,
    pushes: Arc<dyn AsyncPushSender>,
    prefixes: Option<&[String]>,
) -> redis::RedisResult<MultiplexedConnection> {
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let info = info.set_redis_settings(settings);
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeouts.connect()))
        .set_response_timeout(Some(timeouts.call()))
        .set_push_sender(pushes);
    let client = redis::Client::open(info)?;
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let mut tracking = redis::cmd("CLIENT");
    tracking.arg("TRACKING").arg("ON").arg("BCAST");
    for prefix in prefixes.unwrap_or_default() {
        tracking.arg("PREFIX").arg(prefix);
    }
    tracking.query_async::<()>(&mut conn).await?;
    Ok(conn)
}

/// Applies one push; `false` when it says a listener is gone.
fn apply(near: &NearCache, push: PushInfo) -> bool {
    match push.kind {
        PushKind::Invalidate => {
            match push.data.first() {
                Some(Value::Array(keys)) => {
                    near.heard(keys.len());
                    near.invalidate(keys.iter().filter_map(|key| match key {
                        Value::BulkString(key) => Some(key.as_slice()),
                        _ => None,
                    }))
                }
                // A null: the server flushed (FLUSHALL, FLUSHDB) or cannot say which keys.
                _ => {
                    near.heard(1);
                    near.invalidate_all()
                }
            }
            true
        }
        PushKind::Disconnection => false,
        _ => true,
    }
}

async fn healthy(listeners: &mut [MultiplexedConnection], timeouts: &Timeouts) -> bool {
    let cmd = redis::cmd("PING");
    for conn in listeners {
        let ping = cmd.query_async::<()>(conn);
        if !matches!(
            tokio::time::timeout(timeouts.call(), ping).await,
            Ok(Ok(()))
        ) {
            return false;
        }
    }
    true
}
