//! What the express adapters ask the core: the options their constructors refuse, and the
//! rate-limit key of an IPv6 client address.

use digis_redis_core::{client_address, express_options};
use napi_derive::napi;

/// The message refusing the options `owner` (`SessionStore`, `RateLimitStore`) does not take
/// among `given` (the options object's keys), or null.
#[napi]
pub fn refused_options(owner: String, given: Vec<String>) -> Option<String> {
    express_options::refused_options(&owner, &given)
}

/// `a:b:c:d00::/56` for an IPv6 address (its /56 prefix, what one subscriber holds), else
/// `unknown`.
#[napi]
pub fn ipv6_client_key(ip: String) -> String {
    client_address::ipv6_key(&ip)
}
