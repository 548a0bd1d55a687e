//! What batches share: per-item errors, and the error of packed arguments that do not add up.

use napi::bindgen_prelude::*;

use crate::js_error::{self, to_js, Code};

/// Per-item errors of a batch: null as a whole when nothing failed, else an Error (with its
/// `code`) or null at each index.
pub type ItemErrors = Option<Vec<Option<Error<Code>>>>;

/// Per-item outcomes as the JS batcher takes them: values (null where an item failed) and the
/// errors.
pub fn split_outcomes<T, U: From<T>>(
    items: Vec<digis_redis_core::Result<T>>,
) -> (Vec<Option<U>>, ItemErrors) {
    let count = items.len();
    let mut values = Vec::with_capacity(count);
    let mut errors: ItemErrors = None;
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Ok(value) => values.push(Some(value.into())),
            Err(err) => {
                values.push(None);
                errors.get_or_insert_with(|| (0..count).map(|_| None).collect())[i] =
                    Some(to_js(err));
            }
        }
    }
    (values, errors)
}

/// Packed strings (see `digis_redis_core::packed`) whose lengths do not match them.
pub fn packing_error(what: &str) -> Error<Code> {
    js_error::core(
        digis_redis_core::ErrorKind::InvalidArgument,
        format!("packed {what} do not match their lengths"),
    )
}
