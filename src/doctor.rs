//! The binding of `digis-redis doctor`'s core rules (lib/doctor.js runs the checks). The
//! environment comes as a JS object of variables, read as `src/environment.rs` reads it.

use digis_redis_core::doctor;
use napi::bindgen_prelude::Object;
use napi_derive::napi;

use crate::environment::variables;
use crate::js_error::{self, Code};

/// What a failed check's error most likely means, in plain words, or null (core's `doctor`).
#[napi]
pub fn doctor_failure_hint(message: String, backend_kind: String, secure: bool) -> Option<String> {
    doctor::failure_hint(&message, &backend_kind, secure)
}

/// The backend as the report shows it: URLs masked, the token only described.
#[napi(object)]
pub struct DoctorBackend {
    pub kind: String,
    pub variables: String,
    pub url: Option<String>,
    pub token: Option<String>,
    /// Always set; optional only so that it comes after `url` and `token` in the object, as in
    /// the `--json` report (napi sets required fields first).
    pub secure: Option<bool>,
}

#[napi(object)]
pub struct DoctorEnvironment {
    pub backend: DoctorBackend,
    /// The backend options set, as `VARIABLE=value`.
    pub options: Vec<String>,
    pub notes: Vec<String>,
}

/// What `env` selects, and notes on what looks wrong.
#[napi]
pub fn doctor_describe_environment(env: Object) -> napi::Result<DoctorEnvironment, Code> {
    let described = doctor::describe_environment(&variables(&env)).map_err(js_error::to_js)?;
    Ok(DoctorEnvironment {
        backend: DoctorBackend {
            kind: described.kind.to_string(),
            variables: described.variables,
            url: described.url,
            token: described.token,
            secure: Some(described.secure),
        },
        options: described.options,
        notes: described.notes,
    })
}

/// `text` with every secret `env` holds (tokens, URL credentials) masked.
#[napi]
pub fn doctor_redact(text: String, env: Object) -> String {
    doctor::environment_secrets(&variables(&env)).redact(&text)
}

/// A burst of `samples` round trips (ms): their count, median and 99th percentile.
#[napi(object)]
pub struct DoctorLatency {
    pub samples: u32,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[napi]
pub fn doctor_latency(samples: Vec<f64>) -> DoctorLatency {
    let (p50_ms, p99_ms) = doctor::latency_percentiles(&samples);
    DoctorLatency {
        samples: samples.len() as u32,
        p50_ms,
        p99_ms,
    }
}

/// The report (as JSON) as text for a terminal.
#[napi]
pub fn doctor_report_text(report: String) -> napi::Result<String, Code> {
    doctor::report_text(&report).map_err(js_error::to_js)
}
