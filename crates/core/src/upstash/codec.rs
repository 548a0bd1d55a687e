//! JSON bodies to Upstash and replies back, as @upstash/redis exchanges them with
//! `Upstash-Encoding: base64`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use crate::redact::Secrets;
use crate::{Cmd, Error, ErrorKind, Reply, Result};

/// How much of a non-JSON body (an HTML error page from a proxy, say) an error message quotes.
const SNIPPET_CHARS: usize = 200;

/// `["SET","k","v"]`. JSON strings cannot carry arbitrary bytes and Upstash decodes request
/// strings as UTF-8, so a binary argument is refused rather than silently corrupted.
pub(super) fn encode_command(cmd: &Cmd) -> Result<Vec<u8>> {
    serde_json::to_vec(&command_strings(cmd)?).map_err(json_error)
}

/// `[["SET","k","v"],["GET","k"]]`, for /pipeline and /multi-exec.
pub(super) fn encode_batch(cmds: &[Cmd]) -> Result<Vec<u8>> {
    let batch = cmds
        .iter()
        .map(command_strings)
        .collect::<Result<Vec<_>>>()?;
    serde_json::to_vec(&batch).map_err(json_error)
}

fn command_strings(cmd: &Cmd) -> Result<Vec<&str>> {
    cmd.parts()
        .iter()
        .enumerate()
        .map(|(i, part)| {
            std::str::from_utf8(part).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "binary arguments are not supported over REST (argument {i} of {} is not valid UTF-8)",
                        cmd.name()
                    ),
                )
            })
        })
        .collect()
}

fn json_error(e: serde_json::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("could not encode JSON: {e}"))
}

/// The reply to a single command: `{"result": X}` or `{"error": "..."}`, whatever the HTTP status
/// (400 for a Redis error, 401 for a bad token, 500 from the local proxy).
pub(super) fn decode_reply(status: u16, body: &[u8], secrets: &Secrets) -> Result<Reply> {
    decode_envelope(parse(status, body, secrets)?, status, secrets)
}

/// The reply to a batch: one envelope per command, in order. A single `{"error"}` instead of the
/// array means the batch as a whole failed (bad token, or EXECABORT for /multi-exec).
pub(super) fn decode_batch(
    status: u16,
    body: &[u8],
    expected: usize,
    secrets: &Secrets,
) -> Result<Vec<Result<Reply>>> {
    match parse(status, body, secrets)? {
        Value::Array(items) if items.len() == expected => Ok(items
            .into_iter()
            .map(|item| decode_envelope(item, status, secrets))
            .collect()),
        Value::Array(items) => Err(Error::protocol(format!(
            "upstash answered {} replies to a batch of {expected} commands",
            items.len()
        ))),
        Value::Object(mut map) if map.contains_key("error") => {
            Err(failure(map.remove("error"), status, secrets))
        }
        _ => Err(Error::protocol(format!(
            "upstash answered HTTP {status} with JSON that is not a batch reply"
        ))),
    }
}

fn parse(status: u16, body: &[u8], secrets: &Secrets) -> Result<Value> {
    serde_json::from_slice(body).map_err(|_| {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Error::protocol(format!("upstash answered HTTP {status} with an empty body"));
        }
        Error::protocol(format!(
            "upstash answered HTTP {status} with a non-JSON body: {}",
            snippet(body, secrets)
        ))
    })
}

/// The start of a body, on one line, without secrets; enough to recognise a proxy's error page.
fn snippet(body: &[u8], secrets: &Secrets) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .take(SNIPPET_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(SNIPPET_CHARS).is_some() {
        out.push('…');
    }
    secrets.redact(&out)
}

fn decode_envelope(value: Value, status: u16, secrets: &Secrets) -> Result<Reply> {
    let Value::Object(mut map) = value else {
        return Err(Error::protocol(format!(
            "upstash answered HTTP {status} with JSON that is not a reply object"
        )));
    };
    if map.contains_key("error") {
        return Err(failure(map.remove("error"), status, secrets));
    }
    match map.remove("result") {
        Some(result) => decode_result(result),
        None => Err(Error::protocol(format!(
            "upstash answered HTTP {status} without a result or an error"
        ))),
    }
}

