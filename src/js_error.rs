//! How a failure reaches JS: an `Error` whose `code` property is the core error's code
//! (`ERR_TIMEOUT`, `ERR_CONNECTION`, ...) and whose message is the core message, both set here,
//! so the JS layer reads `err.code` and never parses a message. Failures of napi itself keep
//! napi's status as their code (`InvalidArg`, `GenericFailure`, ...).

use digis_redis_core::ErrorKind;
use napi::bindgen_prelude::{Function, JsObjectValue, Object, Unknown};
use napi::{Env, Error, JsString, JsValue, Status, ValueType};

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

/// What a refused JS value is, for a message: its type (with the value for a number or a
/// boolean, the length for a string), never its content. The JS layer's `describe`.
#[napi_derive::napi(js_name = "describe")]
pub fn describe_value(env: Env, value: Unknown) -> String {
    describe(&env, value)
}

/// The value when it is a number (NaN and the infinities included).
pub fn number(value: &Unknown) -> Option<f64> {
    match value.get_type() {
        Ok(ValueType::Number) => unsafe { value.cast::<f64>() }.ok(),
        _ => None,
    }
}

/// [`describe_value`], for the binding's own argument checks.
pub fn describe(env: &Env, value: Unknown) -> String {
    match value.get_type() {
        Ok(ValueType::Null) => "null".into(),
        Ok(kind @ (ValueType::Number | ValueType::Boolean)) => {
            let text = value.coerce_to_string().and_then(|s| s.into_utf8());
            let text = text.and_then(|s| s.into_owned()).unwrap_or_default();
            let name = if kind == ValueType::Number {
                "number"
            } else {
                "boolean"
            };
            format!("{name} {text}")
        }
        Ok(ValueType::String) => {
            let length = unsafe { value.cast::<JsString>() }.and_then(|s| s.utf16_len());
            format!("a string of length {}", length.unwrap_or_default())
        }
        Ok(kind @ (ValueType::Object | ValueType::Function)) => {
            // Array.isArray itself, which sees through a proxy and throws for a revoked one.
            let is_array = env.get_global().and_then(|global| {
                let array: Unknown = global.get_named_property("Array")?;
                let array = unsafe { array.cast::<Object>() }?;
                let is_array: Function<Unknown, bool> = array.get_named_property("isArray")?;
                is_array.call(value)
            });
            match is_array {
                Ok(true) => "an array".into(),
                Ok(false) if kind == ValueType::Function => "function".into(),
                Ok(false) => "object".into(),
                Err(_) => "a revoked proxy".into(),
            }
        }
        Ok(ValueType::Undefined) => "undefined".into(),
        Ok(ValueType::Symbol) => "symbol".into(),
        Ok(ValueType::BigInt) => "bigint".into(),
        _ => "object".into(),
    }
}
