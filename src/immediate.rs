//! What the embedded store's synchronous free functions share (`embeddedGet`,
//! `embeddedRateLimitCheck`, ...): the error for a backend that cannot answer at once, and the
//! numbers they answer into an array the JS caller reuses for every call, which costs far less
//! than a JS object built through napi per call.

use digis_redis_core::ErrorKind;
use napi::bindgen_prelude::{Error, Float64ArraySlice};

use crate::js_error::{self, Code};

pub(crate) fn not_immediate(what: &str) -> Error<Code> {
    js_error::core(
        ErrorKind::Unsupported,
        format!("{what} needs a backend that answers without I/O"),
    )
}

/// The first `N` numbers of `array`, for `call` to write its answer into.
pub(crate) fn answer_slots<'a, const N: usize>(
    array: &'a mut Float64ArraySlice,
    call: &str,
) -> Result<&'a mut [f64; N], Error<Code>> {
    // SAFETY: the array is one lib/ made for this call on a plain (not shared) buffer, and JS
    // cannot run while a synchronous call holds its thread, so nothing else touches it.
    let numbers = unsafe { array.as_mut() };
    numbers
        .get_mut(..N)
        .and_then(|first| <&mut [f64; N]>::try_from(first).ok())
        .ok_or_else(|| {
            js_error::core(
                ErrorKind::InvalidArgument,
                format!("{call} needs a Float64Array of at least {N} numbers"),
            )
        })
}
