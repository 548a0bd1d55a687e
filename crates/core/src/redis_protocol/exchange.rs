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
    let value: redis::Value = to_redis_cmd(cmd)
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
    let mut pipe = redis::pipe();
    // Per-item errors come back as values instead of failing the whole batch.
    pipe.ignore_errors();
    if atomic {
        pipe.atomic();
    }
    for cmd in cmds {
        pipe.add_command(to_redis_cmd(cmd));
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
