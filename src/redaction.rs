//! Core's secret redaction, for the JS layer's messages and `doctor`.

use digis_redis_core::redact::{self, Secrets};
use napi_derive::napi;

/// `url` with its credentials masked, for display (core's one redaction rule, for `doctor`).
#[napi]
pub fn redact_url(url: String) -> String {
    redact::redact_url(&url)
}

/// `text` with every one of `tokens` and every credential of `urls` masked.
#[napi]
pub fn redact_secrets(text: String, tokens: Vec<String>, urls: Vec<String>) -> String {
    let url_secrets = urls.iter().map(|url| Secrets::of_url(url));
    Secrets::merge(std::iter::once(Secrets::new(tokens)).chain(url_secrets)).redact(&text)
}
