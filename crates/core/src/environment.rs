//! What the environment configures, read once at `require` time like the original module: the
//! backend it selects, the backends' deadlines and breaker, how a Redis socket is driven and how
//! often an outage is logged. Variables come through a lookup (`name → value`), so the binding
//! reads them by name from a JS object (`process.env`, or the map `doctor` and tests pass).
//! A bad value is reported and ignored; only `configure()` throws.

use crate::{Error, ErrorKind, Result};

/// A variable's value, None when unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A variable that is set to something (JS's truthiness of a string: not empty).
fn set(vars: Lookup, name: &str) -> Option<String> {
    vars(name).filter(|value| !value.is_empty())
}

pub const EMBEDDED_WARNING: &str = "[digis-redis] No UPSTASH_REDIS_REST_URL/UPSTASH_REDIS_REST_TOKEN, REDIS_CLUSTER_URLS or REDIS_URL is set: using the embedded in-process store. Data lives in this process only: other processes do not see it and it is lost when the process exits.";

pub const UNCONFIGURED_ERROR: &str = "[digis-redis] NODE_ENV=production and no backend is configured: every call answers its fallback (testConnection() is false, rate limits fail open, nothing is cached or stored). Set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, REDIS_CLUSTER_URLS or REDIS_URL; or set DIGIS_REDIS_EMBEDDED=1 to use the per-process embedded store on purpose.";

/// What every call of an unconfigured process fails with (and logs).
pub const UNCONFIGURED_REASON: &str = "no backend configured (NODE_ENV=production): set UPSTASH_REDIS_REST_URL + UPSTASH_REDIS_REST_TOKEN, REDIS_CLUSTER_URLS or REDIS_URL, or DIGIS_REDIS_EMBEDDED=1";

/// The backend the environment selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    Upstash {
        url: String,
        token: String,
    },
    Cluster {
        urls: Vec<String>,
    },
    Redis {
        url: String,
    },
    /// Production without a backend variable or the embedded opt-in: calls answer fallbacks.
    Unconfigured,
    Embedded,
}

impl Selection {
    pub fn kind(&self) -> &'static str {
        match self {
            Selection::Upstash { .. } => "upstash",
            Selection::Cluster { .. } => "cluster",
            Selection::Redis { .. } => "redis",
            Selection::Unconfigured => "unconfigured",
            Selection::Embedded => "embedded",
        }
    }
}

/// Upstash REST when both its URL and token are set (KV_REST_API_* as fallbacks, as
/// @upstash/redis does), else Redis Cluster for REDIS_CLUSTER_URLS, else the Redis protocol for
/// REDIS_URL, else the embedded store, except under NODE_ENV=production without
/// DIGIS_REDIS_EMBEDDED=1. Fails only for a REDIS_CLUSTER_URLS that names no seed node.
pub fn select_backend(vars: Lookup) -> Result<Selection> {
    let url = set(vars, "UPSTASH_REDIS_REST_URL").or_else(|| set(vars, "KV_REST_API_URL"));
    let token = set(vars, "UPSTASH_REDIS_REST_TOKEN").or_else(|| set(vars, "KV_REST_API_TOKEN"));
    if let (Some(url), Some(token)) = (url, token) {
        return Ok(Selection::Upstash { url, token });
    }
    if let Some(seeds) = set(vars, "REDIS_CLUSTER_URLS").filter(|s| !s.trim().is_empty()) {
        let urls = cluster_urls(seeds.split(','), "REDIS_CLUSTER_URLS")?;
        return Ok(Selection::Cluster { urls });
    }
    if let Some(url) = set(vars, "REDIS_URL") {
        return Ok(Selection::Redis { url });
    }
    // In production a per-process store would silently split rate limits and sessions between
    // instances: without an explicit opt-in, no backend at all.
    if vars("NODE_ENV").as_deref() == Some("production")
        && vars("DIGIS_REDIS_EMBEDDED").as_deref() != Some("1")
    {
        return Ok(Selection::Unconfigured);
    }
    Ok(Selection::Embedded)
}

/// Seed node URLs of a cluster, trimmed, blanks dropped; an error naming `source` when none is
/// left. The URLs themselves are checked when the cluster client is made (passwords masked).
pub fn cluster_urls<'a>(
    list: impl IntoIterator<Item = &'a str>,
    source: &str,
) -> Result<Vec<String>> {
    let urls: Vec<String> = list
        .into_iter()
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(String::from)
        .collect();
    if urls.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{source} names no seed node"),
        ));
    }
    Ok(urls)
}

