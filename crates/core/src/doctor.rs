//! `digis-redis doctor`'s rules (lib/doctor.js runs the checks through the public API): what the
//! environment selects, for display with secrets masked, and notes on what looks wrong; the
//! reading of a failed check (what the error text most likely means and what to do: the texts it
//! reads are made here in the core, its own errors and those of redis-rs, rustls and reqwest it
//! passes on); and the report as text.

use serde_json::Value;
use url::Url;

use crate::environment::{self, Lookup, Selection, BACKEND_OPTIONS};
use crate::redact::{self, Secrets};

/// What the environment selects, as `doctor` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub kind: &'static str,
    /// Which variables made the choice.
    pub variables: String,
    /// The URL (a cluster's seeds joined), credentials masked.
    pub url: Option<String>,
    /// The token described, never shown.
    pub token: Option<String>,
    /// Whether the (first) URL asks for TLS.
    pub secure: bool,
    /// The backend options set, as `VARIABLE=value`.
    pub options: Vec<String>,
    pub notes: Vec<String>,
}

/// `url` with its credentials masked, by the core's one rule; unparseable text is not echoed.
pub fn mask_url(url: &str) -> String {
    match redact::redact_url(url) {
        masked if masked == "<unparseable url>" => "(not a valid URL)".to_string(),
        masked => masked.strip_suffix('/').map(String::from).unwrap_or(masked),
    }
}

/// Whether `url` speaks `scheme` (one without TLS) to another machine; an unparseable URL is left
/// to the connection check.
fn plain_to_remote(url: &str, scheme: &str) -> bool {
    Url::parse(url).is_ok_and(|url| {
        url.scheme() == scheme
            && !matches!(
                url.host_str(),
                Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
            )
    })
}

const EMBEDDED_NOTE: &str = "No UPSTASH_REDIS_REST_URL/UPSTASH_REDIS_REST_TOKEN, REDIS_CLUSTER_URLS or REDIS_URL: the embedded in-process store. Each process has its own data, lost on exit; fine for tests and local work, not for production.";

/// What the environment selects, and notes on what looks wrong (ignored variables, half an
/// Upstash configuration, no TLS to a remote host).
pub fn describe_environment(vars: Lookup) -> crate::Result<Description> {
    let selection = environment::select_backend(vars)?;
    let is_set = |name: &str| vars(name).is_some_and(|value| !value.is_empty());
    let mut notes = Vec::new();
    let (variables, url, token, first_url) = match &selection {
        Selection::Upstash { url, token } => {
            let via_kv = !(is_set("UPSTASH_REDIS_REST_URL") && is_set("UPSTASH_REDIS_REST_TOKEN"));
            if is_set("REDIS_URL") {
                notes.push("REDIS_URL is also set and ignored: Upstash REST wins when its URL and token are both set.".to_string());
            }
            if plain_to_remote(url, "http") {
                notes.push("The REST URL is plain http:// to a remote host: the token crosses the network unencrypted. Use https://.".to_string());
            }
            let variables = if via_kv {
                "KV_REST_API_URL + KV_REST_API_TOKEN"
            } else {
                "UPSTASH_REDIS_REST_URL + UPSTASH_REDIS_REST_TOKEN"
            };
            let token = format!("set, {} characters (hidden)", token.encode_utf16().count());
            (
                variables.to_string(),
                Some(mask_url(url)),
                Some(token),
                url.as_str(),
            )
        }
        Selection::Cluster { urls } => {
            if is_set("REDIS_URL") {
                notes.push(
                    "REDIS_URL is also set and ignored: REDIS_CLUSTER_URLS wins over it."
                        .to_string(),
                );
            }
            if urls.iter().any(|url| plain_to_remote(url, "redis")) {
                notes.push("A cluster seed is redis:// to a remote host: no TLS. Most hosted Redis wants rediss://.".to_string());
            }
            let shown: Vec<String> = urls.iter().map(|url| mask_url(url)).collect();
            (
                "REDIS_CLUSTER_URLS".to_string(),
                Some(shown.join(", ")),
                None,
                urls[0].as_str(),
            )
        }
        Selection::Redis { url } => {
            let has_url = is_set("UPSTASH_REDIS_REST_URL") || is_set("KV_REST_API_URL");
            let has_token = is_set("UPSTASH_REDIS_REST_TOKEN") || is_set("KV_REST_API_TOKEN");
            if has_url || has_token {
                let (set, missing) = if has_url {
                    ("URL", "token")
                } else {
                    ("token", "URL")
                };
                notes.push(format!(
                    "An Upstash REST {set} is set without its {missing}: Upstash is not used."
                ));
            }
            if plain_to_remote(url, "redis") {
                notes.push("REDIS_URL is redis:// to a remote host: no TLS. Most hosted Redis wants rediss://.".to_string());
            }
            (
                "REDIS_URL".to_string(),
                Some(mask_url(url)),
                None,
                url.as_str(),
            )
        }
        Selection::Unconfigured => {
            notes.push(
                environment::UNCONFIGURED_ERROR
                    .trim_start_matches("[digis-redis] ")
                    .to_string(),
            );
            ("none set, NODE_ENV=production".to_string(), None, None, "")
        }
        Selection::Embedded => {
            notes.push(EMBEDDED_NOTE.to_string());
            let opted_in = vars("DIGIS_REDIS_EMBEDDED").as_deref() == Some("1");
            let variables = if opted_in {
                "none set, DIGIS_REDIS_EMBEDDED=1"
            } else {
                "none set"
            };
            (variables.to_string(), None, None, "")
        }
    };
    let scheme = first_url
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let secure = first_url.contains(':') && (scheme == "rediss" || scheme == "https");
    let options = BACKEND_OPTIONS
        .iter()
        .filter_map(|spec| {
            vars(spec.variable)
                .filter(|v| !v.is_empty())
                .map(|v| format!("{}={v}", spec.variable))
        })
        .collect();
    Ok(Description {
        kind: selection.kind(),
        variables,
        url,
        token,
        secure,
        options,
        notes,
    })
}

