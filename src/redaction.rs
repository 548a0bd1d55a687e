//! Core's secret redaction, for the command line's messages (bin/digis-redis.js).

use digis_redis_core::redact::Secrets;
use napi_derive::napi;

/// `text` with every one of `tokens` and every credential of `urls` masked.
#[napi]
pub fn redact_secrets(text: String, tokens: Vec<String>, urls: Vec<String>) -> String {
    let url_secrets = urls.iter().map(|url| Secrets::of_url(url));
    Secrets::merge(std::iter::once(Secrets::new(tokens)).chain(url_secrets)).redact(&text)
}