/// Seed URLs given as something other than a string or an array of strings.
pub fn not_seed_urls(source: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("{source} takes seed node URLs: an array of strings or a comma-separated string"),
    )
}

/// A value given for a whole-number setting: a JS number, or text (a variable, or a string given
/// to `configure()`), or anything else.
#[derive(Clone, Debug)]
pub enum Given {
    Number(f64),
    Text(String),
    Other,
}

/// The whole number `given` stands for when it is one from `min` to `max`, as JS reads it.
pub fn whole_number(given: &Given, min: u64, max: u64) -> Option<u64> {
    match given {
        Given::Number(n) => in_range(*n, min, max),
        Given::Text(text) => whole_number_text(text, min, max),
        Given::Other => None,
    }
}

/// Text must be decimal digits only, read as the original did (`Number(text)`).
fn whole_number_text(text: &str, min: u64, max: u64) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    in_range(text.parse::<f64>().ok()?, min, max)
}

fn in_range(n: f64, min: u64, max: u64) -> Option<u64> {
    (n.fract() == 0.0 && n >= min as f64 && n <= max as f64).then_some(n as u64)
}

/// Why a whole-number setting was refused; `got` is the value as JSON.
pub fn not_whole_number(source: &str, min: u64, max: u64, got: &str) -> String {
    format!("{source} must be a whole number from {min} to {max}, got {got}")
}

/// A string as JSON (as `JSON.stringify` writes it), for a message quoting a bad value.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// A setting read from the environment, with what was reported and ignored.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub problems: Vec<String>,
}

/// Which backend option an entry of [`BACKEND_OPTIONS`] sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendOption {
    CallTimeoutMs,
    ConnectTimeoutMs,
    Retries,
    BreakerThreshold,
    BreakerCooldownMs,
    /// 0: no bound.
    EmbeddedMaxBytes,
}

/// A backend option: its `configure()` name, its variable and the values it takes.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    pub option: BackendOption,
    pub name: &'static str,
    pub variable: &'static str,
    pub min: u64,
    pub max: u64,
}

/// JS's Number.MAX_SAFE_INTEGER: the largest whole number a JS number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

const fn spec(
    option: BackendOption,
    name: &'static str,
    variable: &'static str,
    min: u64,
    max: u64,
) -> OptionSpec {
    OptionSpec {
        option,
        name,
        variable,
        min,
        max,
    }
}

pub const BACKEND_OPTIONS: [OptionSpec; 6] = [
    spec(
        BackendOption::CallTimeoutMs,
        "timeoutMs",
        "DIGIS_REDIS_TIMEOUT_MS",
        1,
        600000,
    ),
    spec(
        BackendOption::ConnectTimeoutMs,
        "connectTimeoutMs",
        "DIGIS_REDIS_CONNECT_TIMEOUT_MS",
        1,
        600000,
    ),
    spec(
        BackendOption::Retries,
        "retries",
        "DIGIS_REDIS_RETRIES",
        0,
        600000,
    ),
    spec(
        BackendOption::BreakerThreshold,
        "breakerThreshold",
        "DIGIS_REDIS_BREAKER_THRESHOLD",
        1,
        600000,
    ),
    spec(
        BackendOption::BreakerCooldownMs,
        "breakerCooldownMs",
        "DIGIS_REDIS_BREAKER_COOLDOWN_MS",
        0,
        600000,
    ),
    spec(
        BackendOption::EmbeddedMaxBytes,
        "embeddedMaxBytes",
        "DIGIS_REDIS_EMBEDDED_MAX_BYTES",
        0,
        MAX_SAFE_INTEGER,
    ),
];

/// Options given to `configure()` (`given` reads one by name; None when absent), checked: an
/// error naming the first bad one, whose JSON text `json` gives.
pub fn backend_options(
    mut given: impl FnMut(&str) -> Option<Given>,
    json: impl Fn(&str) -> String,
) -> Result<Vec<(BackendOption, u64)>> {
    let mut options = Vec::new();
    for spec in &BACKEND_OPTIONS {
        let Some(value) = given(spec.name) else {
            continue;
        };
        match whole_number(&value, spec.min, spec.max) {
            Some(n) => options.push((spec.option, n)),
            None => {
                let message = not_whole_number(spec.name, spec.min, spec.max, &json(spec.name));
                return Err(Error::new(ErrorKind::InvalidArgument, message));
            }
        }
    }
    Ok(options)
}

