//! Redis Cluster hash slots: which slot a key lives in, and which slot a command addresses.
//!
//! redis-rs computes the same slot (`redis::cluster_routing::Slot::for_key`, checked below) but
//! keeps its number private, and its command routing (`RoutingInfo::for_routable`) is
//! crate-private: the slot numbers index our slot-to-master table (`owners.rs`) and the
//! companion-key tags (`keys.rs`), and a pipeline's commands are grouped by them.

use bytes::Bytes;

use crate::Cmd;

pub const SLOTS: u16 = 16384;

/// The hash tag of `key`: the text between the first `{` and the next `}`, when not empty.
pub fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &rest[..close])
}

/// The slot of `key`: only its hash tag is hashed when it has one, so `{otp:abc}:tries` lands
/// with `otp:abc`.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(hash_tag(key).unwrap_or(key)) % SLOTS
}

/// Where a command of a pipeline must go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Every key it names lives in this slot.
    Slot(u16),
    /// No single slot: keyless (PING), keys in several slots (MGET across slots, which the
    /// cluster client splits per slot), or keys in places we do not parse. Sent on its own and
    /// routed by the cluster client, which knows every command's key positions.
    Alone,
}

/// Commands without keys, or whose keys are not at argument 1.
const NOT_KEY_AT_ONE: &[&str] = &[
    "PING",
    "ECHO",
    "INFO",
    "DBSIZE",
    "TIME",
    "SCAN",
    "KEYS",
    "RANDOMKEY",
    "FLUSHDB",
    "FLUSHALL",
    "SCRIPT",
    "CONFIG",
    "CLUSTER",
    "CLIENT",
    "COMMAND",
    "DEBUG",
    "LASTSAVE",
    "MEMORY",
    "OBJECT",
    "PUBLISH",
    "SPUBLISH",
    "SELECT",
    "SLOWLOG",
    "FUNCTION",
    "WAIT",
    "LATENCY",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "HELLO",
    "AUTH",
    "QUIT",
    "READONLY",
    "READWRITE",
    "ROLE",
    "SAVE",
    "BGSAVE",
    "BGREWRITEAOF",
    "SWAPDB",
    "XREAD",
    "XREADGROUP",
    "BITOP",
    "ZUNION",
    "ZINTER",
    "ZDIFF",
    "SINTERCARD",
    "ZINTERCARD",
    "LMPOP",
    "BLMPOP",
    "ZMPOP",
    "BZMPOP",
    "MIGRATE",
    "SORT_RO",
    "GEORADIUS_RO",
    "ACL",
    "MODULE",
    "SHUTDOWN",
    "RESET",
];

/// Commands whose every argument after the name is a key.
const ALL_KEYS: &[&str] = &[
    "MGET", "DEL", "UNLINK", "EXISTS", "TOUCH", "SDIFF", "SINTER", "SUNION",
];

/// Commands of `key value` pairs.
const KEY_VALUE_PAIRS: &[&str] = &["MSET", "MSETNX"];

/// Scripts and functions: `<script> <numkeys> key… arg…`.
const NUMKEYS_AT_TWO: &[&str] = &[
    "EVAL",
    "EVALSHA",
    "EVAL_RO",
    "EVALSHA_RO",
    "FCALL",
    "FCALL_RO",
];

/// The one slot of `keys`, or `Alone` when they span several (or there are none).
fn common_slot<'a>(keys: impl IntoIterator<Item = &'a Bytes>) -> Placement {
    let mut slots = keys.into_iter().map(|k| key_slot(k));
    match slots.next() {
        Some(first) if slots.all(|s| s == first) => Placement::Slot(first),
        _ => Placement::Alone,
    }
}

