//! Requests to commands: JSON bodies, path-style URLs, and the commands refused over REST.

use serde_json::value::RawValue;

/// One Redis command: name and arguments, as binary-safe bulk strings.
pub type Args = Vec<Vec<u8>>;

const SHAPE: &str =
    "expected a JSON array of strings, numbers or booleans, e.g. [\"SET\",\"k\",\"v\"]";

/// `POST /`: `["SET","k","v","EX",100]`.
pub fn parse_command(body: &[u8]) -> Result<Args, String> {
    let items: Vec<&RawValue> = parse_json(body)?;
    command_from(&items, "")
}

/// `POST /pipeline` and `POST /multi-exec`: an array of at most `max_commands` command arrays
/// (counted before any is decoded, so an oversized batch costs next to nothing).
pub fn parse_batch(body: &[u8], max_commands: usize) -> Result<Vec<Args>, String> {
    let items: Vec<&RawValue> = parse_json(body)?;
    if items.is_empty() {
        return Err("ERR empty pipeline: expected an array of command arrays".into());
    }
    if items.len() > max_commands {
        return Err(format!(
            "ERR pipeline too long: {} commands, at most {max_commands} per request; \
             split it into several requests",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let where_ = format!("command {}: ", i + 1);
            let parts: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
                format!("ERR {where_}not an array; expected an array of command arrays")
            })?;
            command_from(&parts, &where_)
        })
        .collect()
}

fn parse_json(body: &[u8]) -> Result<Vec<&RawValue>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(format!("ERR empty request body: {SHAPE}"));
    }
    let value: &RawValue =
        serde_json::from_slice(body).map_err(|e| format!("ERR malformed JSON body: {e}"))?;
    serde_json::from_str(value.get()).map_err(|_| format!("ERR invalid command: {SHAPE}"))
}

fn command_from(items: &[&RawValue], where_: &str) -> Result<Args, String> {
    if items.is_empty() {
        return Err(format!("ERR {where_}empty command: {SHAPE}"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            argument(raw).map_err(|what| format!("ERR {where_}argument {}: {what}", i + 1))
        })
        .collect()
}

/// A JSON scalar as the bulk string Upstash sends to Redis: a number keeps its own text.
fn argument(raw: &RawValue) -> Result<Vec<u8>, String> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text)
            .map(String::into_bytes)
            .map_err(|e| format!("invalid string ({e})")),
        Some(b'-' | b'0'..=b'9') => Ok(text.as_bytes().to_vec()),
        Some(b't') => Ok(b"true".to_vec()),
        Some(b'f') => Ok(b"false".to_vec()),
        Some(b'n') => Err("null is not a valid argument".into()),
        _ => {
            Err("nested arrays and objects are not valid arguments (send them as JSON text)".into())
        }
    }
}

/// Path style: `/set/k/v/EX/100` (percent-decoded segments) plus a non-empty POST body as the
/// last argument.
pub fn parse_path(path: &str, body: Option<&[u8]>) -> Result<Args, String> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    // A trailing slash is cosmetic (`/dbsize/`); empty segments elsewhere are empty arguments.
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let mut args: Args = trimmed
        .split('/')
        .map(|seg| percent_encoding::percent_decode_str(seg).collect())
        .collect();
    if args.first().is_none_or(|name| name.is_empty()) {
        return Err(format!(
            "ERR empty command: POST a JSON array to / or use /<command>/<arg>/... ({SHAPE})"
        ));
    }
    if let Some(body) = body.filter(|b| !b.is_empty()) {
        args.push(body.to_vec());
    }
    Ok(args)
}

/// Which commands a request may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// What a hosted service allows: data commands, not server administration.
    Hosted,
    /// Server administration too (`--allow-admin`).
    AllowAdmin,
}

/// `CLUSTER` subcommands that only read; every other one administers the cluster.
const CLUSTER_READS: &[&str] = &[
    "info",
    "nodes",
    "slots",
    "shards",
    "keyslot",
    "countkeysinslot",
    "getkeysinslot",
    "myid",
    "myshardid",
    "links",
    "help",
];

