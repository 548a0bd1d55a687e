//! The embedded store's glob matcher (`KEYS`, `SCAN MATCH`), against an independent
//! transcription of Redis's `stringmatchlen` (see `redis_stringmatch`).
//!
//! Input: pattern and string separated by the first 0x00 byte (both may hold any byte after).
//! Properties: no panic, no runaway time (libFuzzer's -timeout), and the same answer as
//! Redis's algorithm comparing range bounds as signed bytes, as redis-server does on x86-64.
#![no_main]

use digis_redis_fuzz::{glob_matches, redis_stringmatch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pattern, string) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let got = glob_matches(pattern, string);
    let want = redis_stringmatch(pattern, string, true);
    assert_eq!(
        got,
        want,
        "pattern {:?} string {:?}",
        String::from_utf8_lossy(pattern),
        String::from_utf8_lossy(string)
    );
});
