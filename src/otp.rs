//! One-time codes.

use digis_redis_binding_macros::feature_methods;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::batch::split_outcomes;
use crate::js_error::{self, describe, number, Code};
use crate::NativeClient;

/// A new code of `digits` digits (4 to 12) for `otp.generate`, from the OS's CSPRNG; throws
/// (ERR_INVALID_ARGUMENT) for another `digits`.
#[napi]
pub fn otp_code(env: Env, digits: Unknown) -> std::result::Result<String, Error<Code>> {
    let code = digis_redis_core::features::new_otp_code(number(&digits), || describe(&env, digits));
    code.map_err(js_error::to_js)
}

/// A batch of one-time-code checks: per item whether the code matched, or null with its error
/// at the same index of `errors` (null when every check succeeded).
#[napi(object, object_from_js = false)]
pub struct OtpVerifyBatch {
    pub values: Vec<Option<bool>>,
    pub errors: Option<Vec<Option<Error<Code>>>>,
}

#[feature_methods]
#[napi]
impl NativeClient {
    fn otp_store(&self, id: String, code: String, ttl_seconds: Option<u32>) -> () {
        move |f| async move {
            f.otp_store(&id, code.into(), ttl_seconds.map(u64::from))
                .await
        }
    }

    /// Verifications gathered within one tick, as one pipeline of scripts: per item `true` /
    /// `false`, or null with its error at the same index of `errors`.
    fn otp_verify_many(
        &self,
        ids: Vec<String>,
        codes: Vec<String>,
        max_attempts: u32,
    ) -> OtpVerifyBatch {
        let attempts: Vec<(String, String)> = ids.into_iter().zip(codes).collect();
        move |f| async move {
            let items = f.otp_verify_many(&attempts, max_attempts).await?;
            let (values, errors) = split_outcomes(items);
            Ok(OtpVerifyBatch { values, errors })
        }
    }

    fn otp_verify(&self, id: String, code: String, max_attempts: u32) -> bool {
        move |f| async move { f.otp_verify(&id, &code, max_attempts).await }
    }
}
