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

/// A key that belongs with `original` (same Redis Cluster slot): `{original}:suffix`.
pub fn companion(original: &str, suffix: &str) -> String {
    format!("{{{original}}}:{suffix}")
}

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

/// The original module's fixed-window counter; also our fixed-window state.
pub fn rate_limit(id: &str) -> String {
    format!("{RATE_LIMIT}{id}")
}

/// Token-bucket state, a hash: never the original's counter key, so old and new processes
/// side by side never meet a WRONGTYPE.
pub fn rate_limit_token_bucket(id: &str) -> String {
    companion(&rate_limit(id), "tb")
}

/// Sliding-window state, a hash.
pub fn rate_limit_sliding_window(id: &str) -> String {
    companion(&rate_limit(id), "sw")
}

pub fn otp(id: &str) -> String {
    format!("{OTP}{id}")
}

/// Wrong guesses against the code at `otp:<id>`.
pub fn otp_tries(id: &str) -> String {
    companion(&otp(id), "tries")
}

/// Viewers of a live stream: a sorted set of viewer ids scored by when they were last seen.
pub fn stream_viewers(id: &str) -> String {
    companion(&active_stream(id), "viewers")
}

/// A creator's availability (`online`, `busy`, `away`), expiring with its TTL.
pub fn creator_status(id: &str) -> String {
    companion(&creator(id), "status")
}

/// Set of creators with a status; pruned by readers when a status has expired.
pub const CREATOR_STATUS_INDEX: &str = "creator:index:status";

pub fn token_balance(id: &str) -> String {
    format!("{TOKEN}{id}")
}

/// A distributed lock (`locks.acquire`): holds its owner's random token, expiring with the lock.
pub fn lock(name: &str) -> String {
    format!("lock:{name}")
}

/// The lock's fencing counter. Never expires, so its tokens never go backwards.
pub fn lock_fence(name: &str) -> String {
    companion(&lock(name), "fence")
}

/// A claimed idempotency key (`idempotency.claim`).
pub fn idempotency(key: &str) -> String {
    format!("idempotency:{key}")
}

/// `cache.wrap`'s freshness marker for a value kept past its TTL to be served stale: present
/// while the value is fresh. Plain `cache.get` readers never look at it.
pub fn cache_fresh(key: &str) -> String {
    companion(key, "fresh")
}

/// `cache.wrap`'s short lock, held by the one instance loading (or refreshing) `key`.
pub fn cache_loading(key: &str) -> String {
    companion(key, "loading")
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
        assert_eq!(token_balance("9"), "token:9");
        assert!(!ACTIVE_STREAM_INDEX.starts_with(ACTIVE_STREAM_PREFIX));
    }

    #[test]
    fn companion_keys_share_the_original_keys_slot() {
        // The hash tag is the whole original key, which Redis Cluster hashes when it has no tag.
        assert_eq!(otp_tries("abc"), "{otp:abc}:tries");
        assert_eq!(rate_limit_token_bucket("1.2.3.4"), "{rate:1.2.3.4}:tb");
        assert_eq!(rate_limit_sliding_window("x"), "{rate:x}:sw");
        assert_eq!(stream_viewers("s"), "{stream:active:s}:viewers");
        assert_eq!(creator_status("7"), "{creator:7}:status");
        assert_eq!(lock_fence("jobs"), "{lock:jobs}:fence");
        assert_eq!(cache_fresh("page:1"), "{page:1}:fresh");
        assert_eq!(cache_loading("page:1"), "{page:1}:loading");
    }
}