/// The backend options the DIGIS_REDIS_* variables set (unset or empty ones are skipped).
pub fn backend_options_from_env(vars: Lookup) -> Setting<Vec<(BackendOption, u64)>> {
    let mut setting = Setting {
        value: Vec::new(),
        problems: Vec::new(),
    };
    for spec in &BACKEND_OPTIONS {
        let Some(text) = set(vars, spec.variable) else {
            continue;
        };
        match whole_number_text(&text, spec.min, spec.max) {
            Some(n) => setting.value.push((spec.option, n)),
            None => setting.problems.push(not_whole_number(
                spec.variable,
                spec.min,
                spec.max,
                &quoted(&text),
            )),
        }
    }
    setting
}

/// DIGIS_REDIS_TRANSPORT: whether a REDIS_URL socket is driven by Node's own loop (`loop`) or by
/// the addon's I/O thread (`thread`); None leaves it to the runtime (the loop on Node).
pub fn transport_from_env(vars: Lookup) -> Setting<Option<bool>> {
    let raw = set(vars, "DIGIS_REDIS_TRANSPORT");
    let value = match raw.as_deref() {
        Some("loop") => Some(true),
        Some("thread") => Some(false),
        _ => None,
    };
    let problems = match raw {
        Some(raw) if value.is_none() => {
            vec![format!(
                "DIGIS_REDIS_TRANSPORT must be loop or thread, got {}",
                quoted(&raw)
            )]
        }
        _ => Vec::new(),
    };
    Setting { value, problems }
}

/// Default interval between two lines about one kind of outage failure.
pub const DEFAULT_LOG_INTERVAL_MS: u64 = 10000;

/// DIGIS_REDIS_LOG_INTERVAL_MS: whole milliseconds up to `max`.
pub fn log_interval_from_env(vars: Lookup, max: u64) -> Setting<u64> {
    const VARIABLE: &str = "DIGIS_REDIS_LOG_INTERVAL_MS";
    let mut setting = Setting {
        value: DEFAULT_LOG_INTERVAL_MS,
        problems: Vec::new(),
    };
    if let Some(text) = set(vars, VARIABLE) {
        match whole_number_text(&text, 0, max) {
            Some(ms) => setting.value = ms,
            None => setting
                .problems
                .push(not_whole_number(VARIABLE, 0, max, &quoted(&text))),
        }
    }
    setting
}

/// Longest interval between two lines about one kind of outage failure (an hour).
pub const MAX_LOG_INTERVAL_MS: u64 = 3_600_000;

/// A number `configure()` sets for the JS layer (log interval, one-time codes, presence,
/// popularity), and the values it takes.
#[derive(Clone, Copy, Debug)]
pub struct SettingSpec {
    pub name: &'static str,
    pub min: f64,
    pub max: f64,
    /// Whole numbers only.
    pub whole: bool,
    /// What the setting takes, for the message refusing another value.
    pub takes: &'static str,
}

const fn setting(
    name: &'static str,
    min: f64,
    max: f64,
    whole: bool,
    takes: &'static str,
) -> SettingSpec {
    SettingSpec {
        name,
        min,
        max,
        whole,
        takes,
    }
}

pub const SETTINGS: [SettingSpec; 4] = [
    setting(
        "logIntervalMs",
        0.0,
        MAX_LOG_INTERVAL_MS as f64,
        true,
        "whole milliseconds from 0 to 3600000",
    ),
    setting(
        "otpMaxAttempts",
        1.0,
        86400.0,
        true,
        "an integer from 1 to 86400",
    ),
    setting(
        "viewerPresenceSeconds",
        1.0,
        86400.0,
        true,
        "an integer from 1 to 86400",
    ),
    // Fractions allowed (tests, bursty traffic); at most 30 days, beyond which counts barely decay.
    setting(
        "popularityHalfLifeSeconds",
        0.01,
        2_592_000.0,
        false,
        "a number of seconds from 0.01 to 2592000",
    ),
];

/// The names of `configure()`'s numeric options: the backends' and the other settings'.
pub fn numeric_option_names() -> impl Iterator<Item = &'static str> {
    BACKEND_OPTIONS
        .iter()
        .map(|spec| spec.name)
        .chain(SETTINGS.iter().map(|spec| spec.name))
}

