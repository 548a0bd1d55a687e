use bytes::Bytes;

use super::{all_ok, unexpected, values::set_command, Features};
use crate::{keys, script::OTP_VERIFY, Cmd, Result};

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
        let reply = self
            .backend
            .eval(
                &OTP_VERIFY,
                vec![Bytes::from(keys::otp(id)), Bytes::from(keys::otp_tries(id))],
                vec![
                    Bytes::copy_from_slice(code.as_bytes()),
                    Bytes::from(max_attempts.max(1).to_string()),
                ],
            )
            .await?;
        match reply.as_int() {
            Some(n) => Ok(n == 1),
            None => Err(unexpected("otp_verify", &reply)),
        }
    }
}
