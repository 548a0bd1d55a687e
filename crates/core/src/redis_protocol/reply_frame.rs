//! Cutting RESP2 replies out of a byte stream as they arrive, for a connection that reads its
//! socket itself (connector.rs). [`ReplyFrames`] finds where the first whole reply ends,
//! resuming where the previous attempt stopped, so a reply that arrives in many reads (a large
//! MGET) is scanned once, not once per read; [`build_value`] then turns the whole reply into
//! the value redis-rs's own parser would give.

use redis::Value;

/// The scan of the reply at the front of the buffer, kept between reads.
#[derive(Debug, Default)]
pub struct ReplyFrames {
    /// Bytes of the front reply known to be whole elements.
    scanned: usize,
    /// Elements still to come before the front reply is whole (0: not started).
    missing: usize,
}

/// A reply that is not RESP2.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ReplyFrames {
    /// The length of the first whole reply in `buf`, or None until more bytes arrive.
    /// `buf` must start where the previous whole reply ended and only grow between calls.
    pub fn next_len(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.missing == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            self.scanned = 0;
            self.missing = 1;
        }
        while self.missing > 0 {
            let Some((header_end, kind, number)) = header(buf, self.scanned)? else {
                return Ok(None);
            };
            let mut end = header_end;
            self.missing -= 1;
            match kind {
                b'$' if number >= 0 => {
                    end += number as usize + 2;
                    if buf.len() < end {
                        self.missing += 1;
                        return Ok(None);
                    }
                }
                b'*' if number > 0 => self.missing += number as usize,
                _ => {}
            }
            self.scanned = end;
        }
        Ok(Some(self.scanned))
    }
}

/// The header line at `at`: where it ends (after CRLF), its type byte, and its number for `$`,
/// `*` and `:` (0 for the others). None while the line is incomplete.
fn header(buf: &[u8], at: usize) -> Result<Option<(usize, u8, i64)>, ProtocolError> {
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let Some(newline) = buf[at..].iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let line_end = at + newline;
    if newline < 2 || buf[line_end - 1] != b'\r' {
        return Err(ProtocolError(format!("malformed reply line at byte {at}")));
    }
    let text = &buf[at + 1..line_end - 1];
    let number = match kind {
        b'+' | b'-' => 0,
        b'$' | b'*' | b':' => std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| {
                ProtocolError(format!("malformed number in a {} reply", kind as char))
            })?,
        other => {
            return Err(ProtocolError(format!(
                "unexpected reply type {:?} (only RESP2 is spoken)",
                other as char
            )))
        }
    };
    Ok(Some((line_end + 1, kind, number)))
}

/// The value of one whole reply, as [`ReplyFrames::next_len`] delimited it.
pub fn build_value(reply: &[u8]) -> Value {
    let mut at = 0;
    build_at(reply, &mut at)
}

fn build_at(buf: &[u8], at: &mut usize) -> Value {
    let (line_end, kind, number) = header(buf, *at)
        .ok()
        .flatten()
        .expect("a whole reply, delimited by ReplyFrames");
    let text = &buf[*at + 1..line_end - 2];
    let start = *at;
    *at = line_end;
    match kind {
        b'+' if text == b"OK" => Value::Okay,
        b'+' => Value::SimpleString(String::from_utf8_lossy(text).into_owned()),
        // redis-rs's parser knows every error kind (NOSCRIPT, MOVED...): it reads the line.
        b'-' => redis::parse_redis_value(&buf[start..line_end])
            .unwrap_or_else(|e| Value::SimpleString(e.to_string())),
        b':' => Value::Int(number),
        b'$' if number < 0 => Value::Nil,
        b'$' => {
            let data = buf[*at..*at + number as usize].to_vec();
            *at += number as usize + 2;
            Value::BulkString(data)
        }
        _ if number < 0 => Value::Nil,
        _ => Value::Array((0..number).map(|_| build_at(buf, at)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way of splitting a stream of replies into reads yields the same values as parsing
    /// each reply whole with redis-rs.
    #[test]
    fn replies_split_anywhere_come_out_whole_and_as_redis_rs_reads_them() {
        let replies: Vec<&[u8]> = vec![
            b"+OK\r\n",
            b"+PONG\r\n",
            b"-ERR wrong number of arguments\r\n",
            b"-NOSCRIPT No matching script\r\n",
            b":-42\r\n",
            b"$-1\r\n",
            b"$0\r\n\r\n",
            b"$5\r\nab\r\nc\r\n",
            b"*-1\r\n",
            b"*0\r\n",
            b"*3\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n$2\r\nxy\r\n",
        ];
        let stream: Vec<u8> = replies.concat();
        for step in 1..=stream.len() {
            let mut frames = ReplyFrames::default();
            let mut buf = Vec::new();
            let mut got = Vec::new();
            for chunk in stream.chunks(step) {
                buf.extend_from_slice(chunk);
                while let Some(len) = frames.next_len(&buf).unwrap() {
                    got.push(buf.drain(..len).collect::<Vec<u8>>());
                }
            }
            assert_eq!(got, replies, "reads of {step} bytes");
        }
        for reply in replies {
            let ours = build_value(reply);
            let theirs = redis::parse_redis_value(reply).unwrap();
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
        }
    }

    #[test]
    fn a_reply_that_is_not_resp2_is_a_protocol_error() {
        let mut frames = ReplyFrames::default();
        assert!(frames.next_len(b"%1\r\n").is_err());
        let mut frames = ReplyFrames::default();
        assert!(frames.next_len(b"$x\r\n").is_err());
        let mut frames = ReplyFrames::default();
        assert!(frames.next_len(b"+OK\n").is_err());
    }

    /// A large array arriving a few bytes at a time is scanned from where the last read
    /// stopped: the work stays linear in its size.
    #[test]
    fn a_large_reply_in_small_reads_is_found_whole() {
        let mut stream = b"*20000\r\n".to_vec();
        for i in 0..20000 {
            let item = format!("{i:08}");
            stream.extend_from_slice(format!("${}\r\n{item}\r\n", item.len()).as_bytes());
        }
        let mut frames = ReplyFrames::default();
        let mut buf = Vec::new();
        let mut found = None;
        for chunk in stream.chunks(7) {
            buf.extend_from_slice(chunk);
            if let Some(len) = frames.next_len(&buf).unwrap() {
                found = Some(len);
            }
        }
        assert_eq!(found, Some(stream.len()));
        match build_value(&buf) {
            Value::Array(items) => assert_eq!(items.len(), 20000),
            other => panic!("{other:?}"),
        }
    }
}