/// Why a command cannot run over REST, if it cannot: blocking commands would hold the shared
/// connection, connection-state commands would change it for every other request, and (unless
/// `policy` allows them) server administration is refused as hosted services refuse it.
pub fn refusal(args: &Args, policy: Policy) -> Option<String> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let arg_is = |i: usize, word: &str| {
        args.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    };
    if policy == Policy::Hosted && is_admin(&name, args) {
        return Some(format!(
            "ERR command '{name}' is not allowed: server administration is refused over REST, \
             as hosted Redis services refuse it (start rest-server with --allow-admin to allow it)"
        ));
    }
    let why = match name.as_str() {
        "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe"
        | "sunsubscribe" => "pub/sub needs a dedicated connection (PUBLISH works)",
        "monitor" | "sync" | "psync" | "replconf" => "it streams replies on its connection",
        "multi" | "exec" | "discard" | "watch" | "unwatch" => {
            "transactions go to POST /multi-exec with an array of commands"
        }
        "select" => "the database is chosen by the Redis URL",
        "quit" | "reset" | "hello" | "auth" => "it changes the state of the shared connection",
        "client"
            if [
                "reply", "tracking", "caching", "setname", "setinfo", "no-evict", "no-touch",
            ]
            .iter()
            .any(|sub| arg_is(1, sub)) =>
        {
            "it changes the state of the shared connection"
        }
        "blpop" | "brpop" | "brpoplpush" | "blmove" | "blmpop" | "bzpopmin" | "bzpopmax"
        | "bzmpop" | "wait" | "waitaof" => {
            "blocking commands would hold the shared connection; use the non-blocking form"
        }
        "xread" | "xreadgroup" if blocks_stream_read(args) => {
            "XREAD/XREADGROUP with BLOCK would hold the shared connection; drop BLOCK"
        }
        _ => return None,
    };
    Some(format!(
        "ERR command '{name}' is not supported over REST: {why}"
    ))
}

/// Server administration: what Upstash and the clouds' managed caches refuse. FLUSHALL,
/// FLUSHDB, SCRIPT, FUNCTION and INFO stay allowed: the official SDK and its users call them.
/// (MONITOR, SYNC and PSYNC are refused whatever the policy: they stream on their connection.)
fn is_admin(name: &str, args: &Args) -> bool {
    let sub = args
        .get(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase());
    let sub_in = |subs: &[&str]| sub.as_deref().is_some_and(|s| subs.contains(&s));
    match name {
        "acl" | "bgrewriteaof" | "bgsave" | "save" | "shutdown" | "debug" | "module"
        | "migrate" | "replicaof" | "slaveof" | "failover" | "swapdb" => true,
        "config" => sub_in(&["set", "rewrite", "resetstat"]),
        "client" => sub_in(&["kill", "pause", "unpause"]),
        "cluster" => !sub_in(CLUSTER_READS),
        _ => false,
    }
}

