//! The Lua scripts the features run atomically: their sources (`lua/*.lua`), their SHA-1s and
//! how a server backend sends them (EVALSHA, then EVAL where the server answers NOSCRIPT). The
//! embedded store runs native equivalents (`embedded/native_scripts/`) registered under the
//! same names.

use std::future::Future;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::{Cmd, Reply, Result};

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
pub static OTP_VERIFY: Script = Script::new("otp_verify", include_str!("lua/otp_verify.lua"));

/// Fixed-window counter: INCRBY the cost, and an expiry whenever the key has none, in one step.
/// Answers `{allowed, remaining, reset_ms, retry_ms}`.
pub static RATE_LIMIT_FIXED_WINDOW: Script = Script::new(
    "rate_limit_fixed_window",
    include_str!("lua/rate_limit_fixed_window.lua"),
);

/// Token bucket in a hash `{tokens, ts}`, timed by the server's clock. Answers
/// `{allowed, remaining, reset_ms, retry_ms}`.
pub static RATE_LIMIT_TOKEN_BUCKET: Script = Script::new(
    "rate_limit_token_bucket",
    include_str!("lua/rate_limit_token_bucket.lua"),
);

/// Sliding window (weighted previous window) in a hash `{start, cur, prev}`, timed by the
/// server's clock. Answers `{allowed, remaining, reset_ms, retry_ms}`.
pub static RATE_LIMIT_SLIDING_WINDOW: Script = Script::new(
    "rate_limit_sliding_window",
    include_str!("lua/rate_limit_sliding_window.lua"),
);

/// Takes `lock:<name>` for a random owner token with `SET NX PX` and, only then, draws the next
/// fencing token from `{lock:<name>}:fence` and renews that counter's lifetime. Answers the
/// token, or 0 when the lock is held.
pub static LOCK_ACQUIRE: Script = Script::new("lock_acquire", include_str!("lua/lock_acquire.lua"));

/// Compare-and-delete: deletes a lock only for the owner token that holds it. Answers 1 or 0.
pub static LOCK_RELEASE: Script = Script::new("lock_release", include_str!("lua/lock_release.lua"));

/// Compare-and-PEXPIRE: a new lifetime only for the owner token that holds the lock. 1 or 0.
pub static LOCK_EXTEND: Script = Script::new("lock_extend", include_str!("lua/lock_extend.lua"));
/// `cache.wrap`'s claim of a key's loading lock: the value (or, when refreshing, a fresh value)
/// found in the same step answers instead, so no instance loads a value another just stored.
/// Answers the value, 1 (claimed) or 0 (another instance holds the lock).
pub static CACHE_WRAP_CLAIM: Script =
    Script::new("cache_wrap_claim", include_str!("lua/cache_wrap_claim.lua"));

/// A fixed window's hit counter for express-rate-limit (`RateLimitStore`): INCRBY a change and
/// start the window on the first hit, in one step. Answers `{hits, reset_ms}`.
pub static WINDOW_HITS: Script = Script::new("window_hits", include_str!("lua/window_hits.lua"));

/// `WINDOW_HITS` over many counters in one call, in order, each change as `WINDOW_HITS` makes
/// it. Answers per counter `{hits, reset_ms}` or its error's message.
pub static WINDOW_HITS_MANY: Script = Script::new(
    "window_hits_many",
    concat!(
        "local function one(KEYS, ARGV)\n",
        include_str!("lua/window_hits.lua"),
        "end\n",
        include_str!("lua/window_hits_many.lua"),
    ),
);

/// Every script the features run, for servers that must recognise them by source or SHA-1 (the
/// rest-server on the embedded store runs their native implementations).
pub static ALL: [&Script; 10] = [
    &OTP_VERIFY,
    &RATE_LIMIT_FIXED_WINDOW,
    &RATE_LIMIT_TOKEN_BUCKET,
    &RATE_LIMIT_SLIDING_WINDOW,
    &LOCK_ACQUIRE,
    &LOCK_RELEASE,
    &LOCK_EXTEND,
    &CACHE_WRAP_CLAIM,
    &WINDOW_HITS,
    &WINDOW_HITS_MANY,
];

/// The script whose hex SHA-1 is `sha1` (any case), as EVALSHA names it.
pub fn by_sha1(sha1: &[u8]) -> Option<&'static Script> {
    ALL.iter()
        .copied()
        .find(|s| s.sha1().as_bytes().eq_ignore_ascii_case(sha1))
}

