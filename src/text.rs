//! Stored bytes as the string JS gets.

/// The bytes as text, invalid UTF-8 (never written by this package) replaced.
pub fn text(bytes: bytes::Bytes) -> String {
    // Vec::from takes the buffer without copying when the Bytes is its only owner.
    match String::from_utf8(Vec::from(bytes)) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Stored bytes that become a JS string straight from the buffer: one copy (V8's) instead of
/// three, for the near cache's hits. Invalid UTF-8 is replaced, as by `text`.
pub struct Utf8Text(pub bytes::Bytes);

impl napi::bindgen_prelude::TypeName for Utf8Text {
    fn type_name() -> &'static str {
        "string"
    }

    fn value_type() -> napi::ValueType {
        napi::ValueType::String
    }
}

impl napi::bindgen_prelude::ToNapiValue for Utf8Text {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        let mut out = std::ptr::null_mut();
        // SAFETY: the pointer and length describe `val`'s bytes, alive for the call; napi copies
        // them into the new string.
        let status = unsafe {
            napi::sys::napi_create_string_utf8(
                env,
                val.0.as_ptr().cast(),
                val.0.len() as isize,
                &mut out,
            )
        };
        if status == napi::sys::Status::napi_ok {
            Ok(out)
        } else {
            Err(napi::Error::new(
                napi::Status::from(status),
                "a stored value could not become a string",
            ))
        }
    }
}
