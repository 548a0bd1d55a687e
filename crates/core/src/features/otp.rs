use bytes::Bytes;

use super::{unexpected, Features};
use crate::{keys, script::OTP_VERIFY, Result};

impl Features {
    /// True when `code` equals the stored code as a string; a match consumes the code. One
    /// atomic step, so concurrent verifications of the right code succeed exactly once.
    pub async fn otp_verify(&self, id: &str, code: &str) -> Result<bool> {
        let reply = self
            .backend
            .eval(
                &OTP_VERIFY,
                vec![Bytes::from(keys::otp(id))],
                vec![Bytes::copy_from_slice(code.as_bytes())],
            )
            .await?;
        match reply.as_int() {
            Some(n) => Ok(n == 1),
            None => Err(unexpected("otp_verify", &reply)),
        }
    }
}
