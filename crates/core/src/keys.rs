//! Key names, every one the package writes: the JS layer gets them from the binding and spells
//! none (it only joins an express store's caller-chosen prefix and id, `recordKey` in
//! lib/express-stores.js). Those the original module defines keep their exact names; companion
//! keys take the original key as a hash tag so that a script's keys share one Redis Cluster
//! slot.

use std::sync::OnceLock;

use crate::redis_cluster::slot::{hash_tag, key_slot, SLOTS};

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

/// A key that belongs with `original`, in its Redis Cluster slot on every backend:
/// - `original` has a hash tag (`{user:42}:profile`): it keeps it, `original:suffix`;
/// - otherwise `original` itself becomes the tag, `{original}:suffix`;
/// - unless it holds a `}` (`a}b`), which would cut that tag short: then a tag hashing to
///   the same slot, `{<slot tag>}:original:suffix` (see `slot_tag`); so does an empty name.
pub fn companion(original: &str, suffix: &str) -> String {
    if hash_tag(original.as_bytes()).is_some() {
        format!("{original}:{suffix}")
    } else if !original.is_empty() && !original.contains('}') {
        format!("{{{original}}}:{suffix}")
    } else {
        let tag = slot_tag(key_slot(original.as_bytes()));
        format!("{{{tag}}}:{original}:{suffix}")
    }
}

/// The companion name before names with braces got their slot's companion: `{original}:suffix`
/// whatever `original` held. Only where it differs from `companion`, for data to migrate.
fn legacy_companion(original: &str, suffix: &str) -> Option<String> {
    let legacy = format!("{{{original}}}:{suffix}");
    (legacy != companion(original, suffix)).then_some(legacy)
}

/// A short tag without braces whose slot is `slot`: the first of `0`…`z`, `00`…`zz`, … (base 36,
/// shortest first) that hashes there. This order is part of the key names: never change it.
fn slot_tag(slot: u16) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut tags = vec![String::new(); usize::from(SLOTS)];
        let mut missing = tags.len();
        let mut len = 1;
        while missing > 0 {
            let mut digits = vec![0usize; len];
            loop {
                let tag: String = digits.iter().map(|&d| char::from(DIGITS[d])).collect();
                let at = usize::from(key_slot(tag.as_bytes()));
                if tags[at].is_empty() {
                    tags[at] = tag;
                    missing -= 1;
                }
                // Next tag of this length, the last digit fastest.
                match digits.iter().rposition(|&d| d + 1 < DIGITS.len()) {
                    Some(i) => {
                        digits[i] += 1;
                        digits[i + 1..].fill(0);
                    }
                    None => break,
                }
            }
            len += 1;
        }
        tags
    });
    &tags[usize::from(slot)]
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

/// The lock's fencing counter, kept `features::FENCE_TTL_SECONDS` past the lock's last acquire.
pub fn lock_fence(name: &str) -> String {
    companion(&lock(name), "fence")
}

/// Where a lock name with braces kept its fencing counter before companions followed hash
/// tags (`{lock:{tenant}:job}:fence`): read and kept in step so tokens never go backwards.
/// `None` for names whose counter did not move.
pub fn legacy_lock_fence(name: &str) -> Option<String> {
    legacy_companion(&lock(name), "fence")
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

/// The hash every instance's `analytics.startFlushing` adds its counts to, unless given another.
pub const ANALYTICS_TOTALS: &str = "analytics:totals";

/// Reads of creator profiles in one decay epoch (a sorted set), per half-life: processes
/// configured with different half-lives keep separate rankings. Both numbers print as
/// JavaScript prints them (shortest round-trip decimal; the settings' range never reaches
/// exponent notation), so names stay those the JS layer wrote.
pub fn creator_popularity(half_life_seconds: f64, epoch: f64) -> String {
    format!("popularity:creators:{half_life_seconds}:{epoch}")
}

/// A response cached by the `cacheResponse` middleware under `name`.
pub fn response(name: &str) -> String {
    format!("response:{name}")
}

/// The responses cached under `tag`: a sorted set of their keys, scored by expiry.
pub fn response_tag(tag: &str) -> String {
    format!("response-tag:{tag}")
}

/// `SessionStore`'s default prefix: with it, `sessions.get(sid)` reads the store's records.
pub const SESSION_STORE_PREFIX: &str = SESSION;

/// `RateLimitStore`'s default prefix (rate-limit-redis's).
pub const RATE_LIMIT_STORE_PREFIX: &str = "rl:";

/// A SCAN MATCH pattern for every key that starts with `prefix`, and no other.
pub fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = glob_escape(prefix);
    pattern.push('*');
    pattern
}

