//! A node asked on a connection of its own, outside the cluster client: what the cluster client
//! cannot be relied on for while it is stuck, or while it would wait on a stalled node.

use std::time::Duration;

use futures_util::stream::{FuturesUnordered, Stream, StreamExt};

use redis::{AsyncConnectionConfig, ConnectionInfo};

use crate::redact::Secrets;
use crate::redis_protocol::exchange::query;
use crate::{Cmd, Reply};

/// `cmd`'s reply from the node `settings` names, within `timeout` (connecting included); None
/// when it does not answer in time, or answers an error.
async fn ask(
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

/// `cmd` asked of every one of `nodes` at once, each on a connection of its own: the replies as
/// they come, with the index of the node that gave each.
pub(super) fn answers<'a>(
    nodes: impl IntoIterator<Item = ConnectionInfo>,
    cmd: &'a Cmd,
    secrets: &'a Secrets,
    timeout: Duration,
) -> impl Stream<Item = (usize, Reply)> + Unpin + 'a {
    nodes
        .into_iter()
        .enumerate()
        .map(|(i, settings)| async move { Some((i, ask(settings, cmd, secrets, timeout).await?)) })
        .collect::<FuturesUnordered<_>>()
        .filter_map(std::future::ready)
}

/// How long the seeds' check waits for more answers after the first one.
const MORE_ANSWERS: Duration = Duration::from_millis(50);

/// The seeds whose node answers a PING (the first to answer within `timeout`, and those
/// answering soon after it), in their order; all of them when none does (the cluster client
/// then reports why). redis-rs waits for every seed's connection check, without a reply
/// timeout: one stalled seed (a master stopped, say, whose replica took over) would hold every
/// new cluster connection forever. One answering seed is enough: the cluster client learns
/// every node from its slot map.
pub(super) async fn answering_seeds(
    seeds: &[ConnectionInfo],
    secrets: &Secrets,
    timeout: Duration,
) -> Vec<ConnectionInfo> {
    let ping = Cmd::new("PING");
    let mut pongs = answers(seeds.iter().cloned(), &ping, secrets, timeout);
    let Some((first, _)) = pongs.next().await else {
        return seeds.to_vec();
    };
    let mut answered = vec![first];
    let more = async {
        while let Some((i, _)) = pongs.next().await {
            answered.push(i);
        }
    };
    let _ = tokio::time::timeout(MORE_ANSWERS, more).await;
    answered.sort_unstable();
    answered.into_iter().map(|i| seeds[i].clone()).collect()
}
