//! Secrets (tokens, passwords in URLs) never leave the process in logs, errors or displays.

use url::Url;

const MASK: &str = "***";

/// The URL with its password (and a `_token` query parameter) masked, for display.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return "<unparseable url>".to_string();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    }
    if url.query_pairs().any(|(k, _)| k == "_token") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "_token" {
                    MASK.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// Replaces every known secret in `text`; for error messages built from foreign errors.
#[derive(Clone, Debug, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Secrets {
        // Very short "secrets" would mask ordinary words; real tokens and passwords are longer.
        Secrets(secrets.into_iter().filter(|s| s.len() >= 3).collect())
    }

    /// Every secret of `all` (e.g. the passwords of several seed URLs).
    pub fn merge(all: impl IntoIterator<Item = Secrets>) -> Secrets {
        Secrets(all.into_iter().flat_map(|s| s.0).collect())
    }

    pub fn redact(&self, text: &str) -> String {
        self.0.iter().fold(text.to_string(), |acc, secret| {
            acc.replace(secret.as_str(), MASK)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact_url("redis://user:hunter22@127.0.0.1:6380/2"),
            "redis://user:***@127.0.0.1:6380/2"
        );
        assert_eq!(
            redact_url("rediss://:pw@host:6379"),
            "rediss://:***@host:6379"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("https://x.upstash.io/?_token=abc"),
            "https://x.upstash.io/?_token=***"
        );
        assert!(!redact_url("not a url hunter22").contains("hunter22"));
    }

    #[test]
    fn secrets_are_replaced_in_free_text() {
        let secrets = Secrets::new(["tok-123".to_string(), "pw".to_string()]);
        assert_eq!(
            secrets.redact("auth tok-123 failed for pw"),
            "auth *** failed for pw"
        );
    }
}
