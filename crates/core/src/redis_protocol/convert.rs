//! redis-rs values and errors to and from ours.

use bytes::Bytes;

use crate::{Error, ErrorKind, Reply, Result};

/// The redis-rs command of `parts` (name first): a `Cmd`'s, or the rest-server's request.
pub fn to_redis_cmd<A: AsRef<[u8]>>(parts: &[A]) -> redis::Cmd {
    let mut out = redis::Cmd::new();
    for part in parts {
        out.arg(part.as_ref());
    }
    out
}

/// Status replies callers compare against; anything else becomes a bulk string.
fn status(text: &str) -> Reply {
    match text {
        "OK" => Reply::Status("OK"),
        "PONG" => Reply::Status("PONG"),
        "QUEUED" => Reply::Status("QUEUED"),
        "string" => Reply::Status("string"),
        "hash" => Reply::Status("hash"),
        "set" => Reply::Status("set"),
        "zset" => Reply::Status("zset"),
        "list" => Reply::Status("list"),
        "none" => Reply::Status("none"),
        other => Reply::Bulk(Bytes::copy_from_slice(other.as_bytes())),
    }
}

/// RESP2 shapes; RESP3-only types (maps, doubles, booleans) are flattened the way RESP2 sends them.
pub(crate) fn from_value(value: redis::Value) -> Result<Reply> {
    use redis::Value as V;
    Ok(match value {
        V::Nil => Reply::Nil,
        V::Int(i) => Reply::Int(i),
        V::BulkString(bytes) => Reply::Bulk(Bytes::from(bytes)),
        V::SimpleString(text) => status(&text),
        V::Okay => Reply::Status("OK"),
        V::Array(items) | V::Set(items) => Reply::Array(
            items
                .into_iter()
                .map(from_value)
                .collect::<Result<Vec<_>>>()?,
        ),
        V::Map(pairs) => {
            let mut flat = Vec::with_capacity(pairs.len() * 2);
            for (k, v) in pairs {
                flat.push(from_value(k)?);
                flat.push(from_value(v)?);
            }
            Reply::Array(flat)
        }
        V::Double(f) => Reply::Bulk(Bytes::from(f.to_string())),
        V::Boolean(b) => Reply::Int(i64::from(b)),
        V::VerbatimString { text, .. } => Reply::Bulk(Bytes::from(text)),
        V::ServerError(err) => {
            let text = match err.details() {
                Some(details) => format!("{} {}", err.code(), details),
                None => err.code().to_string(),
            };
            return Err(Error {
                server: err.kind(),
                ..Error::command(text)
            });
        }
        other => {
            return Err(Error::protocol(format!(
                "unexpected reply type from redis: {other:?}"
            )));
        }
    })
}

/// Server errors keep Redis's own text (`WRONGTYPE ...`, `NOSCRIPT ...`) for the caller to
/// read, and redis-rs's kind of it for the core to decide on.
/// A server's error line exactly as it sent it (`WRONGTYPE Operation against ...`).
pub fn server_error_text(code: &str, detail: Option<&str>) -> String {
    match detail {
        Some(detail) => format!("{code} {detail}"),
        None => code.to_string(),
    }
}

pub(crate) fn from_redis_error(err: &redis::RedisError) -> Error {
    if let Some(code) = err.code() {
        let text = server_error_text(code, err.detail());
        let server = match err.kind() {
            redis::ErrorKind::Server(kind) => Some(kind),
            _ => None,
        };
        return Error {
            server,
            ..Error::command(text)
        };
    }
    let kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else if err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || matches!(err.kind(), redis::ErrorKind::AuthenticationFailed)
    {
        ErrorKind::Connection
    } else {
        ErrorKind::Protocol
    };
    Error::new(kind, format!("redis: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cmd;

    #[test]
    fn values_become_resp2_replies() {
        use redis::Value as V;
        let value = V::Array(vec![
            V::Okay,
            V::Int(3),
            V::Nil,
            V::BulkString(b"x".to_vec()),
            V::SimpleString("PONG".into()),
            V::SimpleString("other".into()),
        ]);
        assert_eq!(
            from_value(value).unwrap(),
            Reply::Array(vec![
                Reply::ok(),
                Reply::Int(3),
                Reply::Nil,
                Reply::bulk("x"),
                Reply::Status("PONG"),
                Reply::bulk("other"),
            ])
        );
    }

    #[test]
    fn commands_keep_binary_arguments() {
        let cmd = Cmd::new("SET").arg("k").arg(vec![0xff, 0x00]);
        let packed = to_redis_cmd(cmd.parts()).get_packed_command();
        assert!(packed.windows(2).any(|w| w == [0xff, 0x00]));
    }

    #[test]
    fn server_errors_keep_their_text_and_their_typed_kind() {
        let reply = redis::parse_redis_value(b"-MOVED 3999 127.0.0.1:6381\r\n").unwrap();
        let err = from_value(reply).unwrap_err();
        assert_eq!(err.message, "MOVED 3999 127.0.0.1:6381");
        assert_eq!(err.server, Some(redis::ServerErrorKind::Moved));
        let noscript = redis::parse_redis_value(b"-NOSCRIPT No matching script.\r\n")
            .unwrap()
            .extract_error()
            .unwrap_err();
        let err = from_redis_error(&noscript);
        assert_eq!(err.message, "NOSCRIPT No matching script.");
        assert!(err.is_server(redis::ServerErrorKind::NoScript));
        // A code redis-rs does not know keeps its text, with no kind.
        let reply = redis::parse_redis_value(b"-WRONGTYPE Operation\r\n").unwrap();
        assert_eq!(from_value(reply).unwrap_err().server, None);
    }
}