/// `BLOCK <ms>` among the options, which all come before `STREAMS`.
fn blocks_stream_read(args: &Args) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| !a.eq_ignore_ascii_case(b"streams"))
        .any(|a| a.eq_ignore_ascii_case(b"block"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &Args) -> Vec<String> {
        args.iter()
            .map(|a| String::from_utf8(a.clone()).unwrap())
            .collect()
    }

    #[test]
    fn scalars_keep_their_text() {
        let args = parse_command(br#"["SET","k","v","EX",100,1.5,-2e3,true,false]"#).unwrap();
        assert_eq!(
            strings(&args),
            ["SET", "k", "v", "EX", "100", "1.5", "-2e3", "true", "false"]
        );
        let big = parse_command(b"[\"INCRBY\",\"k\",12345678901234567890123]").unwrap();
        assert_eq!(strings(&big)[2], "12345678901234567890123");
    }

    #[test]
    fn bad_bodies_are_named() {
        assert!(parse_command(b"")
            .unwrap_err()
            .starts_with("ERR empty request body"));
        assert!(parse_command(b"[\"GET\"")
            .unwrap_err()
            .starts_with("ERR malformed JSON"));
        assert!(parse_command(b"{\"a\":1}")
            .unwrap_err()
            .starts_with("ERR invalid command"));
        assert!(parse_command(b"[]")
            .unwrap_err()
            .starts_with("ERR empty command"));
        assert!(parse_command(b"[\"GET\",null]")
            .unwrap_err()
            .contains("argument 2"));
        assert!(parse_command(b"[\"GET\",[1]]")
            .unwrap_err()
            .contains("nested"));
        assert!(parse_batch(b"[[\"PING\"],\"GET\"]", 10)
            .unwrap_err()
            .contains("command 2"));
        assert!(parse_batch(b"[]", 10)
            .unwrap_err()
            .starts_with("ERR empty pipeline"));
        assert_eq!(parse_batch(b"[[\"PING\"],[\"PING\"]]", 2).unwrap().len(), 2);
        assert_eq!(
            parse_batch(b"[[\"PING\"],[\"PING\"],[\"PING\"]]", 2).unwrap_err(),
            "ERR pipeline too long: 3 commands, at most 2 per request; split it into several \
             requests"
        );
    }

    #[test]
    fn path_segments_are_decoded() {
        let args = parse_path("/set/a%20b/%E2%82%AC/EX/100/", None).unwrap();
        assert_eq!(strings(&args), ["set", "a b", "€", "EX", "100"]);
        let args = parse_path("/set/k", Some(b"body")).unwrap();
        assert_eq!(strings(&args), ["set", "k", "body"]);
        assert!(parse_path("/", None).is_err());
    }

    fn cmd(parts: &[&str]) -> Args {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    fn refusal(args: &Args) -> Option<String> {
        super::refusal(args, Policy::Hosted)
    }

    #[test]
    fn administration_is_refused_unless_allowed() {
        let admins: &[&[&str]] = &[
            &["ACL", "SETUSER", "u"],
            &["acl", "list"],
            &["CONFIG", "SET", "maxmemory", "1"],
            &["config", "rewrite"],
            &["CONFIG", "RESETSTAT"],
            &["REPLICAOF", "h", "1"],
            &["SLAVEOF", "NO", "ONE"],
            &["MIGRATE", "h", "1", "k", "0", "1000"],
            &["CLIENT", "PAUSE", "1000"],
            &["client", "kill", "ID", "1"],
            &["SAVE"],
            &["BGSAVE"],
            &["BGREWRITEAOF"],
            &["SHUTDOWN", "NOSAVE"],
            &["DEBUG", "SLEEP", "1"],
            &["MODULE", "LOAD", "/x.so"],
            &["CLUSTER", "FAILOVER"],
            &["cluster", "reset", "hard"],
            &["FAILOVER"],
            &["SWAPDB", "0", "1"],
        ];
        for admin in admins {
            let why = refusal(&cmd(admin)).unwrap_or_else(|| panic!("{admin:?} is allowed"));
            assert!(why.contains("--allow-admin"), "{why}");
            let allowed = super::refusal(&cmd(admin), Policy::AllowAdmin);
            assert!(
                allowed
                    .as_deref()
                    .is_none_or(|w| !w.contains("--allow-admin")),
                "{admin:?}"
            );
        }
        let data_commands: &[&[&str]] = &[
            &["FLUSHALL"],
            &["FLUSHDB", "ASYNC"],
            &["INFO", "memory"],
            &["SCRIPT", "FLUSH"],
            &["FUNCTION", "LIST"],
            &["CONFIG", "GET", "maxmemory"],
            &["CLIENT", "ID"],
            &["CLUSTER", "KEYSLOT", "k"],
            &["cluster", "info"],
            &["DBSIZE"],
        ];
        for data in data_commands {
            assert_eq!(refusal(&cmd(data)), None, "{data:?}");
        }
    }

    #[test]
    fn connection_state_commands_are_refused() {
        assert!(refusal(&cmd(&["SUBSCRIBE", "c"])).is_some());
        assert!(refusal(&cmd(&["blpop", "l", "0"])).is_some());
        assert!(refusal(&cmd(&["CLIENT", "REPLY", "OFF"])).is_some());
        assert!(refusal(&cmd(&["CLIENT", "ID"])).is_none());
        assert!(refusal(&cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])).is_some());
        assert!(refusal(&cmd(&["XREAD", "STREAMS", "block", "0"])).is_none());
        assert!(refusal(&cmd(&["GET", "k"])).is_none());
    }
}
