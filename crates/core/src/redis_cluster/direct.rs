//! A node asked on a connection of its own, outside the cluster client: what the cluster client
//! cannot be relied on for while it is stuck, or while it would wait on a stalled node.

use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};

use redis::{AsyncConnectionConfig, ConnectionInfo};

use crate::redact::Secrets;
use crate::redis_protocol::exchange::query;
use crate::{Cmd, Reply};

/// `cmd`'s reply from the node `settings` names, within `timeout` (connecting included); None
/// when it does not answer in time, or answers an error.
pub(super) async fn ask(
    settings: ConnectionInfo,
    cmd: &Cmd,
    secrets: &Secrets,
    timeout: Duration,
) -> Option<Reply> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    let asked = async {
        let client = redis::Client::open(settings).ok()?;
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .ok()?;
        query(&mut conn, cmd, secrets).await.ok()
    };
    tokio::time::timeout(timeout, asked).await.ok().flatten()
}

/// How long the seeds' check waits for more answers after the first one.
const MORE_ANSWERS: Duration = Duration::from_millis(50);

/// The seed URLs whose node answers a PING (the first to answer within `timeout`, and those
/// answering soon after it), in their order; all of them when none does (the cluster client
/// then reports why). redis-rs waits for every seed's connection check, without a reply
/// timeout: one stalled seed (a master stopped, say, whose replica took over) would hold every
/// new cluster connection forever. One answering seed is enough: the cluster client learns
/// every node from its slot map.
pub(super) async fn answering_seeds(
    urls: &[String],
    secrets: &Secrets,
    timeout: Duration,
) -> Vec<String> {
    let ping = Cmd::new("PING");
    let mut checks: FuturesUnordered<_> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let ping = &ping;
            async move {
                let settings = redis::Client::open(url.as_str())
                    .ok()?
                    .get_connection_info()
                    .clone();
                ask(settings, ping, secrets, timeout).await.map(|_| i)
            }
        })
        .collect();
    let mut answered = Vec::new();
    let mut until = None;
    loop {
        let next = match until {
            None => checks.next().await,
            Some(at) => match tokio::time::timeout_at(at, checks.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
        };
        match next {
            None => break,
            Some(Some(i)) => {
                answered.push(i);
                until.get_or_insert_with(|| tokio::time::Instant::now() + MORE_ANSWERS);
            }
            Some(None) => {}
        }
    }
    if answered.is_empty() {
        return urls.to_vec();
    }
    answered.sort_unstable();
    answered.into_iter().map(|i| urls[i].clone()).collect()
}
