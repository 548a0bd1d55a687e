//! Sending our commands over any redis-rs connection (one server or a cluster) and converting
//! the replies and errors, within the call deadline. Shared by both Redis protocol backends.

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionLike;

use super::convert::{from_redis_error, from_value, to_redis_cmd};
use crate::redact::{redact_url, Secrets};
use crate::{Cmd, Error, ErrorKind, Reply, Result};

/// A redis-rs error as ours, with every known secret masked.
pub(crate) fn redacted(err: &redis::RedisError, secrets: &Secrets) -> Error {
    let mut converted = from_redis_error(err);
    converted.message = secrets.redact(&converted.message);
    converted
}

/// Checks the scheme of a `redis://` / `rediss://` URL named by `variable`; answers its display
/// form (password masked) and the secrets to mask in later errors.
pub(crate) fn checked_url(url: &str, variable: &str) -> Result<(String, Secrets)> {
    let display_url = redact_url(url);
    let secrets = Secrets::of_url(url);
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{variable} must start with redis:// or rediss://, got {display_url}"),
        ));
    }
    Ok((display_url, secrets))
}

/// `work` within `budget`, the whole deadline of one public call (connecting, redirects,
/// retries and the reply).
pub(crate) async fn within_deadline<T>(
    budget: Duration,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(budget, work)
        .await
        .unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Timeout,
                format!("redis call timed out after {} ms", budget.as_millis()),
            ))
        })
}

pub(crate) async fn query<C: ConnectionLike + Send>(
    conn: &mut C,
    cmd: &Cmd,
    secrets: &Secrets,
) -> Result<Reply> {
    let value: redis::Value = to_redis_cmd(cmd.parts())
        .query_async(conn)
        .await
        .map_err(|e| redacted(&e, secrets))?;
    from_value(value)
}

/// `cmds` as one pipeline (MULTI/EXEC when `atomic`); per-item errors stay per item.
pub(crate) async fn query_pipeline<C: ConnectionLike + Send>(
    conn: &mut C,
    cmds: &[Cmd],
    atomic: bool,
    secrets: &Secrets,
) -> Result<Vec<Result<Reply>>> {
    if cmds.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    // Per-item errors come back as values instead of failing the whole batch.
    pipe.ignore_errors();
    if atomic {
        pipe.atomic();
    }
    for cmd in cmds {
        pipe.add_command(to_redis_cmd(cmd.parts()));
    }
    let values: Vec<redis::Value> = pipe
        .query_async(conn)
        .await
        .map_err(|e| redacted(&e, secrets))?;
    if values.len() != cmds.len() {
        return Err(Error::protocol(format!(
            "pipeline of {} commands answered {} replies",
            cmds.len(),
            values.len()
        )));
    }
    Ok(values.into_iter().map(from_value).collect())
}

/// A pub/sub connection of its own to the server `client` names: subscribes `names`, confirms
/// them, then forwards messages to `events` until its receiver is dropped (the connection is
/// then dropped, which unsubscribes), Redis closes the connection, or the reader falls
/// `pubsub::QUEUE` events behind.
pub async fn subscribe_on(
    client: &redis::Client,
    connect_timeout: std::time::Duration,
    kind: crate::pubsub::Kind,
    names: Vec<bytes::Bytes>,
    events: tokio::sync::mpsc::Sender<crate::pubsub::Event>,
    secrets: &Secrets,
) -> Result<()> {
    use crate::pubsub::{confirmations, Event, Kind};
    use futures_util::StreamExt;

    let mut conn = tokio::time::timeout(connect_timeout, client.get_async_pubsub())
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                "redis: connecting for pub/sub timed out",
            )
        })?
        .map_err(|e| redacted(&e, secrets))?;
    for name in &names {
        let subscribed = match kind {
            Kind::Channels => conn.subscribe(name.as_ref()).await,
            Kind::Patterns => conn.psubscribe(name.as_ref()).await,
        };
        subscribed.map_err(|e| redacted(&e, secrets))?;
    }
    for confirmation in confirmations(&names) {
        if events.try_send(confirmation).is_err() {
            return Ok(());
        }
    }
    tokio::spawn(async move {
        let mut messages = conn.into_on_message();
        loop {
            let msg = tokio::select! {
                _ = events.closed() => break,
                msg = messages.next() => match msg {
                    Some(msg) => msg,
                    None => break,
                },
            };
            let pattern = msg
                .from_pattern()
                .then(|| msg.get_pattern::<Vec<u8>>().ok())
                .flatten()
                .map(bytes::Bytes::from);
            let event = Event::Message {
                pattern,
                channel: bytes::Bytes::copy_from_slice(msg.get_channel_name().as_bytes()),
                payload: bytes::Bytes::copy_from_slice(msg.get_payload_bytes()),
            };
            if events.try_send(event).is_err() {
                break;
            }
        }
    });
    Ok(())
}
