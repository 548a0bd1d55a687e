//! How a failure reaches JS: an `Error` whose `code` property is the core error's code
//! (`ERR_TIMEOUT`, `ERR_CONNECTION`, ...) and whose message is the core message, both set here,
//! so the JS layer reads `err.code` and never parses a message. Failures of napi itself keep
//! napi's status as their code (`InvalidArg`, `GenericFailure`, ...).

use digis_redis_core::ErrorKind;
use napi::{Error, Status};

/// The `code` of an error thrown or rejected by the binding.
#[derive(Clone, Copy, Debug)]
pub enum Code {
    Core(ErrorKind),
    Napi(Status),
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::Core(kind) => kind.code(),
            Code::Napi(status) => status.as_ref(),
        }
    }
}

pub fn to_js(err: digis_redis_core::Error) -> Error<Code> {
    Error::new(Code::Core(err.kind), err.message)
}

pub fn core(kind: ErrorKind, message: impl Into<String>) -> Error<Code> {
    to_js(digis_redis_core::Error::new(kind, message))
}

/// A napi failure (creating a promise, converting a value) with napi's status as its code.
pub fn from_napi(err: Error) -> Error<Code> {
    Error::new(Code::Napi(err.status), err.reason)
}

/// The codes the core gives its errors, for the JS layer to tell the binding's failures from
/// anything else thrown.
#[napi_derive::napi]
pub fn error_codes() -> Vec<&'static str> {
    ErrorKind::ALL.iter().map(|kind| kind.code()).collect()
}
