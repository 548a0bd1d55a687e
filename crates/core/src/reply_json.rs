//! Replies as JSON text for the JS layer, which parses them with V8's JSON.parse (cheaper than
//! building JS values from Rust). Shapes follow the Upstash REST API: a pipeline is an array of
//! `{"result": X}` or `{"error": "...", "code": "..."}` items.

use serde_json::{json, Value};

use crate::{Reply, Result};

fn to_value(reply: &Reply) -> Value {
    match reply {
        Reply::Nil => Value::Null,
        Reply::Int(i) => json!(i),
        Reply::Bulk(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        Reply::Status(s) => Value::String((*s).to_string()),
        Reply::Array(items) => Value::Array(items.iter().map(to_value).collect()),
    }
}

pub fn reply_to_json(reply: &Reply) -> String {
    to_value(reply).to_string()
}

pub fn pipeline_to_json(items: &[Result<Reply>]) -> String {
    let items: Vec<Value> = items
        .iter()
        .map(|item| match item {
            Ok(reply) => json!({ "result": to_value(reply) }),
            Err(err) => json!({ "error": err.message, "code": err.kind.code() }),
        })
        .collect();
    Value::Array(items).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn nested_replies_become_json() {
        let reply = Reply::Array(vec![
            Reply::Int(3),
            Reply::Nil,
            Reply::bulk("a\"b"),
            Reply::ok(),
        ]);
        assert_eq!(reply_to_json(&reply), r#"[3,null,"a\"b","OK"]"#);
    }

    #[test]
    fn pipeline_items_keep_their_own_errors() {
        let items = vec![Ok(Reply::Int(1)), Err(Error::wrong_type())];
        assert_eq!(
            pipeline_to_json(&items),
            r#"[{"result":1},{"code":"ERR_COMMAND","error":"WRONGTYPE Operation against a key holding the wrong kind of value"}]"#
        );
    }
}
