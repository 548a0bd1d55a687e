//! The binding of core's reading of the environment (`digis_redis_core::environment`). The
//! variables come as a JS object (`process.env`, or the map `doctor` and tests pass), each read
//! by name when the core asks for it; what is ignored comes back as `problems` to report.

use std::collections::HashMap;

use digis_redis_core::environment::{self as core_env, BackendOption, Given, Selection};
use napi::bindgen_prelude::{Function, JsObjectValue, Object, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;

use crate::client::BackendOptions;
use crate::js_error::{self, Code};

#[napi]
pub const EMBEDDED_WARNING: &str = core_env::EMBEDDED_WARNING;
#[napi]
pub const UNCONFIGURED_ERROR: &str = core_env::UNCONFIGURED_ERROR;
#[napi]
pub const UNCONFIGURED_REASON: &str = core_env::UNCONFIGURED_REASON;

/// The core's lookup over a JS object of variables; a value that is not a string counts as unset.
pub(crate) fn variables<'a>(env: &'a Object) -> impl Fn(&str) -> Option<String> + 'a {
    |name| env.get::<String>(name).ok().flatten()
}

/// The backend the environment selects: `kind`, and `url` and `token`, or `urls`.
#[napi(object)]
pub struct BackendSelection {
    pub kind: String,
    pub url: Option<String>,
    pub token: Option<String>,
    pub urls: Option<Vec<String>>,
}

/// The backend `env`'s variables select; throws (ERR_INVALID_ARGUMENT) for a REDIS_CLUSTER_URLS
/// that names no seed node.
#[napi]
pub fn select_backend(env: Object) -> napi::Result<BackendSelection, Code> {
    let selection = core_env::select_backend(&variables(&env)).map_err(js_error::to_js)?;
    let kind = selection.kind().to_string();
    let (url, token, urls) = match selection {
        Selection::Upstash { url, token } => (Some(url), Some(token), None),
        Selection::Cluster { urls } => (None, None, Some(urls)),
        Selection::Redis { url } => (Some(url), None, None),
        Selection::Unconfigured | Selection::Embedded => (None, None, None),
    };
    Ok(BackendSelection {
        kind,
        url,
        token,
        urls,
    })
}

/// A cluster's seed node URLs from a comma-separated string or an array of strings; throws
/// (ERR_INVALID_ARGUMENT) naming `source` when there is none or one is not a string.
#[napi]
pub fn cluster_urls(value: Unknown, source: String) -> napi::Result<Vec<String>, Code> {
    let napi_err = js_error::from_napi;
    let urls = match value.get_type().map_err(napi_err)? {
        ValueType::String => {
            let text = unsafe { value.cast::<String>() }.map_err(napi_err)?;
            core_env::cluster_urls(text.split(','), &source)
        }
        ValueType::Object if value.is_array().map_err(napi_err)? => {
            let items = unsafe { value.cast::<Vec<Unknown>>() }.map_err(napi_err)?;
            let strings = items.iter().map(|item| match item.get_type() {
                Ok(ValueType::String) => unsafe { item.cast::<String>() }.ok(),
                _ => None,
            });
            match strings.collect::<Option<Vec<String>>>() {
                Some(list) => core_env::cluster_urls(list.iter().map(String::as_str), &source),
                None => Err(core_env::not_seed_urls(&source)),
            }
        }
        _ => Err(core_env::not_seed_urls(&source)),
    };
    urls.map_err(js_error::to_js)
}

impl From<Vec<(BackendOption, u64)>> for BackendOptions {
    fn from(values: Vec<(BackendOption, u64)>) -> BackendOptions {
        let mut options = BackendOptions {
            call_timeout_ms: None,
            connect_timeout_ms: None,
            retries: None,
            breaker_threshold: None,
            breaker_cooldown_ms: None,
            embedded_max_bytes: None,
        };
        // The core's bounds keep every value within its field (600000 ms, 2^53 - 1 bytes).
        for (option, n) in values {
            let small = u32::try_from(n).ok();
            match option {
                BackendOption::CallTimeoutMs => options.call_timeout_ms = small,
                BackendOption::ConnectTimeoutMs => options.connect_timeout_ms = small,
                BackendOption::Retries => options.retries = small,
                BackendOption::BreakerThreshold => options.breaker_threshold = small,
                BackendOption::BreakerCooldownMs => options.breaker_cooldown_ms = small,
                BackendOption::EmbeddedMaxBytes => {
                    options.embedded_max_bytes = i64::try_from(n).ok()
                }
            }
        }
        options
    }
}