/// Every secret the environment holds (tokens, URL credentials, each cluster seed's), for
/// masking `doctor`'s whole output.
pub fn environment_secrets(vars: Lookup) -> Secrets {
    let tokens = ["UPSTASH_REDIS_REST_TOKEN", "KV_REST_API_TOKEN"]
        .iter()
        .filter_map(|name| vars(name));
    let seeds = vars("REDIS_CLUSTER_URLS").unwrap_or_default();
    let urls = ["REDIS_URL", "UPSTASH_REDIS_REST_URL", "KV_REST_API_URL"]
        .iter()
        .filter_map(|name| vars(name))
        .chain(seeds.split(',').map(String::from))
        .filter(|url| !url.trim().is_empty())
        .map(|url| Secrets::of_url(&url))
        .collect::<Vec<_>>();
    Secrets::merge(std::iter::once(Secrets::new(tokens)).chain(urls))
}

/// The report lib/doctor.js builds, as its `--json` text, as text for a terminal.
pub fn report_text(json: &str) -> crate::Result<String> {
    let report: Value = serde_json::from_str(json).map_err(|err| {
        crate::Error::new(
            crate::ErrorKind::InvalidArgument,
            format!("not a doctor report: {err}"),
        )
    })?;
    Ok(format_report(&report))
}

