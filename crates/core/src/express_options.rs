//! The options the express adapters' constructors take, and what they refuse: a misspelt
//! option silently ignored is a bug found in production, so every unknown one is named.

/// Why the peers' connection options are refused.
const NOT_NEEDED: &str = "not needed: the store uses the backend this package is configured with";

/// What `SessionStore` takes: connect-redis's options (but `client`), and express-session's module.
const SESSION_STORE: [&str; 7] = [
    "prefix",
    "ttl",
    "serializer",
    "disableTouch",
    "disableTTL",
    "scanCount",
    "session",
];

/// What `RateLimitStore` takes: rate-limit-redis's options (but `sendCommand`), and failClosed.
const RATE_LIMIT_STORE: [&str; 3] = ["prefix", "resetExpiryOnChange", "failClosed"];

/// The options `owner` takes, and the peers' options it explains refusing.
fn options_of(owner: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match owner {
        "SessionStore" => (&SESSION_STORE, &["client"]),
        "RateLimitStore" => (&RATE_LIMIT_STORE, &["sendCommand", "client"]),
        _ => (&[], &[]),
    }
}

/// The message refusing the options of `given` (in order) that `owner` does not take, or None
/// when it takes them all.
pub fn refused_options(owner: &str, given: &[String]) -> Option<String> {
    let (known, peers) = options_of(owner);
    let unknown: Vec<&String> = given
        .iter()
        .filter(|name| !known.contains(&name.as_str()))
        .collect();
    if unknown.is_empty() {
        return None;
    }
    let reasons: Vec<String> = unknown
        .iter()
        .map(|name| match peers.contains(&name.as_str()) {
            true => format!("{name} ({NOT_NEEDED})"),
            false => name.to_string(),
        })
        .collect();
    let plural = if unknown.len() > 1 { "s" } else { "" };
    Some(format!(
        "{owner} does not take the option{plural} {}; it takes {}",
        reasons.join(", "),
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::refused_options;

    fn refused(owner: &str, given: &[&str]) -> Option<String> {
        let given: Vec<String> = given.iter().map(|name| name.to_string()).collect();
        refused_options(owner, &given)
    }

    #[test]
    fn unknown_options_are_named_and_peers_explained() {
        assert_eq!(refused("RateLimitStore", &["prefix", "failClosed"]), None);
        assert_eq!(
            refused("RateLimitStore", &["sendCommand", "windowMs"]).unwrap(),
            "RateLimitStore does not take the options sendCommand (not needed: the store uses the backend this package is configured with), windowMs; it takes prefix, resetExpiryOnChange, failClosed"
        );
        assert_eq!(
            refused("SessionStore", &["prefx"]).unwrap(),
            "SessionStore does not take the option prefx; it takes prefix, ttl, serializer, disableTouch, disableTTL, scanCount, session"
        );
    }
}
