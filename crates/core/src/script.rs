use std::future::Future;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::{Cmd, ErrorKind, Reply, Result};

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

/// `otp:<id>` compared in constant time and deleted on a match; a wrong guess is counted in
/// `{otp:<id>}:tries` (expiring with the code), and enough of them destroy both keys.
pub static OTP_VERIFY: Script = Script::new("otp_verify", include_str!("scripts/otp_verify.lua"));

/// Fixed-window counter: INCRBY the cost, and an expiry whenever the key has none, in one step.
/// Answers `{allowed, remaining, reset_ms, retry_ms}`.
pub static RATE_LIMIT_FIXED_WINDOW: Script = Script::new(
    "rate_limit_fixed_window",
    include_str!("scripts/rate_limit_fixed_window.lua"),
);

/// Token bucket in a hash `{tokens, ts}`, timed by the server's clock. Answers
/// `{allowed, remaining, reset_ms, retry_ms}`.
pub static RATE_LIMIT_TOKEN_BUCKET: Script = Script::new(
    "rate_limit_token_bucket",
    include_str!("scripts/rate_limit_token_bucket.lua"),
);

/// Sliding window (weighted previous window) in a hash `{start, cur, prev}`, timed by the
/// server's clock. Answers `{allowed, remaining, reset_ms, retry_ms}`.
pub static RATE_LIMIT_SLIDING_WINDOW: Script = Script::new(
    "rate_limit_sliding_window",
    include_str!("scripts/rate_limit_sliding_window.lua"),
);

/// Runs `script` on a server: EVALSHA first (the server usually has it cached), then EVAL with
/// the source when the server answers NOSCRIPT (after a restart or SCRIPT FLUSH).
pub async fn eval_by_sha<F, Fut>(
    script: &Script,
    keys: Vec<Bytes>,
    args: Vec<Bytes>,
    mut call: F,
) -> Result<Reply>
where
    F: FnMut(Cmd) -> Fut,
    Fut: Future<Output = Result<Reply>>,
{
    let with_operands = |cmd: Cmd| cmd.arg(keys.len()).args(keys.iter()).args(args.iter());
    match call(with_operands(Cmd::new("EVALSHA").arg(script.sha1()))).await {
        Err(err) if err.kind == ErrorKind::Command && err.message.starts_with("NOSCRIPT") => {
            call(with_operands(Cmd::new("EVAL").arg(script.source))).await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn sha1_matches_redis() {
        // SCRIPT LOAD "return 1" answers this digest.
        let script = Script::new("t", "return 1");
        assert_eq!(script.sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }

    #[tokio::test]
    async fn noscript_falls_back_to_eval_with_the_source() {
        let sent = std::sync::Mutex::new(Vec::new());
        let script = Script::new("t", "return 1");
        let reply = eval_by_sha(
            &script,
            vec![Bytes::from("k")],
            vec![Bytes::from("a")],
            |cmd| {
                sent.lock().unwrap().push(cmd.name());
                let first = cmd.name() == "EVALSHA";
                async move {
                    if first {
                        Err(Error::command("NOSCRIPT No matching script."))
                    } else {
                        assert_eq!(
                            cmd.parts()[2..],
                            [Bytes::from("1"), Bytes::from("k"), Bytes::from("a")]
                        );
                        Ok(Reply::Int(1))
                    }
                }
            },
        )
        .await;
        assert_eq!(reply, Ok(Reply::Int(1)));
        assert_eq!(*sent.lock().unwrap(), vec!["EVALSHA", "EVAL"]);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let script = Script::new("t", "return 1");
        let reply = eval_by_sha(&script, vec![], vec![], |_| async {
            Err(Error::command(
                "WRONGTYPE Operation against a key holding the wrong kind of value",
            ))
        })
        .await;
        assert!(reply.unwrap_err().message.starts_with("WRONGTYPE"));
    }
}
