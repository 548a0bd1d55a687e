//! Stored bytes as the string JS gets.

/// The bytes as text, invalid UTF-8 (never written by this package) replaced.
pub fn text(bytes: bytes::Bytes) -> String {
    // Vec::from takes the buffer without copying when the Bytes is its only owner.
    match String::from_utf8(Vec::from(bytes)) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