/// `configure()`'s numeric settings, checked: `given` reads one by name (None when absent,
/// `Some(None)` for a value that is not a number). The accepted ones, or an error naming the
/// first refused.
pub fn settings(given: impl Fn(&str) -> Option<Option<f64>>) -> Result<Vec<(&'static str, f64)>> {
    let mut values = Vec::new();
    for spec in &SETTINGS {
        let Some(value) = given(spec.name) else {
            continue;
        };
        // NaN and the infinities fail the range (and a fraction's) test.
        let accepted =
            value.filter(|n| *n >= spec.min && *n <= spec.max && (!spec.whole || n.fract() == 0.0));
        match accepted {
            Some(n) => values.push((spec.name, n)),
            None => {
                let message = format!("configure({{ {} }}) takes {}", spec.name, spec.takes);
                return Err(Error::new(ErrorKind::InvalidArgument, message));
            }
        }
    }
    Ok(values)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A lookup over `pairs`.
    pub(crate) fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn select(pairs: &[(&str, &str)]) -> Selection {
        select_backend(&vars(pairs)).unwrap()
    }

    #[test]
    fn upstash_needs_url_and_token_and_wins() {
        let upstash = Selection::Upstash {
            url: "https://u".into(),
            token: "t".into(),
        };
        assert_eq!(
            select(&[
                ("UPSTASH_REDIS_REST_URL", "https://u"),
                ("UPSTASH_REDIS_REST_TOKEN", "t"),
                ("REDIS_URL", "redis://r")
            ]),
            upstash
        );
        assert_eq!(
            select(&[
                ("UPSTASH_REDIS_REST_URL", "https://u"),
                ("REDIS_URL", "redis://r")
            ])
            .kind(),
            "redis"
        );
        assert_eq!(
            select(&[
                ("UPSTASH_REDIS_REST_URL", "https://u"),
                ("UPSTASH_REDIS_REST_TOKEN", "")
            ]),
            Selection::Embedded
        );
        // KV_REST_API_* stand in for either half.
        assert_eq!(
            select(&[
                ("UPSTASH_REDIS_REST_URL", "https://u"),
                ("KV_REST_API_TOKEN", "kt")
            ]),
            Selection::Upstash {
                url: "https://u".into(),
                token: "kt".into()
            }
        );
    }

    #[test]
    fn cluster_comes_before_redis_url() {
        let seeds = " redis://a:7000, rediss://u:p@b:7001 ,";
        assert_eq!(
            select(&[("REDIS_CLUSTER_URLS", seeds), ("REDIS_URL", "redis://r")]),
            Selection::Cluster {
                urls: vec!["redis://a:7000".into(), "rediss://u:p@b:7001".into()]
            }
        );
        assert_eq!(
            select(&[("REDIS_CLUSTER_URLS", " "), ("REDIS_URL", "redis://r")]).kind(),
            "redis"
        );
        let err = select_backend(&vars(&[("REDIS_CLUSTER_URLS", " , ")])).unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (
                ErrorKind::InvalidArgument,
                "REDIS_CLUSTER_URLS names no seed node"
            )
        );
    }

    #[test]
    fn production_needs_a_backend_or_the_opt_in() {
        assert_eq!(select(&[]), Selection::Embedded);
        assert_eq!(
            select(&[("NODE_ENV", "production")]),
            Selection::Unconfigured
        );
        assert_eq!(
            select(&[("NODE_ENV", "production"), ("DIGIS_REDIS_EMBEDDED", "1")]),
            Selection::Embedded
        );
        assert_eq!(
            select(&[("NODE_ENV", "production"), ("DIGIS_REDIS_EMBEDDED", "true")]),
            Selection::Unconfigured
        );
    }

    fn text(text: &str) -> Given {
        Given::Text(text.to_string())
    }

    #[test]
    fn whole_numbers_as_js_reads_them() {
        assert_eq!(whole_number(&text("0012"), 0, 100), Some(12));
        assert_eq!(whole_number(&Given::Number(-0.0), 0, 1), Some(0));
        for bad in [
            text("-1"),
            text("1.5"),
            text(""),
            text(" 1"),
            Given::Number(1.5),
            Given::Number(f64::NAN),
            Given::Number(f64::INFINITY),
            Given::Other,
        ] {
            assert_eq!(whole_number(&bad, 0, 100), None, "{bad:?}");
        }
        assert_eq!(whole_number(&Given::Number(0.0), 1, 100), None);
        // Text beyond JS's exact integers is read as JS reads it, so it is out of range too.
        assert_eq!(
            whole_number(&text("9007199254740993"), 0, MAX_SAFE_INTEGER),
            None
        );
        assert_eq!(
            whole_number(&text("9007199254740991"), 0, MAX_SAFE_INTEGER),
            Some(MAX_SAFE_INTEGER)
        );
    }

    #[test]
    fn options_from_env_report_and_ignore_bad_values() {
        let setting = backend_options_from_env(&vars(&[
            ("DIGIS_REDIS_TIMEOUT_MS", "250"),
            ("DIGIS_REDIS_CONNECT_TIMEOUT_MS", "-1"),
            ("DIGIS_REDIS_RETRIES", "0"),
            ("DIGIS_REDIS_BREAKER_THRESHOLD", ""),
        ]));
        assert_eq!(
            setting.value,
            vec![
                (BackendOption::CallTimeoutMs, 250),
                (BackendOption::Retries, 0)
            ]
        );
        assert_eq!(setting.problems, vec!["DIGIS_REDIS_CONNECT_TIMEOUT_MS must be a whole number from 1 to 600000, got \"-1\"".to_string()]);
    }

    #[test]
    fn configure_options_name_the_first_bad_one() {
        let given = |name: &str| match name {
            "timeoutMs" => Some(Given::Number(200.0)),
            "retries" => Some(text("soon")),
            "breakerThreshold" => Some(Given::Other),
            _ => None,
        };
        let err = backend_options(given, |_| "\"soon\"".to_string()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert_eq!(
            err.message,
            "retries must be a whole number from 0 to 600000, got \"soon\""
        );
        let ok = backend_options(
            |name| (name == "embeddedMaxBytes").then_some(Given::Number(0.0)),
            |_| unreachable!(),
        );
        assert_eq!(ok.unwrap(), vec![(BackendOption::EmbeddedMaxBytes, 0)]);
    }

    #[test]
    fn transport_and_log_interval() {
        assert_eq!(
            transport_from_env(&vars(&[("DIGIS_REDIS_TRANSPORT", "loop")])).value,
            Some(true)
        );
        assert_eq!(
            transport_from_env(&vars(&[("DIGIS_REDIS_TRANSPORT", "thread")])).value,
            Some(false)
        );
        let bad = transport_from_env(&vars(&[("DIGIS_REDIS_TRANSPORT", "uv")]));
        assert_eq!(
            (bad.value, bad.problems),
            (
                None,
                vec!["DIGIS_REDIS_TRANSPORT must be loop or thread, got \"uv\"".to_string()]
            )
        );
        assert_eq!(
            log_interval_from_env(&vars(&[]), 100).value,
            DEFAULT_LOG_INTERVAL_MS
        );
        assert_eq!(
            log_interval_from_env(&vars(&[("DIGIS_REDIS_LOG_INTERVAL_MS", "0")]), 100).value,
            0
        );
        let bad = log_interval_from_env(&vars(&[("DIGIS_REDIS_LOG_INTERVAL_MS", "101")]), 100);
        assert_eq!(bad.value, DEFAULT_LOG_INTERVAL_MS);
        assert_eq!(
            bad.problems,
            vec![
                "DIGIS_REDIS_LOG_INTERVAL_MS must be a whole number from 0 to 100, got \"101\""
                    .to_string()
            ]
        );
    }
    #[test]
    fn settings_take_numbers_in_their_ranges() {
        let given = |pairs: Vec<(&'static str, Option<f64>)>| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        };
        assert_eq!(settings(given(vec![])).unwrap(), vec![]);
        assert_eq!(
            settings(given(vec![
                ("otpMaxAttempts", Some(3.0)),
                ("popularityHalfLifeSeconds", Some(0.5)),
                ("logIntervalMs", Some(0.0)),
            ]))
            .unwrap(),
            vec![
                ("logIntervalMs", 0.0),
                ("otpMaxAttempts", 3.0),
                ("popularityHalfLifeSeconds", 0.5)
            ]
        );
        let refused = |name: &'static str, value: Option<f64>| {
            settings(given(vec![(name, value)])).unwrap_err().message
        };
        assert_eq!(
            refused("logIntervalMs", Some(3_600_001.0)),
            "configure({ logIntervalMs }) takes whole milliseconds from 0 to 3600000"
        );
        assert_eq!(
            refused("otpMaxAttempts", Some(1.5)),
            "configure({ otpMaxAttempts }) takes an integer from 1 to 86400"
        );
        assert_eq!(
            refused("viewerPresenceSeconds", None),
            "configure({ viewerPresenceSeconds }) takes an integer from 1 to 86400"
        );
        for bad in [Some(f64::NAN), Some(f64::INFINITY), Some(0.001), None] {
            assert_eq!(
                refused("popularityHalfLifeSeconds", bad),
                "configure({ popularityHalfLifeSeconds }) takes a number of seconds from 0.01 to 2592000"
            );
        }
    }
}
