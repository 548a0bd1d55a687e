//! The REST server's request parsers, fed arbitrary bytes: JSON command bodies (`POST /`),
//! pipeline and transaction bodies (`POST /pipeline`, `/multi-exec`), path-style commands
//! (`/set/k/v` plus an optional POST body), and the refusal check every parsed command goes
//! through.
//!
//! Input: the first byte picks what the rest is parsed as.
//! Properties: no panic; a parsed command is never empty; written back as a JSON array of
//! strings (or a percent-encoded path), it parses to the very same arguments.
#![no_main]

use digis_redis_rest_server::fuzzing::{parse_batch, parse_command, parse_path, refusal, Args};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{percent_encode, NON_ALPHANUMERIC};

fn as_json(args: &Args) -> Vec<u8> {
    // Every argument of a parsed JSON body is UTF-8: a JSON string, or a number's own text.
    let strings: Vec<&str> = args
        .iter()
        .map(|a| std::str::from_utf8(a).expect("a JSON argument that is not UTF-8"))
        .collect();
    serde_json::to_vec(&strings).unwrap()
}

fn check(args: &Args) {
    assert!(!args.is_empty());
    let _ = refusal(args);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(args) = parse_command(rest) {
                check(&args);
                assert_eq!(parse_command(&as_json(&args)).as_ref(), Ok(&args));
            }
        }
        1 => {
            if let Ok(commands) = parse_batch(rest) {
                assert!(!commands.is_empty());
                commands.iter().for_each(check);
                let again: Vec<serde_json::Value> = commands
                    .iter()
                    .map(|c| serde_json::from_slice(&as_json(c)).unwrap())
                    .collect();
                let body = serde_json::to_vec(&again).unwrap();
                assert_eq!(parse_batch(&body).as_ref(), Ok(&commands));
            }
        }
        _ => {
            // hyper hands the path over as a &str; a 0x00 splits the path from a POST body.
            let (path, body) = match rest.iter().position(|&b| b == 0) {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            let Ok(path) = std::str::from_utf8(path) else {
                return;
            };
            if let Ok(args) = parse_path(path, body) {
                check(&args);
                // Without the body, the arguments written back as a path (with a trailing
                // slash, which the parser drops) come back the same.
                let n = args.len() - usize::from(body.is_some_and(|b| !b.is_empty()));
                let mut again = String::new();
                for arg in &args[..n] {
                    again.push('/');
                    again.extend(percent_encode(arg, NON_ALPHANUMERIC));
                }
                again.push('/');
                let parsed = parse_path(&again, None)
                    .unwrap_or_else(|e| panic!("{path:?} -> {args:?} -> {again:?}: {e}"));
                assert_eq!(&parsed[..], &args[..n], "{path:?} -> {again:?}");
            }
        }
    }
});
