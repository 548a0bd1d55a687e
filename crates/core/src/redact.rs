//! Secrets (tokens, passwords in URLs) never leave the process in logs, errors or displays.
//! The one redaction rule: the addon, the rest-server and `doctor` (through the binding) all
//! use what is here.

use url::Url;

const MASK: &str = "***";

/// Query parameters that carry a credential: Upstash's `_token`, redis-rs's `pass` for
/// `unix://` sockets, and their common spellings.
const SECRET_PARAMS: &[&str] = &["_token", "token", "pass", "password", "auth"];

/// Shorter "secrets" would mask ordinary words; real tokens and passwords are longer.
const MIN_SECRET_LEN: usize = 3;

fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|p| name.eq_ignore_ascii_case(p))
}

/// `redis://<password>@host`: a lone user name is a password written in the user position
/// (a common mistake, and the form some providers print), so it is treated as one.
fn user_is_password(url: &Url) -> bool {
    !url.username().is_empty() && url.password().is_none()
}

/// The URL with its credentials masked, for display: the password, a user name standing alone
/// (see [`user_is_password`]) and every credential query parameter. Text that does not parse
/// as a URL is not echoed at all.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw.trim()) else {
        return "<unparseable url>".to_string();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    } else if user_is_password(&url) {
        let _ = url.set_username(MASK);
    }
    if url.query_pairs().any(|(k, _)| is_secret_param(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
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
        let mut all: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        // Longest first, so a secret that contains another is masked whole.
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        all.dedup();
        Secrets(all)
    }

    /// Every credential `raw` carries (those [`redact_url`] masks), as written and
    /// percent-decoded, since either form may be quoted by an error.
    pub fn of_url(raw: &str) -> Secrets {
        let Ok(url) = Url::parse(raw.trim()) else {
            return Secrets::default();
        };
        let mut found = Vec::new();
        let mut add_encoded = |text: &str| {
            found.push(text.to_string());
            found.push(
                percent_encoding::percent_decode_str(text)
                    .decode_utf8_lossy()
                    .into_owned(),
            );
        };
        if let Some(password) = url.password() {
            add_encoded(password);
        } else if user_is_password(&url) {
            add_encoded(url.username());
        }
        for (name, value) in url.query_pairs() {
            if is_secret_param(&name) {
                found.push(value.to_string());
                found.push(url::form_urlencoded::byte_serialize(value.as_bytes()).collect());
            }
        }
        Secrets::new(found)
    }

    /// Every secret of `all` (e.g. the passwords of several seed URLs).
    pub fn merge(all: impl IntoIterator<Item = Secrets>) -> Secrets {
        Secrets::new(all.into_iter().flat_map(|s| s.0))
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

    /// Every URL shape a backend variable or `--redis` may hold: how it is shown, and the
    /// secret that must appear in neither the display nor a redacted error.
    #[test]
    fn url_shapes() {
        let table: &[(&str, &str, &[&str])] = &[
            (
                "redis://user:hunter22@127.0.0.1:6380/2",
                "redis://user:***@127.0.0.1:6380/2",
                &["hunter22"],
            ),
            ("rediss://:pw@host:6379", "rediss://:***@host:6379", &[]),
            (
                "redis://s3cretpass@host:6379",
                "redis://***@host:6379",
                &["s3cretpass"],
            ),
            (
                "redis://p%40ss%2Fword@host",
                "redis://***@host",
                &["p%40ss%2Fword", "p@ss/word"],
            ),
            (
                "redis://default:p%40ssword@host:6379/0",
                "redis://default:***@host:6379/0",
                &["p%40ssword", "p@ssword"],
            ),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379", &[]),
            (
                "unix:///tmp/redis.sock?db=2&pass=sockpass1",
                "unix:///tmp/redis.sock?db=2&pass=***",
                &["sockpass1"],
            ),
            (
                "redis+unix:///run/r.sock?user=app&pass=sockpass2",
                "redis+unix:///run/r.sock?user=app&pass=***",
                &["sockpass2"],
            ),
            (
                "https://x.upstash.io/?_token=abc",
                "https://x.upstash.io/?_token=***",
                &["abc"],
            ),
            (
                "https://x.upstash.io/?_token=tok%2Bwith%2Fslash",
                "https://x.upstash.io/?_token=***",
                &["tok+with/slash", "tok%2Bwith%2Fslash"],
            ),
            (
                "https://x.upstash.io?Password=pw123&region=eu",
                "https://x.upstash.io/?Password=***&region=eu",
                &["pw123"],
            ),
            ("http://127.0.0.1:8079", "http://127.0.0.1:8079/", &[]),
        ];
        for (raw, shown, secrets) in table {
            assert_eq!(&redact_url(raw), shown, "display of {raw}");
            let found = Secrets::of_url(raw);
            for secret in *secrets {
                assert!(!redact_url(raw).contains(secret), "{raw} shows {secret}");
                let error = format!("connecting to {raw} failed: bad auth {secret}");
                assert!(
                    !found.redact(&error).contains(secret),
                    "{raw}: {secret} survives in {}",
                    found.redact(&error)
                );
            }
        }
    }

    #[test]
    fn unparseable_urls_are_not_echoed() {
        assert!(!redact_url("not a url hunter22").contains("hunter22"));
        assert!(Secrets::of_url("not a url")
            .redact("not a url")
            .contains("not"));
    }

    #[test]
    fn secrets_are_replaced_in_free_text() {
        let secrets = Secrets::new(["tok-123".to_string(), "pw".to_string()]);
        assert_eq!(
            secrets.redact("auth tok-123 failed for pw"),
            "auth *** failed for pw"
        );
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        let secrets = Secrets::new(["abc".to_string(), "xxabcxx".to_string()]);
        assert_eq!(secrets.redact("key xxabcxx"), "key ***");
    }
}
