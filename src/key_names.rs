//! Key names and TTLs the JS layer needs, built by core's `keys.rs`: JS never spells a key. It
//! joins one: an express store's record, `<prefix><id>`, with a caller-chosen prefix
//! (lib/express-stores.js), where a napi call per store call cost a sixth of its CPU.

use digis_redis_core::keys;
use napi_derive::napi;

/// `{ NAME: value, ... }` as JSON, in declaration order.
fn constants_json<V: std::fmt::Display>(pairs: &[(&str, V)], quote: bool) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(name, value)| {
            if quote {
                format!("\"{name}\":\"{value}\"")
            } else {
                format!("\"{name}\":{value}")
            }
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

/// `CACHE_PREFIXES`, as JSON.
#[napi]
pub fn cache_prefixes_json() -> String {
    constants_json(&keys::CACHE_PREFIXES, true)
}

/// The fixed key names and default prefixes the JS layer needs, as JSON.
#[napi]
pub fn key_names_json() -> String {
    constants_json(
        &[
            ("ANALYTICS_TOTALS", keys::ANALYTICS_TOTALS),
            ("SESSION_STORE_PREFIX", keys::SESSION_STORE_PREFIX),
            ("RATE_LIMIT_STORE_PREFIX", keys::RATE_LIMIT_STORE_PREFIX),
        ],
        true,
    )
}

/// The SCAN MATCH pattern for every key under `prefix`, glob characters escaped.
#[napi]
pub fn prefix_pattern(prefix: String) -> String {
    keys::prefix_pattern(&prefix)
}

/// A response cached by `cacheResponse` under `name`.
#[napi]
pub fn response_key(name: String) -> String {
    keys::response(&name)
}

/// The set of responses cached under `tag`.
#[napi]
pub fn response_tag_key(tag: String) -> String {
    keys::response_tag(&tag)
}

/// The creator read counts of one decay epoch.
#[napi]
pub fn creator_popularity_key(half_life_seconds: f64, epoch: f64) -> String {
    keys::creator_popularity(half_life_seconds, epoch)
}

/// A lock's fencing counter.
#[napi]
pub fn lock_fence_key(name: String) -> String {
    keys::lock_fence(&name)
}

/// `TTL` in seconds, as JSON.
#[napi]
pub fn ttl_json() -> String {
    constants_json(&keys::TTL, false)
}