/// A value as a template literal shows `JSON.stringify(value)` (`undefined` for a function or a
/// symbol), for a message; a value JSON refuses (a BigInt) by its string form.
fn json_text(env: &Env, value: Unknown) -> String {
    let stringified = env.get_global().and_then(|global| {
        let json: Object = global.get_named_property("JSON")?;
        let stringify: Function<Unknown, Option<String>> = json.get_named_property("stringify")?;
        stringify.call(value)
    });
    match stringified {
        Ok(text) => text.unwrap_or_else(|| "undefined".to_string()),
        Err(_) => value
            .coerce_to_string()
            .and_then(|text| text.into_utf8())
            .and_then(|text| text.into_owned())
            .unwrap_or_default(),
    }
}

/// The names of `configure()`'s numeric options (the others are read in JS).
#[napi]
pub fn numeric_option_names() -> Vec<&'static str> {
    core_env::numeric_option_names().collect()
}

/// `configure()`'s numbers: the JS layer's settings by name, and the backend options.
#[napi(object)]
pub struct ConfigureOptions {
    pub settings: HashMap<String, f64>,
    pub backend: BackendOptions,
}

/// `configure()`'s numeric settings, then its deadline, retry, breaker and memory options,
/// checked; throws (ERR_INVALID_ARGUMENT) naming the first that is not a number in its range.
#[napi]
pub fn configure_options(env: Env, options: Object) -> napi::Result<ConfigureOptions, Code> {
    let read = |name: &str| options.get::<Unknown>(name).ok().flatten();
    // A setting given as `undefined` is refused, as `name in options` sees it.
    let number = |name: &str| {
        options.has_named_property(name).ok()?.then(|| {
            read(name)
                .filter(|value| matches!(value.get_type(), Ok(ValueType::Number)))
                .and_then(|value| unsafe { value.cast::<f64>() }.ok())
        })
    };
    let settings = core_env::settings(number).map_err(js_error::to_js)?;
    let given = |name: &str| {
        read(name).map(|value| match value.get_type() {
            Ok(ValueType::Number) => {
                unsafe { value.cast::<f64>() }.map_or(Given::Other, Given::Number)
            }
            Ok(ValueType::String) => {
                unsafe { value.cast::<String>() }.map_or(Given::Other, Given::Text)
            }
            _ => Given::Other,
        })
    };
    let json = |name: &str| {
        read(name)
            .map(|value| json_text(&env, value))
            .unwrap_or_default()
    };
    let backend = core_env::backend_options(given, json).map_err(js_error::to_js)?;
    Ok(ConfigureOptions {
        settings: settings
            .into_iter()
            .map(|(name, n)| (name.to_string(), n))
            .collect(),
        backend: backend.into(),
    })
}

/// The backend options the DIGIS_REDIS_* variables set, and what was ignored.
#[napi(object)]
pub struct BackendOptionsSetting {
    pub value: BackendOptions,
    pub problems: Vec<String>,
}

#[napi]
pub fn backend_options_from_env(env: Object) -> BackendOptionsSetting {
    let setting = core_env::backend_options_from_env(&variables(&env));
    BackendOptionsSetting {
        value: setting.value.into(),
        problems: setting.problems,
    }
}

/// DIGIS_REDIS_TRANSPORT: `value` true for Node's loop, false for the I/O thread, absent to let
/// the runtime decide.
#[napi(object)]
pub struct TransportSetting {
    pub value: Option<bool>,
    pub problems: Vec<String>,
}

#[napi]
pub fn transport_from_env(env: Object) -> TransportSetting {
    let setting = core_env::transport_from_env(&variables(&env));
    TransportSetting {
        value: setting.value,
        problems: setting.problems,
    }
}

/// DIGIS_REDIS_LOG_INTERVAL_MS, whole milliseconds up to an hour.
#[napi(object)]
pub struct LogIntervalSetting {
    pub value: u32,
    pub problems: Vec<String>,
}

#[napi]
pub fn log_interval_from_env(env: Object) -> LogIntervalSetting {
    let max = core_env::MAX_LOG_INTERVAL_MS;
    let setting = core_env::log_interval_from_env(&variables(&env), max);
    let value = u32::try_from(setting.value.min(max)).unwrap_or(u32::MAX);
    LogIntervalSetting {
        value,
        problems: setting.problems,
    }
}