fn format_report(report: &Value) -> String {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let backend = &report["backend"];
    let mut lines = vec![
        "digis-redis doctor".to_string(),
        String::new(),
        format!(
            "Backend   {} ({})",
            text(&backend["kind"]),
            text(&backend["variables"])
        ),
    ];
    for (label, field) in [("URL", "url"), ("Token", "token")] {
        if let Some(value) = backend[field].as_str() {
            lines.push(format!("{label:<10}{value}"));
        }
    }
    let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
    let options: Vec<String> = list(&report["options"]).iter().map(text).collect();
    if !options.is_empty() {
        lines.push(format!("Options   {}", options.join(" ")));
    }
    lines.extend(
        list(&report["notes"])
            .iter()
            .map(|note| format!("Note      {}", text(note))),
    );
    lines.push(String::new());
    let checks = list(&report["checks"]);
    let width = checks
        .iter()
        .map(|c| text(&c["name"]).chars().count())
        .max()
        .unwrap_or(0);
    let (mut failed, mut skipped) = (0, 0);
    for check in &checks {
        let ok = check["ok"].as_bool() == Some(true);
        let skip = check["skipped"].as_bool() == Some(true);
        let (mark, said) = match (ok, skip) {
            (true, _) => ("ok  ", &check["detail"]),
            (false, true) => ("skip", &check["detail"]),
            (false, false) => ("FAIL", &check["error"]),
        };
        failed += usize::from(!ok && !skip);
        skipped += usize::from(skip);
        lines.push(format!(
            "{mark}  {:<width$}  {}",
            text(&check["name"]),
            text(said)
        ));
        if let Some(hint) = check["hint"].as_str().filter(|hint| !hint.is_empty()) {
            lines.push(format!("{}→ {hint}", " ".repeat(width + 8)));
        }
    }
    lines.push(String::new());
    lines.push(if report["ok"].as_bool() == Some(true) {
        format!("All {} checks passed.", checks.len())
    } else {
        let skipped = if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        };
        format!(
            "{failed} of {} checks failed{skipped}: see the FAIL lines above.",
            checks.len()
        )
    });
    lines.join(
        "
",
    )
}

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

