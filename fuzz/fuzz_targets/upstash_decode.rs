//! The Upstash REST reply decoder: `decode_reply` / `decode_batch` of an HTTP status and a body
//! (JSON envelopes, base64 strings at every depth), as `UpstashBackend` feeds them from the
//! network.
//!
//! Input: 2 bytes of HTTP status, 1 byte of expected batch length, then the body.
//! Properties: no panic; no error message contains the secret; a batch decodes to exactly the
//! expected number of items; every successfully decoded reply, encoded again by the REST
//! server's encoder (`Upstash-Encoding: base64`), decodes to the same reply.
#![no_main]

use digis_redis_fuzz::{normalize_nested_status, secrets, to_redis_value, upstash, SECRET};
use digis_redis_rest_server::fuzzing::{encode_result, Encoding};
use libfuzzer_sys::fuzz_target;

fn check_error(e: &digis_redis_core::Error) {
    assert!(
        !e.message.contains(SECRET),
        "the secret leaked into an error message: {:?}",
        e.message
    );
}

fn round_trip(reply: &digis_redis_core::Reply) {
    let secrets = secrets();
    let encoded =
        serde_json::json!({ "result": encode_result(&to_redis_value(reply), Encoding::Base64) });
    let body = serde_json::to_vec(&encoded).unwrap();
    let again = upstash::decode_reply(200, &body, &secrets)
        .unwrap_or_else(|e| panic!("re-encoded reply {reply:?} does not decode: {e:?}"));
    assert_eq!(
        again,
        normalize_nested_status(reply, true),
        "round trip of {reply:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]) % 1000;
    let expected = data[2] as usize % 16;
    let body = &data[3..];
    let secrets = secrets();

    match upstash::decode_reply(status, body, &secrets) {
        Ok(reply) => round_trip(&reply),
        Err(e) => check_error(&e),
    }

    match upstash::decode_batch(status, body, expected, &secrets) {
        Ok(items) => {
            assert_eq!(items.len(), expected);
            for item in &items {
                match item {
                    Ok(reply) => round_trip(reply),
                    Err(e) => check_error(e),
                }
            }
        }
        Err(e) => check_error(&e),
    }
});