/// The script with exactly this source, as EVAL sends it.
pub fn by_source(source: &[u8]) -> Option<&'static Script> {
    ALL.iter().copied().find(|s| s.source.as_bytes() == source)
}

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
    let first = call(script_command(script, true, &keys, &args)).await;
    if is_noscript(&first) {
        return call(script_command(script, false, &keys, &args)).await;
    }
    first
}

/// `EVALSHA sha1 …` (or `EVAL source …` when the server lost the script) with its operands.
fn script_command(script: &Script, by_sha: bool, keys: &[Bytes], args: &[Bytes]) -> Cmd {
    let head = if by_sha {
        Cmd::new("EVALSHA").arg(script.sha1())
    } else {
        Cmd::new("EVAL").arg(script.source)
    };
    head.arg(keys.len()).args(keys.iter()).args(args.iter())
}

/// One script invocation, for batches.
#[derive(Clone)]
pub struct ScriptCall {
    pub script: &'static Script,
    pub keys: Vec<Bytes>,
    pub args: Vec<Bytes>,
}

impl ScriptCall {
    fn command(&self, by_sha: bool) -> Cmd {
        script_command(self.script, by_sha, &self.keys, &self.args)
    }
}

fn is_noscript(item: &Result<Reply>) -> bool {
    matches!(item, Err(err) if err.is_server(redis::ServerErrorKind::NoScript))
}

/// Many script calls in one pipeline of EVALSHA; the calls the server answered NOSCRIPT (its
/// script cache was flushed) go again, by EVAL, in a second pipeline. Each call keeps its own
/// outcome.
pub async fn eval_many_by_sha<F, Fut>(
    calls: &[ScriptCall],
    mut pipeline: F,
) -> Result<Vec<Result<Reply>>>
where
    F: FnMut(Vec<Cmd>) -> Fut,
    Fut: Future<Output = Result<Vec<Result<Reply>>>>,
{
    let mut items = pipeline(calls.iter().map(|c| c.command(true)).collect()).await?;
    let lost: Vec<usize> = (0..items.len())
        .filter(|&i| is_noscript(&items[i]))
        .collect();
    if !lost.is_empty() {
        let again = pipeline(lost.iter().map(|&i| calls[i].command(false)).collect()).await?;
        for (i, item) in lost.into_iter().zip(again) {
            items[i] = item;
        }
    }
    Ok(items)
}

/// The reply of a server whose script cache lost the script, as the backends type it.
#[cfg(test)]
fn noscript() -> crate::Error {
    crate::Error::server(
        redis::ServerErrorKind::NoScript,
        "NOSCRIPT No matching script.",
    )
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
                        Err(noscript())
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

#[cfg(test)]
mod batch_tests {
    use super::*;
    use crate::Error;

    #[tokio::test]
    async fn only_the_lost_scripts_go_again_by_eval() {
        let calls = vec![
            ScriptCall {
                script: script_static(),
                keys: vec![],
                args: vec![],
            };
            3
        ];
        let mut rounds = Vec::new();
        let items = eval_many_by_sha(&calls, |cmds| {
            rounds.push(cmds.iter().map(Cmd::name).collect::<Vec<_>>());
            let first = rounds.len() == 1;
            async move {
                Ok(if first {
                    vec![Ok(Reply::Int(1)), Err(noscript()), Err(Error::wrong_type())]
                } else {
                    vec![Ok(Reply::Int(2))]
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(
            rounds,
            vec![vec!["EVALSHA".to_string(); 3], vec!["EVAL".to_string()]]
        );
        assert_eq!(items[0], Ok(Reply::Int(1)));
        assert_eq!(items[1], Ok(Reply::Int(2)));
        assert!(items[2].is_err());
    }

    #[test]
    fn scripts_are_found_by_sha1_and_by_source() {
        for script in ALL {
            assert_eq!(by_sha1(script.sha1().as_bytes()).unwrap().name, script.name);
            let upper = script.sha1().to_ascii_uppercase();
            assert_eq!(by_sha1(upper.as_bytes()).unwrap().name, script.name);
            assert_eq!(
                by_source(script.source.as_bytes()).unwrap().name,
                script.name
            );
        }
        assert!(by_sha1(b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db").is_none());
        assert!(by_source(b"return 1").is_none());
    }

    fn script_static() -> &'static Script {
        &OTP_VERIFY
    }
}