/// `text` as a glob that matches only itself (Redis MATCH syntax).
pub fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '?' | '[' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
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
    fn keys_of_the_next_step_features_stay_as_first_stored() {
        assert_eq!(ANALYTICS_TOTALS, "analytics:totals");
        assert_eq!(
            creator_popularity(3600.0, 27_000.0),
            "popularity:creators:3600:27000"
        );
        assert_eq!(
            creator_popularity(0.01, 11_000_000_000.0),
            "popularity:creators:0.01:11000000000"
        );
        assert_eq!(creator_popularity(1.5, -1.0), "popularity:creators:1.5:-1");
        assert_eq!(response("GET:/a?b"), "response:GET:/a?b");
        assert_eq!(response_tag("users"), "response-tag:users");
        assert_eq!(SESSION_STORE_PREFIX, "session:");
        assert_eq!(RATE_LIMIT_STORE_PREFIX, "rl:");
        assert_eq!(prefix_pattern("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:*");
    }

    /// A prefix's pattern selects exactly the keys starting with it, whatever it holds (seeded).
    #[test]
    fn prefix_patterns_match_exactly_their_prefix() {
        use crate::embedded::glob::matches;
        use rand::{rngs::StdRng, Rng, SeedableRng};
        const PIECES: &[&str] = &["*", "?", "[", "]", "\\", "^", "-", "a", "b", ":", "é"];
        let mut rng = StdRng::seed_from_u64(17);
        let mut text = |max: usize| -> String {
            let len = rng.random_range(0..max);
            (0..len)
                .map(|_| PIECES[rng.random_range(0..PIECES.len())])
                .collect()
        };
        for _ in 0..20_000 {
            let (prefix, key) = (text(6), text(8));
            if prefix.is_empty() && key.is_empty() {
                // Redis's matcher never matches an empty string (SCAN special-cases `*`).
                continue;
            }
            let pattern = prefix_pattern(&prefix);
            assert!(
                matches(pattern.as_bytes(), format!("{prefix}{key}").as_bytes()),
                "{prefix:?} {key:?}"
            );
            assert_eq!(
                matches(pattern.as_bytes(), key.as_bytes()),
                key.starts_with(&prefix),
                "{prefix:?} {key:?}"
            );
        }
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

    #[test]
    fn names_with_a_hash_tag_keep_it() {
        assert_eq!(
            cache_loading("{user:42}:profile"),
            "{user:42}:profile:loading"
        );
        assert_eq!(lock_fence("{tenant}:job"), "lock:{tenant}:job:fence");
        assert_eq!(otp_tries("a{b}@x.com"), "otp:a{b}@x.com:tries");
        // An empty tag is no tag: the whole name is hashed, and becomes the tag.
        assert_eq!(
            cache_fresh("x{}y"),
            format!("{{{}}}:x{{}}y:fresh", slot_tag(key_slot(b"x{}y")))
        );
        assert_eq!(cache_fresh("a{b"), "{a{b}:fresh");
        // A `}` would end `{a}b}`'s tag at `a`: a tag of the name's slot instead.
        let tag = slot_tag(key_slot(b"a}b"));
        assert_eq!(cache_fresh("a}b"), format!("{{{tag}}}:a}}b:fresh"));
    }

    #[test]
    fn slot_tags_are_short_and_fixed() {
        for slot in 0..SLOTS {
            let tag = slot_tag(slot);
            assert!(!tag.is_empty() && tag.len() <= 4, "{slot}: {tag}");
            assert!(!tag.contains(['{', '}']));
            assert_eq!(key_slot(tag.as_bytes()), slot);
        }
        // Part of stored key names: these must never change.
        assert_eq!(slot_tag(key_slot(b"0")), "0");
        assert_eq!(slot_tag(key_slot(b"zz")), "zz");
    }

    /// slot(companion(k)) == slot(k) for random k, braces and all (a seeded generator, so a
    /// failure reproduces).
    #[test]
    fn every_companion_shares_its_names_slot() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        const PIECES: &[&str] = &[
            "{", "}", "{}", ":", "a", "b", "user", "42", "@", "é", "🦀", " ",
        ];
        let mut rng = StdRng::seed_from_u64(15);
        for _ in 0..50_000 {
            let len = rng.random_range(0..10);
            let name: String = (0..len)
                .map(|_| PIECES[rng.random_range(0..PIECES.len())])
                .collect();
            let companion = companion(&name, "fence");
            assert_eq!(
                key_slot(companion.as_bytes()),
                key_slot(name.as_bytes()),
                "{name:?} -> {companion:?}"
            );
            assert!(companion.ends_with(":fence"));
        }
    }

    #[test]
    fn only_names_whose_companion_moved_have_a_legacy_fence() {
        assert_eq!(legacy_lock_fence("jobs"), None);
        assert_eq!(
            legacy_lock_fence("{tenant}:job"),
            Some("{lock:{tenant}:job}:fence".to_string())
        );
        assert_eq!(
            legacy_lock_fence("a}b"),
            Some("{lock:a}b}:fence".to_string())
        );
    }
}