pub fn placement(cmd: &Cmd) -> Placement {
    let parts = cmd.parts();
    let name = cmd.name();
    let name = name.as_str();
    if parts.len() < 2 || NOT_KEY_AT_ONE.contains(&name) {
        return Placement::Alone;
    }
    if ALL_KEYS.contains(&name) {
        return common_slot(&parts[1..]);
    }
    if KEY_VALUE_PAIRS.contains(&name) {
        return common_slot(parts[1..].iter().step_by(2));
    }
    if NUMKEYS_AT_TWO.contains(&name) {
        let numkeys = parts
            .get(2)
            .and_then(|n| std::str::from_utf8(n).ok())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        return match parts.get(3..3 + numkeys) {
            Some(keys) if numkeys > 0 => common_slot(keys),
            _ => Placement::Alone,
        };
    }
    Placement::Slot(key_slot(&parts[1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    #[test]
    fn slots_match_cluster_keyslot() {
        // Values answered by CLUSTER KEYSLOT on Redis 7.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"hello"), 866);
        assert_eq!(key_slot(b"otp:abc"), 16092);
        assert_eq!(key_slot(b"{user1000}.following"), 3443);
        assert_eq!(key_slot(b"user1000"), 3443);
        // An empty tag does not count: the whole key is hashed.
        assert_ne!(key_slot(b"{}foo"), key_slot(b""));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot_of_whole(b"foo{}{bar}"));
    }

    fn key_slot_of_whole(key: &[u8]) -> u16 {
        crc16::State::<crc16::XMODEM>::calculate(key) % SLOTS
    }

    /// Our slot numbers are redis-rs's, which routes the commands: on keys with and without
    /// tags, empty tags, unmatched and nested braces.
    #[test]
    fn slots_agree_with_redis_rs() {
        use redis::cluster_routing::Slot;
        let parts = ["", "{", "}", "{}", "a", "otp:", "{x}", "é", "}{", "42"];
        let mut checked = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    let key = format!("{a}{b}{c}");
                    let ours = Slot::new(key_slot(key.as_bytes())).unwrap();
                    assert_eq!(ours, Slot::for_key(key.as_bytes()), "{key:?}");
                    checked += 1;
                }
            }
        }
        for i in 0..20_000 {
            let key = format!("user:{i}:{{t{}}}", i % 97);
            let ours = Slot::new(key_slot(key.as_bytes())).unwrap();
            assert_eq!(ours, Slot::for_key(key.as_bytes()), "{key:?}");
            checked += 1;
        }
        assert!(checked > 20_000);
    }

    #[test]
    fn companion_keys_share_their_original_keys_slot() {
        let id = "a@b.c";
        assert_eq!(
            key_slot(keys::otp_tries(id).as_bytes()),
            key_slot(keys::otp(id).as_bytes())
        );
        assert_eq!(
            key_slot(keys::stream_viewers(id).as_bytes()),
            key_slot(keys::active_stream(id).as_bytes())
        );
        assert_eq!(
            key_slot(keys::rate_limit_sliding_window(id).as_bytes()),
            key_slot(keys::rate_limit(id).as_bytes())
        );
        assert_eq!(
            key_slot(keys::creator_status(id).as_bytes()),
            key_slot(keys::creator(id).as_bytes())
        );
    }

    #[test]
    fn commands_are_placed_by_their_keys() {
        let slot = |k: &str| Placement::Slot(key_slot(k.as_bytes()));
        assert_eq!(placement(&Cmd::from_line("GET foo")), slot("foo"));
        assert_eq!(placement(&Cmd::from_line("PING")), Placement::Alone);
        assert_eq!(placement(&Cmd::from_line("SCAN 0")), Placement::Alone);
        assert_eq!(placement(&Cmd::from_line("MGET foo bar")), Placement::Alone);
        assert_eq!(placement(&Cmd::from_line("MGET {t}a {t}b")), slot("t"));
        assert_eq!(placement(&Cmd::from_line("MSET {t}a 1 {t}b 2")), slot("t"));
        assert_eq!(
            placement(&Cmd::from_line("MSET {t}a foo {t}b bar")),
            slot("t")
        );
        assert_eq!(
            placement(&Cmd::from_line("EVALSHA abc 2 otp:x {otp:x}:tries 1")),
            slot("otp:x")
        );
        assert_eq!(
            placement(&Cmd::from_line("EVALSHA abc 0 arg")),
            Placement::Alone
        );
        assert_eq!(
            placement(&Cmd::from_line("EVAL s 2 foo bar")),
            Placement::Alone
        );
    }
}
