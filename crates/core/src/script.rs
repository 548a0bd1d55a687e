use std::sync::OnceLock;

/// A Lua script the features run atomically. Server backends send it by EVALSHA with an EVAL
/// fallback; the embedded store runs a native implementation registered under the same `name`.
pub struct Script {
    pub name: &'static str,
    pub source: &'static str,
    sha1: OnceLock<String>,
}

impl Script {
    pub const fn new(name: &'static str, source: &'static str) -> Script {
        Script {
            name,
            source,
            sha1: OnceLock::new(),
        }
    }

    /// Hex SHA-1 of the source, as EVALSHA wants it.
    pub fn sha1(&self) -> &str {
        self.sha1
            .get_or_init(|| sha1_smol::Sha1::from(self.source).digest().to_string())
    }
}

/// `otp:<id>` compared as a string and deleted on a match, in one step.
pub static OTP_VERIFY: Script = Script::new("otp_verify", include_str!("scripts/otp_verify.lua"));

/// Fixed-window counter: INCR, and an expiry whenever the key has none, in one step.
pub static RATE_LIMIT_FIXED_WINDOW: Script = Script::new(
    "rate_limit_fixed_window",
    include_str!("scripts/rate_limit_fixed_window.lua"),
);
