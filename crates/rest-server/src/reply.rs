//! Redis replies (RESP2 shapes) as the JSON Upstash answers with.

use base64::{engine::general_purpose::STANDARD, Engine};
pub use digis_redis_core::redis_protocol::convert::server_error_text;
use redis::Value;
use serde_json::Value as Json;

/// How strings in a result are written: `Upstash-Encoding: base64` asks for every string as
/// base64 of its bytes (the only way to carry binary values through JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Base64,
}

/// What one command produced: a reply, or the server's error text.
#[derive(Debug)]
pub enum Outcome {
    Reply(Value),
    Error(String),
}

impl Outcome {
    pub fn from_value(value: Value) -> Outcome {
        match value {
            Value::ServerError(err) => Outcome::Error(server_error_text(err.code(), err.details())),
            other => Outcome::Reply(other),
        }
    }

    /// About how many bytes its JSON takes (before base64 or escaping), to bound replies before
    /// they are built.
    pub fn size(&self) -> usize {
        match self {
            Outcome::Reply(value) => value_size(value),
            Outcome::Error(text) => text.len(),
        }
    }

    /// `{"result": X}` or `{"error": "..."}`, the shape of a pipeline item.
    pub fn to_item(&self, encoding: Encoding) -> Json {
        match self {
            Outcome::Reply(value) => serde_json::json!({ "result": result(value, encoding) }),
            Outcome::Error(text) => serde_json::json!({ "error": text }),
        }
    }
}

/// Payload bytes of `value` plus a few per element.
fn value_size(value: &Value) -> usize {
    const PER_ELEMENT: usize = 8;
    PER_ELEMENT
        + match value {
            Value::BulkString(bytes) => bytes.len(),
            Value::SimpleString(text) | Value::VerbatimString { text, .. } => text.len(),
            Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
                items.iter().map(value_size).sum()
            }
            Value::Map(pairs) => pairs
                .iter()
                .map(|(k, v)| value_size(k) + value_size(v))
                .sum(),
            Value::Attribute { data, .. } => value_size(data),
            _ => 16,
        }
}

/// A command's result. Upstash leaves a top-level `+OK` status unencoded even in base64 mode
/// (the official client special-cases it); everything nested is encoded.
pub fn result(value: &Value, encoding: Encoding) -> Json {
    match value {
        Value::Okay => Json::String("OK".into()),
        other => to_json(other, encoding),
    }
}

fn string(bytes: &[u8], encoding: Encoding) -> Json {
    Json::String(match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Base64 => STANDARD.encode(bytes),
    })
}

fn to_json(value: &Value, encoding: Encoding) -> Json {
    let list = |items: &[Value]| Json::Array(items.iter().map(|v| to_json(v, encoding)).collect());
    match value {
        Value::Nil => Json::Null,
        Value::Int(i) => Json::from(*i),
        Value::BulkString(bytes) => string(bytes, encoding),
        Value::SimpleString(text) => string(text.as_bytes(), encoding),
        Value::Okay => string(b"OK", encoding),
        Value::Array(items) | Value::Set(items) => list(items),
        Value::Push { data, .. } => list(data),
        // RESP2 shapes, should a RESP3 reply ever show up: maps flat, doubles as strings,
        // booleans as Lua converts them (true → 1, false → nil).
        Value::Map(pairs) => Json::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [to_json(k, encoding), to_json(v, encoding)])
                .collect(),
        ),
        Value::Attribute { data, .. } => to_json(data, encoding),
        Value::Double(f) => string(f.to_string().as_bytes(), encoding),
        Value::Boolean(true) => Json::from(1),
        Value::Boolean(false) => Json::Null,
        Value::VerbatimString { text, .. } => string(text.as_bytes(), encoding),
        // An error nested in an array (a Lua table holding an error reply): its text, never
        // encoded, like every error.
        Value::ServerError(err) => Json::String(server_error_text(err.code(), err.details())),
        other => match redis::from_redis_value::<Vec<u8>>(other.clone()) {
            Ok(bytes) => string(&bytes, encoding),
            Err(_) => Json::Null,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_strings_are_encoded_and_numbers_kept() {
        let value = Value::Array(vec![
            Value::BulkString(vec![0xff, 0, 0x80]),
            Value::Int(7),
            Value::Nil,
            Value::Array(vec![Value::SimpleString("PONG".into()), Value::Okay]),
        ]);
        assert_eq!(
            result(&value, Encoding::Base64).to_string(),
            r#"["/wCA",7,null,["UE9ORw==","T0s="]]"#
        );
        assert_eq!(
            result(&value, Encoding::Utf8).to_string(),
            "[\"\u{fffd}\\u0000\u{fffd}\",7,null,[\"PONG\",\"OK\"]]"
        );
        assert_eq!(result(&Value::Okay, Encoding::Base64), Json::from("OK"));
    }

    #[test]
    fn errors_keep_the_server_text() {
        assert_eq!(
            server_error_text("WRONGTYPE", Some("Operation against a key")),
            "WRONGTYPE Operation against a key"
        );
        assert_eq!(server_error_text("NOAUTH", None), "NOAUTH");
    }
}
