use bytes::Bytes;

use super::{all_ok, single_key::set_command, unexpected, Features};
use crate::lua::{ScriptCall, OTP_VERIFY};
use crate::{keys, Cmd, Error, ErrorKind, Reply, Result};

/// A new one-time code of `digits` digits (`otp.generate`): `number` is the value given when it
/// is a number, `described` says what it is otherwise, for the message refusing it. Drawn
/// uniformly from the OS's CSPRNG, leading zeros kept ('012345').
pub fn new_code(number: Option<f64>, described: impl FnOnce() -> String) -> Result<String> {
    use rand::rngs::OsRng;
    use rand::TryRngCore;
    let digits = match number {
        Some(n) if n.fract() == 0.0 && (4.0..=12.0).contains(&n) => n as usize,
        _ => {
            let message = format!(
                "digits must be an integer from 4 to 12, got {}",
                described()
            );
            return Err(Error::new(ErrorKind::InvalidArgument, message));
        }
    };
    // Uniform by rejection: draws at or above the largest multiple of `bound` are drawn again.
    // A failing OS source is an error, never a panic (this runs in a sync napi call).
    let bound = 10u64.pow(digits as u32);
    let zone = u64::MAX - u64::MAX % bound;
    let code = loop {
        let draw = OsRng.try_next_u64().map_err(|err| {
            Error::new(
                ErrorKind::Internal,
                format!("the OS random source failed: {err}"),
            )
        })?;
        if draw < zone {
            break draw % bound;
        }
    };
    Ok(format!("{code:0digits$}"))
}

/// The script call that checks `code` against `otp:<id>`.
fn verify_call(id: &str, code: &str, max_attempts: u32) -> ScriptCall {
    ScriptCall {
        script: &OTP_VERIFY,
        keys: vec![Bytes::from(keys::otp(id)), Bytes::from(keys::otp_tries(id))],
        args: vec![
            Bytes::copy_from_slice(code.as_bytes()),
            Bytes::from(max_attempts.max(1).to_string()),
        ],
    }
}

fn verified(reply: Reply) -> Result<bool> {
    match reply.as_int() {
        Some(n) => Ok(n == 1),
        None => Err(unexpected("otp_verify", &reply)),
    }
}

impl Features {
    /// Stores a code and forgets the wrong guesses made against an earlier one (a resend), in
    /// one transaction.
    pub async fn otp_store(&self, id: &str, code: Bytes, ttl_seconds: Option<u64>) -> Result<()> {
        let cmds = vec![
            set_command(keys::otp(id), code, ttl_seconds),
            Cmd::new("DEL").arg(keys::otp_tries(id)),
        ];
        all_ok(self.backend.pipeline(cmds, true).await?)?;
        Ok(())
    }

    /// True when `code` equals the stored code as a string; a match consumes the code, a
    /// mismatch counts a wrong guess and `max_attempts` of them destroy it. One atomic step,
    /// so concurrent verifications of the right code succeed exactly once.
    pub async fn otp_verify(&self, id: &str, code: &str, max_attempts: u32) -> Result<bool> {
        let call = verify_call(id, code, max_attempts);
        verified(self.backend.eval(call.script, call.keys, call.args).await?)
    }

    /// Many verifications in one round trip where the backend can; each keeps its outcome.
    pub async fn otp_verify_many(
        &self,
        attempts: &[(String, String)],
        max_attempts: u32,
    ) -> Result<Vec<Result<bool>>> {
        let calls = attempts
            .iter()
            .map(|(id, code)| verify_call(id, code, max_attempts))
            .collect();
        let items = self.backend.eval_many(calls).await?;
        Ok(items.into_iter().map(|item| verified(item?)).collect())
    }
}

#[cfg(test)]
mod code_tests {
    use super::new_code;

    #[test]
    fn codes_have_the_digits_asked_for() {
        for digits in [4.0, 6.0, 12.0] {
            let code = new_code(Some(digits), String::new).unwrap();
            assert_eq!(code.len(), digits as usize);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        // Leading zeros are kept, and the whole range is drawn from (P(no code < 1000 in
        // 2,000 draws) = 0.9^2000).
        let codes: Vec<String> = (0..2000)
            .map(|_| new_code(Some(4.0), String::new).unwrap())
            .collect();
        assert!(codes.iter().any(|c| c.starts_with('0')));
        assert!(codes.iter().any(|c| c.starts_with('9')));
        for bad in [Some(3.0), Some(13.0), Some(6.5), Some(f64::NAN), None] {
            assert_eq!(
                new_code(bad, || "number 3".into()).unwrap_err().message,
                "digits must be an integer from 4 to 12, got number 3"
            );
        }
    }
}