/// An `{"error"}` answer, to a command or to a whole batch. A 5xx is the REST service failing
/// (e.g. Redis behind it is unreachable), not the command: a connection problem, which the
/// circuit breaker counts.
fn failure(error: Option<Value>, status: u16, secrets: &Secrets) -> Error {
    let mut err = server_error(error, secrets);
    if status >= 500 {
        err.kind = crate::ErrorKind::Connection;
        err.server = None;
    }
    err
}

/// Redis error texts pass verbatim (`NOSCRIPT ...`, `WRONGTYPE ...`), minus any secret, with
/// the kind redis-rs gives the reply's code: the REST protocol sends errors as text, so this is
/// the one place their text is read.
fn server_error(error: Option<Value>, secrets: &Secrets) -> Error {
    let text = match error {
        Some(Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Error {
        server: server_kind(&text),
        ..Error::command(secrets.redact(&text))
    }
}

/// The kind of an error reply's code (its first word), as redis-rs reads it off the wire.
fn server_kind(text: &str) -> Option<redis::ServerErrorKind> {
    let code = text.split(' ').next()?;
    if code.is_empty() || code.bytes().any(|b| b == b'\r' || b == b'\n') {
        return None;
    }
    match redis::parse_redis_value(format!("-{code}\r\n").as_bytes()) {
        Ok(redis::Value::ServerError(err)) => err.kind(),
        _ => None,
    }
}

/// Every string is base64 at every depth, except a bare `"OK"` that Upstash leaves unencoded
/// (unambiguous: base64 text always has a length divisible by 4).
pub(super) fn decode_result(value: Value) -> Result<Reply> {
    Ok(match value {
        Value::Null => Reply::Nil,
        Value::String(text) if text == "OK" => Reply::ok(),
        Value::String(text) => Reply::Bulk(Bytes::from(STANDARD.decode(&text).map_err(|_| {
            Error::protocol(
                "upstash answered a string that is not base64 (was Upstash-Encoding ignored?)",
            )
        })?)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Reply::Int(i),
            // Redis sends floats as strings; a JSON float or a huge integer keeps its own text.
            None => Reply::Bulk(Bytes::from(n.to_string())),
        },
        Value::Array(items) => Reply::Array(
            items
                .into_iter()
                .map(decode_result)
                .collect::<Result<Vec<_>>>()?,
        ),
        // Not sent by Upstash; mapped the way Redis converts Lua booleans, to stay lenient.
        Value::Bool(true) => Reply::Int(1),
        Value::Bool(false) => Reply::Nil,
        Value::Object(_) => {
            return Err(Error::protocol(
                "upstash answered a JSON object inside a result",
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn secrets() -> Secrets {
        Secrets::new(["tok-secret".to_string()])
    }

    fn bulk(text: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn commands_are_json_string_arrays() {
        let cmd = Cmd::new("SET")
            .arg("k")
            .arg("vé \"q\"")
            .arg("EX")
            .arg(100u64);
        assert_eq!(
            String::from_utf8(encode_command(&cmd).unwrap()).unwrap(),
            r#"["SET","k","vé \"q\"","EX","100"]"#
        );
        let batch = encode_batch(&[Cmd::new("GET").arg("a"), Cmd::new("PING")]).unwrap();
        assert_eq!(
            String::from_utf8(batch).unwrap(),
            r#"[["GET","a"],["PING"]]"#
        );
    }

    #[test]
    fn binary_arguments_are_refused() {
        let cmd = Cmd::new("SET").arg("k").arg(vec![0xff, 0xfe]);
        let err = encode_command(&cmd).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert!(err.message.contains("argument 2 of SET"), "{}", err.message);
        assert!(encode_batch(&[Cmd::new("GET").arg("a"), cmd]).is_err());
    }

    #[test]
    fn strings_are_base64_at_every_depth() {
        let value = json!(["djE=", null, 42, -7, ["YQ==", ["Yg=="], null], "", 1.5]);
        assert_eq!(
            decode_result(value),
            Ok(Reply::Array(vec![
                bulk("v1"),
                Reply::Nil,
                Reply::Int(42),
                Reply::Int(-7),
                Reply::Array(vec![bulk("a"), Reply::Array(vec![bulk("b")]), Reply::Nil]),
                bulk(""),
                bulk("1.5"),
            ]))
        );
        // Bytes that are not UTF-8 survive.
        assert_eq!(
            decode_result(json!("//4=")),
            Ok(Reply::Bulk(Bytes::from_static(&[0xff, 0xfe])))
        );
    }

    #[test]
    fn ok_is_accepted_plain_or_encoded() {
        assert_eq!(decode_result(json!("OK")), Ok(Reply::ok()));
        assert_eq!(decode_result(json!("T0s=")), Ok(bulk("OK")));
    }

    #[test]
    fn a_string_that_is_not_base64_is_a_protocol_error() {
        for text in ["hello world", "abc", "PONG!"] {
            let err = decode_result(json!(text)).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Protocol, "{text}");
        }
        assert!(decode_result(json!(["YQ==", "not base64"])).is_err());
    }

    #[test]
    fn envelopes_map_to_results_and_verbatim_errors() {
        let s = secrets();
        assert_eq!(
            decode_reply(200, br#"{"result":"YQ=="}"#, &s),
            Ok(bulk("a"))
        );
        assert_eq!(decode_reply(200, br#"{"result":null}"#, &s), Ok(Reply::Nil));
        let err = decode_reply(400, br#"{"error":"NOSCRIPT No matching script."}"#, &s);
        assert_eq!(
            err,
            Err(Error::server(
                redis::ServerErrorKind::NoScript,
                "NOSCRIPT No matching script."
            ))
        );
        let err = decode_reply(200, br#"{"nothing":1}"#, &s).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol);
        let err = decode_reply(200, br#"[1]"#, &s).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol);
    }

    #[test]
    fn non_json_bodies_are_quoted_briefly_without_secrets() {
        let s = secrets();
        let body = format!("<html>tok-secret\n{}</html>", "x".repeat(5000));
        let err = decode_reply(502, body.as_bytes(), &s).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol);
        assert!(err
            .message
            .starts_with("upstash answered HTTP 502 with a non-JSON body: <html>*** x"));
        assert!(err.message.chars().count() < 300, "{}", err.message);
        let err = decode_reply(503, b"", &s).unwrap_err();
        assert_eq!(err.message, "upstash answered HTTP 503 with an empty body");
    }

    #[test]
    fn batches_keep_per_item_errors_and_check_the_length() {
        let s = secrets();
        let body = br#"[{"result":"T0s="},{"error":"WRONGTYPE Operation"},{"result":5}]"#;
        assert_eq!(
            decode_batch(200, body, 3, &s),
            Ok(vec![
                Ok(bulk("OK")),
                Err(Error::command("WRONGTYPE Operation")),
                Ok(Reply::Int(5)),
            ])
        );
        let err = decode_batch(200, body, 2, &s).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol);
        let err = decode_batch(
            400,
            br#"{"error":"EXECABORT Transaction discarded"}"#,
            2,
            &s,
        );
        assert_eq!(
            err,
            Err(Error::server(
                redis::ServerErrorKind::ExecAbort,
                "EXECABORT Transaction discarded"
            ))
        );
        let err = decode_batch(200, br#"{"result":1}"#, 1, &s).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol);
    }

    /// The rest-server answers 500 when its Redis is down. Found by the outage test: a batch so
    /// answered was reported as a command error, which the breaker ignores, so it never opened.
    #[test]
    fn a_failed_service_is_a_connection_problem_for_commands_and_batches() {
        let s = secrets();
        let body = br#"{"error":"ERR redis request failed: broken pipe"}"#;
        let err = decode_reply(500, body, &s).unwrap_err();
        assert_eq!((err.kind, err.server), (ErrorKind::Connection, None));
        let err = decode_batch(500, body, 3, &s).unwrap_err();
        assert_eq!((err.kind, err.server), (ErrorKind::Connection, None));
        let err = decode_batch(400, body, 3, &s).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Command);
    }
}
