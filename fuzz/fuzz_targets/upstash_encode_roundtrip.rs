//! The request side of the REST protocol, across the two crates: a command encoded by the
//! Upstash client codec (`encode_command` / `encode_batch`) must be parsed back to exactly its
//! arguments by the REST server (`parse_command` / `parse_batch`); a binary (non-UTF-8)
//! argument must be refused by the encoder, never sent mangled.
//!
//! Input: commands separated by 0x00 bytes, arguments by 0x01 bytes.
#![no_main]

use bytes::Bytes;
use digis_redis_core::Cmd;
use digis_redis_fuzz::{split, upstash};
use digis_redis_rest_server::fuzzing::{parse_batch, parse_command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cmds: Vec<Cmd> = split(data, 0)
        .into_iter()
        .map(|c| {
            Cmd::from_parts(
                split(c, 1)
                    .into_iter()
                    .map(Bytes::copy_from_slice)
                    .collect(),
            )
        })
        .collect();
    let all_utf8 = |cmd: &Cmd| cmd.parts().iter().all(|p| std::str::from_utf8(p).is_ok());

    for cmd in &cmds {
        match upstash::encode_command(cmd) {
            Ok(body) => {
                assert!(all_utf8(cmd));
                let args = parse_command(&body)
                    .unwrap_or_else(|e| panic!("{cmd:?} encoded as {body:?}, refused: {e}"));
                assert_eq!(
                    args,
                    cmd.parts().iter().map(|p| p.to_vec()).collect::<Vec<_>>()
                );
            }
            Err(_) => assert!(!all_utf8(cmd), "{cmd:?} refused by the encoder"),
        }
    }

    match upstash::encode_batch(&cmds) {
        Ok(body) => {
            assert!(cmds.iter().all(all_utf8));
            let parsed = parse_batch(&body)
                .unwrap_or_else(|e| panic!("{cmds:?} encoded as {body:?}, refused: {e}"));
            let want: Vec<Vec<Vec<u8>>> = cmds
                .iter()
                .map(|c| c.parts().iter().map(|p| p.to_vec()).collect())
                .collect();
            assert_eq!(parsed, want);
        }
        Err(_) => assert!(!cmds.iter().all(all_utf8)),
    }
});
