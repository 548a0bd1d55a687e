//! The binding of `digis-redis doctor`'s core rules (lib/doctor.js runs the checks).

use napi_derive::napi;

/// What a failed check's error most likely means, in plain words, or null (core's `doctor`).
#[napi]
pub fn doctor_failure_hint(message: String, backend_kind: String, secure: bool) -> Option<String> {
    digis_redis_core::doctor::failure_hint(&message, &backend_kind, secure)
}
