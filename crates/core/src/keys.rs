//! Key names. Those the original module defines keep their exact names; companion keys take the
//! original key as a hash tag so that a script's keys share one Redis Cluster slot.

pub const USER: &str = "user:";
pub const SESSION: &str = "session:";
pub const TOKEN: &str = "token:";
pub const CREATOR: &str = "creator:";
pub const STREAM: &str = "stream:";
pub const RATE_LIMIT: &str = "rate:";
pub const EMAIL: &str = "email:";
pub const OTP: &str = "otp:";
pub const TEMP: &str = "temp:";

/// The `CACHE_PREFIXES` export, in the contract's order.
pub const CACHE_PREFIXES: [(&str, &str); 9] = [
    ("USER", USER),
    ("SESSION", SESSION),
    ("TOKEN", TOKEN),
    ("CREATOR", CREATOR),
    ("STREAM", STREAM),
    ("RATE_LIMIT", RATE_LIMIT),
    ("EMAIL", EMAIL),
    ("OTP", OTP),
    ("TEMP", TEMP),
];

/// The `TTL` export (seconds), in the contract's order.
pub const TTL: [(&str, u64); 5] = [
    ("SHORT", 300),
    ("MEDIUM", 1800),
    ("LONG", 3600),
    ("DAY", 86400),
    ("WEEK", 604800),
];

pub fn user(id: &str) -> String {
    format!("{USER}{id}")
}

pub fn session(id: &str) -> String {
    format!("{SESSION}{id}")
}

pub fn creator(id: &str) -> String {
    format!("{CREATOR}{id}")
}

pub const CREATOR_LIST: &str = "creator:list";

pub const ACTIVE_STREAM_PREFIX: &str = "stream:active:";

pub fn active_stream(id: &str) -> String {
    format!("{ACTIVE_STREAM_PREFIX}{id}")
}

/// Set of live stream ids, so `getAllActive` never walks the keyspace. Outside the
/// `stream:active:*` pattern, so the original module's `KEYS stream:active:*` never sees it.
pub const ACTIVE_STREAM_INDEX: &str = "stream:index:active";

pub fn rate_limit(id: &str) -> String {
    format!("{RATE_LIMIT}{id}")
}

pub fn otp(id: &str) -> String {
    format!("{OTP}{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_original_module() {
        assert_eq!(user("42"), "user:42");
        assert_eq!(session("abc"), "session:abc");
        assert_eq!(creator("7"), "creator:7");
        assert_eq!(active_stream("s1"), "stream:active:s1");
        assert_eq!(rate_limit("1.2.3.4"), "rate:1.2.3.4");
        assert_eq!(otp("a@b.c"), "otp:a@b.c");
        assert!(!ACTIVE_STREAM_INDEX.starts_with(ACTIVE_STREAM_PREFIX));
    }
}
