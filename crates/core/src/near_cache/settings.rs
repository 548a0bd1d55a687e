//! `configure({ nearCache })`'s options, checked.

use std::time::Duration;

use super::space::{NearSpace, SPACES};
use crate::{Error, ErrorKind, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearSettings {
    pub max_bytes: usize,
    pub max_entries: usize,
    pub spaces: Vec<NearSpace>,
    /// The longest an entry is served; required where nothing announces changes (Upstash).
    pub max_staleness: Option<Duration>,
    /// The raw keys `cache.*` reads are answered for, by prefix (`None`: any key). With them,
    /// the servers announce changes of these prefixes only, not of every key.
    pub cache_prefixes: Option<Vec<String>>,
}

pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
pub const MIN_MAX_BYTES: usize = 1024;

impl Default for NearSettings {
    fn default() -> Self {
        NearSettings {
            max_bytes: DEFAULT_MAX_BYTES,
            max_entries: DEFAULT_MAX_ENTRIES,
            spaces: SPACES.to_vec(),
            max_staleness: None,
            cache_prefixes: None,
        }
    }
}

fn bad(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// A whole number from `min` to 2^53 - 1 (what a JS number holds exactly).
fn whole(name: &str, value: f64, min: f64) -> Result<u64> {
    if value.fract() == 0.0 && value >= min && value <= 9_007_199_254_740_991.0 {
        Ok(value as u64)
    } else {
        Err(bad(format!(
            "configure({{ nearCache: {{ {name} }} }}) takes a whole number from {min}, got {value}"
        )))
    }
}

impl NearSettings {
    /// From the option object's fields (absent ones keep their defaults).
    pub fn from_options(
        max_bytes: Option<f64>,
        max_entries: Option<f64>,
        namespaces: Option<&[String]>,
        max_staleness_ms: Option<f64>,
        cache_prefixes: Option<&[String]>,
    ) -> Result<NearSettings> {
        let mut settings = NearSettings::default();
        if let Some(value) = max_bytes {
            settings.max_bytes = whole("maxBytes", value, MIN_MAX_BYTES as f64)? as usize;
        }
        if let Some(value) = max_entries {
            settings.max_entries = whole("maxEntries", value, 1.0)? as usize;
        }
        if let Some(value) = max_staleness_ms {
            settings.max_staleness =
                Some(Duration::from_millis(whole("maxStalenessMs", value, 1.0)?));
        }
        if let Some(prefixes) = cache_prefixes {
            if prefixes.is_empty() || prefixes.iter().any(String::is_empty) {
                return Err(bad(
                    "configure({ nearCache: { cachePrefixes } }) takes a non-empty array of non-empty key prefixes"
                        .to_string(),
                ));
            }
            settings.cache_prefixes = Some(prefixes.to_vec());
        }
        if let Some(names) = namespaces {
            let known: Vec<&str> = SPACES.iter().map(|s| s.name()).collect();
            settings.spaces = names
                .iter()
                .map(|name| {
                    NearSpace::from_name(name).ok_or_else(|| {
                        bad(format!(
                            "configure({{ nearCache: {{ namespaces }} }}) takes names among {}, got {name:?}",
                            known.join(", ")
                        ))
                    })
                })
                .collect::<Result<_>>()?;
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_options_keep_the_defaults_and_bad_ones_say_which() {
        assert_eq!(
            NearSettings::from_options(None, None, None, None, None).unwrap(),
            NearSettings::default()
        );
        let set = NearSettings::from_options(
            Some(4096.0),
            Some(10.0),
            Some(&["users".to_string()]),
            Some(250.0),
            Some(&["feed:".to_string()]),
        )
        .unwrap();
        assert_eq!(set.cache_prefixes, Some(vec!["feed:".to_string()]));
        assert_eq!(set.max_bytes, 4096);
        assert_eq!(set.max_entries, 10);
        assert_eq!(set.spaces, vec![NearSpace::Users]);
        assert_eq!(set.max_staleness, Some(Duration::from_millis(250)));
        for (bytes, entries, names, staleness, mentions) in [
            (Some(100.0), None, None, None, "maxBytes"),
            (None, Some(0.0), None, None, "maxEntries"),
            (None, Some(1.5), None, None, "maxEntries"),
            (None, None, None, Some(f64::NAN), "maxStalenessMs"),
            (
                None,
                None,
                Some(vec!["otp".to_string()]),
                None,
                "namespaces",
            ),
        ] {
            let err = NearSettings::from_options(bytes, entries, names.as_deref(), staleness, None)
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument);
            assert!(err.message.contains(mentions), "{}", err.message);
        }
    }
}