/// A latency burst's median and 99th percentile (nearest rank), in ms rounded to 0.01.
pub fn latency_percentiles(samples: &[f64]) -> (f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        let ms = sorted.get(rank.saturating_sub(1)).copied().unwrap_or(0.0);
        (ms * 100.0).round() / 100.0
    };
    (percentile(50.0), percentile(99.0))
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
    use crate::environment::tests::vars;

    #[test]
    fn latency_percentiles_are_nearest_ranks() {
        let samples: Vec<f64> = (1..=50).rev().map(|n| f64::from(n) + 0.004).collect();
        assert_eq!(latency_percentiles(&samples), (25.0, 50.0));
    }

    fn describe(pairs: &[(&str, &str)]) -> Description {
        describe_environment(&vars(pairs)).unwrap()
    }

    #[test]
    fn describes_each_selection_with_secrets_masked() {
        let upstash = describe(&[
            (
                "UPSTASH_REDIS_REST_URL",
                "http://db.example.com/?_token=q-secret",
            ),
            ("UPSTASH_REDIS_REST_TOKEN", "t-secret"),
            ("REDIS_URL", "redis://r"),
            ("DIGIS_REDIS_TIMEOUT_MS", "250"),
            ("DIGIS_REDIS_RETRIES", ""),
        ]);
        assert_eq!(upstash.kind, "upstash");
        assert_eq!(
            upstash.variables,
            "UPSTASH_REDIS_REST_URL + UPSTASH_REDIS_REST_TOKEN"
        );
        assert_eq!(
            upstash.url.as_deref(),
            Some("http://db.example.com/?_token=***")
        );
        assert_eq!(upstash.token.as_deref(), Some("set, 8 characters (hidden)"));
        assert!(!upstash.secure);
        assert_eq!(
            upstash.options,
            vec!["DIGIS_REDIS_TIMEOUT_MS=250".to_string()]
        );
        assert!(upstash.notes[0].starts_with("REDIS_URL is also set and ignored"));
        assert!(upstash.notes[1].starts_with("The REST URL is plain http:// to a remote host"));

        let kv = describe(&[
            ("KV_REST_API_URL", "https://127.0.0.1:1"),
            ("KV_REST_API_TOKEN", "t"),
        ]);
        assert_eq!(
            (kv.variables.as_str(), kv.secure, kv.notes.len()),
            ("KV_REST_API_URL + KV_REST_API_TOKEN", true, 0)
        );

        let cluster = describe(&[
            (
                "REDIS_CLUSTER_URLS",
                "rediss://:s3cret@10.0.0.1:6380, redis://ops:two@10.0.0.2:6379",
            ),
            ("REDIS_URL", "redis://x"),
        ]);
        assert_eq!(
            cluster.url.as_deref(),
            Some("rediss://:***@10.0.0.1:6380, redis://ops:***@10.0.0.2:6379")
        );
        assert!(cluster.secure);
        assert_eq!(cluster.notes.len(), 2);

        let redis = describe(&[
            ("REDIS_URL", "redis://:pw-secret@localhost:6379/2"),
            ("KV_REST_API_TOKEN", "t"),
        ]);
        assert_eq!(redis.url.as_deref(), Some("redis://:***@localhost:6379/2"));
        assert_eq!(
            redis.notes,
            vec!["An Upstash REST token is set without its URL: Upstash is not used.".to_string()]
        );
        let remote = describe(&[
            ("REDIS_URL", "redis://cache.example.com"),
            ("UPSTASH_REDIS_REST_URL", "https://u"),
        ]);
        assert_eq!(
            remote.notes[0],
            "An Upstash REST URL is set without its token: Upstash is not used."
        );
        assert!(remote.notes[1].starts_with("REDIS_URL is redis:// to a remote host"));
        assert_eq!(
            describe(&[("REDIS_URL", "not a url")]).url.as_deref(),
            Some("(not a valid URL)")
        );
    }

    #[test]
    fn describes_no_backend() {
        let embedded = describe(&[]);
        assert_eq!(
            (embedded.kind, embedded.variables.as_str(), embedded.url),
            ("embedded", "none set", None)
        );
        assert!(embedded.notes[0].starts_with("No UPSTASH_REDIS_REST_URL"));
        assert_eq!(
            describe(&[("NODE_ENV", "production"), ("DIGIS_REDIS_EMBEDDED", "1")]).variables,
            "none set, DIGIS_REDIS_EMBEDDED=1"
        );
        let unconfigured = describe(&[("NODE_ENV", "production")]);
        assert_eq!(
            (unconfigured.kind, unconfigured.variables.as_str()),
            ("unconfigured", "none set, NODE_ENV=production")
        );
        assert!(
            unconfigured.notes[0].starts_with("NODE_ENV=production and no backend is configured: ")
        );
    }

    #[test]
    fn masks_every_secret_of_the_environment() {
        let env = vars(&[
            (
                "REDIS_CLUSTER_URLS",
                "redis://pw-in-user@h:1,unix:///s?pass=sockpass9",
            ),
            ("UPSTASH_REDIS_REST_TOKEN", "tok-secret"),
            ("REDIS_URL", "redis://:p%40ss@h"),
        ]);
        let text = "pw-in-user sockpass9 tok-secret p@ss p%40ss";
        assert_eq!(
            environment_secrets(&env).redact(text),
            "*** *** *** *** ***"
        );
    }

    #[test]
    fn report_as_text() {
        let report = r#"{"ok":false,"backend":{"kind":"redis","variables":"REDIS_URL","url":"redis://h:1","secure":false},
            "options":["DIGIS_REDIS_TIMEOUT_MS=250"],"notes":["a note"],"latency":null,"checks":[
            {"name":"connection","ok":false,"ms":1,"error":"ERR_CONNECTION: refused","hint":"Nothing listens."},
            {"name":"cache","ok":false,"skipped":true,"detail":"skipped: no connection"}]}"#;
        let expected = [
            "digis-redis doctor",
            "",
            "Backend   redis (REDIS_URL)",
            "URL       redis://h:1",
            "Options   DIGIS_REDIS_TIMEOUT_MS=250",
            "Note      a note",
            "",
            "FAIL  connection  ERR_CONNECTION: refused",
            "                  → Nothing listens.",
            "skip  cache       skipped: no connection",
            "",
            "1 of 2 checks failed, 1 skipped: see the FAIL lines above.",
        ];
        assert_eq!(report_text(report).unwrap(), expected.join("\n"));
        let passed = r#"{"ok":true,"backend":{"kind":"embedded","variables":"none set"},"options":[],"notes":[],
            "checks":[{"name":"connection","ok":true,"detail":"PING answered","hint":null}]}"#;
        assert!(report_text(passed)
            .unwrap()
            .ends_with("ok    connection  PING answered\n\nAll 1 checks passed."));
        assert!(report_text("{").is_err());
    }

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
