//! `--embedded`: commands run on the package's embedded store, in this process, with no Redis.
//! The package's own scripts (sent by EVALSHA, or EVAL with their source) run natively; any
//! other Lua is refused, as the embedded store has no Lua interpreter.

use bytes::Bytes;
use digis_redis_core::embedded::EmbeddedBackend;
use digis_redis_core::lua::{self, Script};
use digis_redis_core::pubsub::Event;
use digis_redis_core::{Backend as CoreBackend, Cmd, Error, ErrorKind, Reply};
use redis::Value;
use tokio::sync::mpsc;

use crate::backend::Transaction;
use crate::command::Args;
use crate::pubsub::Kind;
use crate::reply::Outcome;

pub struct EmbeddedStore {
    /// Its hub serves PUBLISH and the subscriptions of this server's clients.
    store: EmbeddedBackend,
}

/// A script call parsed from EVAL / EVALSHA: the script and its KEYS and ARGV.
struct ScriptCall {
    script: &'static Script,
    keys: Vec<Bytes>,
    args: Vec<Bytes>,
}

impl EmbeddedStore {
    pub fn new() -> EmbeddedStore {
        EmbeddedStore {
            store: EmbeddedBackend::new(),
        }
    }

    pub fn call(&self, args: &Args) -> Outcome {
        match script_call(args) {
            Some(Ok(call)) => outcome(self.store.run_script(
                call.script.name,
                &call.keys,
                &call.args,
            )),
            Some(Err(text)) => Outcome::Error(text),
            None => outcome(self.store.execute(&to_cmd(args))),
        }
    }

    pub fn pipeline(&self, commands: &[Args]) -> Vec<Outcome> {
        commands.iter().map(|args| self.call(args)).collect()
    }

    /// All commands under the store's lock, so no other request sees a partial state. Scripts
    /// cannot join one (the store runs them under the same lock, one at a time).
    pub async fn transaction(&self, commands: &[Args]) -> Transaction {
        if let Some(i) = commands.iter().position(|args| script_call(args).is_some()) {
            return Transaction::Discarded(format!(
                "EXECABORT Transaction discarded (command {}: ERR scripts inside MULTI are not \
                 supported by the embedded rest-server)",
                i + 1
            ));
        }
        let cmds: Vec<Cmd> = commands.iter().map(to_cmd).collect();
        match CoreBackend::pipeline(&self.store, cmds, true).await {
            Ok(items) => Transaction::Executed(items.into_iter().map(outcome).collect()),
            Err(err) => Transaction::Discarded(error_text(&err)),
        }
    }
}

impl EmbeddedStore {
    /// Subscribes on the store's hub; the subscription lasts until `events`' receiver is dropped.
    pub async fn subscribe(&self, kind: Kind, names: Vec<Bytes>, events: mpsc::Sender<Event>) {
        // The embedded store's subscribe cannot fail.
        let _ = CoreBackend::subscribe(&self.store, kind, names, events).await;
    }
}

fn to_cmd(args: &Args) -> Cmd {
    Cmd::from_parts(args.iter().map(|a| Bytes::copy_from_slice(a)).collect())
}

/// `EVAL source n keys… args…` or `EVALSHA sha1 n …` of one of the package's scripts; `None`
/// for any other command; an error line for other Lua or a malformed call.
fn script_call(args: &Args) -> Option<Result<ScriptCall, String>> {
    let name = args.first()?;
    let by_sha = if name.eq_ignore_ascii_case(b"EVALSHA") {
        true
    } else if name.eq_ignore_ascii_case(b"EVAL") {
        false
    } else {
        return None;
    };
    let lower = if by_sha { "evalsha" } else { "eval" };
    let (Some(body), true) = (args.get(1), args.len() >= 3) else {
        return Some(Err(format!(
            "ERR wrong number of arguments for '{lower}' command"
        )));
    };
    let found = if by_sha {
        lua::by_sha1(body)
    } else {
        lua::by_source(body)
    };
    let Some(script) = found else {
        return Some(Err(if by_sha {
            "NOSCRIPT No matching script. Please use EVAL.".to_string()
        } else {
            "ERR the embedded rest-server runs only digis-redis's own scripts (it has no Lua \
             interpreter); use --redis for other scripts"
                .to_string()
        }));
    };
    let rest = &args[2..];
    let count = rest
        .first()
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse::<usize>().ok());
    let Some(count) = count.filter(|&n| n < rest.len()) else {
        return Some(Err(
            "ERR Number of keys can't be greater than number of args".to_string(),
        ));
    };
    let bytes = |items: &[Vec<u8>]| items.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    Some(Ok(ScriptCall {
        script,
        keys: bytes(&rest[1..=count]),
        args: bytes(&rest[count + 1..]),
    }))
}

fn outcome(result: digis_redis_core::Result<Reply>) -> Outcome {
    match result {
        Ok(reply) => Outcome::Reply(to_value(reply)),
        Err(err) => Outcome::Error(error_text(&err)),
    }
}

/// The error line a client sees: Redis's own text for command errors (and a discarded
/// transaction), else `ERR <why>`.
fn error_text(err: &Error) -> String {
    if err.kind == ErrorKind::Command || err.message.starts_with("EXECABORT") {
        err.message.clone()
    } else {
        format!("ERR {}", err.message)
    }
}

fn to_value(reply: Reply) -> Value {
    match reply {
        Reply::Nil => Value::Nil,
        Reply::Int(n) => Value::Int(n),
        Reply::Bulk(bytes) => Value::BulkString(bytes.to_vec()),
        Reply::Status("OK") => Value::Okay,
        Reply::Status(text) => Value::SimpleString(text.to_string()),
        Reply::Array(items) => Value::Array(items.into_iter().map(to_value).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use digis_redis_core::lua::WINDOW_HITS;

    fn args(parts: &[&str]) -> Args {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    fn error_of(outcome: Outcome) -> String {
        match outcome {
            Outcome::Error(text) => text,
            Outcome::Reply(value) => panic!("expected an error, got {value:?}"),
        }
    }

    #[test]
    fn scripts_take_their_keys_and_args_as_redis_counts_them() {
        let store = EmbeddedStore::new();
        let sha = WINDOW_HITS.sha1();
        let hit = store.call(&args(&["evalsha", sha, "1", "rl:k", "1000", "1", "0"]));
        assert!(
            matches!(hit, Outcome::Reply(Value::Array(ref items)) if items[0] == Value::Int(1))
        );
        for bad in [
            vec!["EVALSHA", sha, "2", "rl:k"],
            vec!["EVALSHA", sha, "-1"],
        ] {
            assert_eq!(
                error_of(store.call(&args(&bad))),
                "ERR Number of keys can't be greater than number of args"
            );
        }
        assert_eq!(
            error_of(store.call(&args(&["EVAL"]))),
            "ERR wrong number of arguments for 'eval' command"
        );
        assert_eq!(
            error_of(store.call(&args(&["evalsha", sha]))),
            "ERR wrong number of arguments for 'evalsha' command"
        );
    }

    #[test]
    fn errors_read_as_redis_writes_them() {
        let store = EmbeddedStore::new();
        store.call(&args(&["SET", "k", "v"]));
        assert_eq!(
            error_of(store.call(&args(&["INCR", "k"]))),
            "ERR value is not an integer or out of range"
        );
        // What the embedded store lacks says so, as an ERR line.
        assert!(error_of(store.call(&args(&["SUBSCRIBE", "ch"])))
            .starts_with("ERR command 'SUBSCRIBE'"));
    }
}
