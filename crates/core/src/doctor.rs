//! `digis-redis doctor`'s reading of a failed check: what the error text most likely means and
//! what to do. The texts it reads are made here in the core (its own errors, and those of
//! redis-rs, rustls and reqwest it passes on), so their meanings live beside them.

/// The variable holding a server backend's credentials, for a hint that names it.
fn credentials_variable(backend_kind: &str) -> &'static str {
    if backend_kind == "cluster" {
        "REDIS_CLUSTER_URLS"
    } else {
        "REDIS_URL"
    }
}

/// `word` in `text` with no letter, digit or `_` on either side (a regex's `\bword\b`).
fn has_word(text: &str, word: &str) -> bool {
    let is_word_byte = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    text.match_indices(word).any(|(at, _)| {
        let bytes = text.as_bytes();
        !is_word_byte(at.checked_sub(1).and_then(|i| bytes.get(i)))
            && !is_word_byte(bytes.get(at + word.len()))
    })
}

/// The Upstash client's words for a reply that is not the REST API's: `HTTP <status> with a
/// non-JSON body` or `... with an empty body`.
fn is_foreign_http_reply(text: &str) -> bool {
    text.match_indices("http ").any(|(at, _)| {
        let rest = &text[at + 5..];
        rest.len() >= 3
            && rest.as_bytes()[..3].iter().all(u8::is_ascii_digit)
            && [" with a non-json body", " with an empty body"]
                .iter()
                .any(|tail| rest[3..].starts_with(tail))
    })
}

/// What a failure most likely means, in plain words, or None when the text says nothing known.
/// `backend_kind` is the selected backend (`upstash`, `cluster`, `redis`, ...); `secure` whether
/// its URL asks for TLS (a timeout then most likely is a TLS handshake nobody answers).
pub fn failure_hint(message: &str, backend_kind: &str, secure: bool) -> Option<String> {
    // Every pattern is ASCII, matched without regard to case.
    let text = message.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|needle| text.contains(needle));
    let timed_out = any(&["timed out", "timeout"]);
    let hint = if any(&[
        "wrongpass",
        "invalid or missing auth token",
        "unauthorized",
        "unauthorised",
    ]) || has_word(&text, "401")
    {
        if backend_kind == "upstash" {
            "The server answered 401 Unauthorized: UPSTASH_REDIS_REST_TOKEN is not the token of this database (copy the REST token, not the read-only one, from the console).".to_string()
        } else {
            format!(
                "The server refused the credentials: the password (or user) in {} is wrong.",
                credentials_variable(backend_kind)
            )
        }
    } else if any(&[
        "noauth",
        "authentication required",
        "authenticationfailed",
        "invalid username-password",
    ]) {
        format!(
            "The server refused the credentials: the password (or user) in {} is wrong or missing.",
            credentials_variable(backend_kind)
        )
    } else if any(&["connection refused", "econnrefused"]) {
        "Nothing listens at that host and port: the server is down, or the URL has the wrong host or port.".to_string()
    } else if any(&[
        "dns error",
        "failed to lookup",
        "enotfound",
        "name or service not known",
        "no address associated",
    ]) {
        "The host name does not resolve: check the spelling of the host in the URL.".to_string()
    } else if any(&[
        "tls",
        "ssl",
        "certificate",
        "handshake",
        "invalidcontenttype",
        "corruptmessage",
        "unknownissuer",
    ]) {
        "The TLS handshake failed: https:// or rediss:// against a server without TLS (or the reverse), or a certificate the system does not trust.".to_string()
    } else if is_foreign_http_reply(&text) || any(&["redirect", "disabled"]) {
        "The URL answers HTTP but not with the Upstash REST API: REST may be disabled for this database, or the URL is not its REST URL.".to_string()
    } else if timed_out && secure {
        "No answer to the TLS handshake within the deadline: the server most likely does not speak TLS on that port (try redis:// or http://), or a firewall swallows the packets.".to_string()
    } else if timed_out {
        "No answer within the deadline: a firewall or wrong host that swallows packets, a TLS/plain mismatch (rediss:// or https:// against a plain server), or an overloaded server.".to_string()
    } else if any(&["circuit open"]) {
        "Earlier calls kept failing, so calls now fail fast; see the first failure above."
            .to_string()
    } else if any(&["unsupported", "unknown command"]) {
        "The server does not support a command this feature needs.".to_string()
    } else {
        return None;
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(message: &str, kind: &str) -> String {
        failure_hint(message, kind, false).unwrap_or_default()
    }

    #[test]
    fn credentials_name_the_variable_of_the_backend() {
        assert!(hint(
            "ERR_COMMAND: WRONGPASS invalid or missing auth token",
            "upstash"
        )
        .contains("401 Unauthorized"));
        assert!(hint("WRONGPASS invalid username-password pair", "redis")
            .contains("in REDIS_URL is wrong."));
        assert!(hint("NOAUTH Authentication required.", "cluster")
            .contains("in REDIS_CLUSTER_URLS is wrong or missing"));
        assert!(hint("HTTP 401 from the server", "upstash").contains("401 Unauthorized"));
        // 401 only as a word: a port or an id that contains it says nothing about credentials.
        assert_eq!(
            failure_hint("connect to 10.0.0.1:34015 failed", "redis", false),
            None
        );
    }

    #[test]
    fn transport_failures() {
        assert!(hint("Connection refused (os error 111)", "redis").starts_with("Nothing listens"));
        assert!(hint("dns error: failed to lookup address", "upstash")
            .starts_with("The host name does not resolve"));
        assert!(hint(
            "received corrupt message of type InvalidContentType",
            "redis"
        )
        .starts_with("The TLS handshake failed"));
        assert!(
            hint("ERR_PROTOCOL: HTTP 404 with a non-JSON body", "upstash")
                .starts_with("The URL answers HTTP")
        );
        assert!(hint("HTTP 200 with an empty body", "upstash").starts_with("The URL answers HTTP"));
        assert!(hint("call timed out after 5000 ms", "redis")
            .starts_with("No answer within the deadline"));
        assert!(failure_hint("call timed out", "redis", true)
            .unwrap()
            .starts_with("No answer to the TLS handshake"));
        assert!(
            hint("circuit open: failing fast", "redis").starts_with("Earlier calls kept failing")
        );
        assert!(hint("ERR unknown command 'EVALSHA_RO'", "redis")
            .starts_with("The server does not support"));
        assert_eq!(failure_hint("some other failure", "redis", false), None);
    }
}
