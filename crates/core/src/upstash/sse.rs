//! Pub/sub over REST, as Upstash serves it: `POST <url>/subscribe/<channel>` (or
//! `/psubscribe/<pattern>`) answers a server-sent-event stream of `data: message,<channel>,
//! <payload>` (`data: pmessage,<pattern>,<channel>,<payload>`) lines. One request per name, as
//! @upstash/redis sends them; dropping the events' receiver ends the requests (unsubscribes).

use bytes::{Bytes, BytesMut};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use tokio::sync::mpsc;

use super::{codec, Http};
use crate::pubsub::{confirmations, Event, Kind};
use crate::{Error, ErrorKind, Result};

/// A line longer than this (a huge message) ends the stream rather than growing without bound.
const MAX_LINE: usize = 16 * 1024 * 1024;

impl Http {
    pub(super) async fn subscribe(
        &self,
        kind: Kind,
        names: Vec<Bytes>,
        events: mpsc::Sender<Event>,
    ) -> Result<()> {
        let client = self.client()?;
        let route = kind.command();
        let mut streams = Vec::with_capacity(names.len());
        for name in &names {
            let mut url = self.command_url.clone();
            url.path_segments_mut()
                .map_err(|_| {
                    Error::new(ErrorKind::InvalidArgument, "upstash url cannot take a path")
                })?
                .pop_if_empty()
                .push(route)
                .push(&String::from_utf8_lossy(name));
            let mut request = client
                .post(url)
                .header(ACCEPT, "text/event-stream")
                .header(CONTENT_TYPE, "application/json")
                .body("[]");
            if let Some(auth) = &self.auth {
                request = request.header(AUTHORIZATION, auth.clone());
            }
            let sent = tokio::time::timeout(self.timeouts.connect() * 2, request.send()).await;
            let response = match sent {
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        "upstash subscription timed out before the server answered",
                    ))
                }
                Ok(Err(err)) => return Err(self.request_error(err, 1)),
                Ok(Ok(response)) => response,
            };
            let status = response.status().as_u16();
            if status != 200 {
                let body = response.bytes().await.unwrap_or_default();
                codec::decode_reply(status, &body, &self.secrets)?;
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("upstash answered the subscription with HTTP {status}"),
                ));
            }
            streams.push((name.clone(), response));
        }
        for confirmation in confirmations(&names) {
            if events.try_send(confirmation).is_err() {
                return Ok(());
            }
        }
        for (name, response) in streams {
            tokio::spawn(read_stream(kind, name, response, events.clone()));
        }
        Ok(())
    }
}

/// Forwards the messages of one subscription stream until either side ends.
async fn read_stream(
    kind: Kind,
    name: Bytes,
    mut response: reqwest::Response,
    events: mpsc::Sender<Event>,
) {
    let mut buffer = BytesMut::new();
    loop {
        let chunk = tokio::select! {
            _ = events.closed() => return,
            chunk = response.chunk() => match chunk {
                Ok(Some(chunk)) => chunk,
                _ => return,
            },
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line = buffer.split_to(end + 1).freeze();
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(event) = line
                .strip_prefix(b"data: ")
                .and_then(|d| parse(kind, &name, d))
            {
                if events.try_send(event).is_err() {
                    return;
                }
            }
        }
        if buffer.len() > MAX_LINE {
            return;
        }
    }
}

/// A `message,<channel>,<payload>` or `pmessage,<pattern>,<channel>,<payload>` line of the
/// subscription to `name`; `None` for confirmations and anything else.
fn parse(kind: Kind, name: &[u8], data: &[u8]) -> Option<Event> {
    let rest = match kind {
        Kind::Channels => data.strip_prefix(&b"message,"[..])?,
        Kind::Patterns => data.strip_prefix(&b"pmessage,"[..])?,
    };
    // The name is known, so a comma inside it does not confuse the split.
    let after_name = rest.strip_prefix(name)?.strip_prefix(b",")?;
    Some(match kind {
        Kind::Channels => Event::Message {
            pattern: None,
            channel: Bytes::copy_from_slice(name),
            payload: Bytes::copy_from_slice(after_name),
        },
        Kind::Patterns => {
            let comma = after_name.iter().position(|&b| b == b',')?;
            Event::Message {
                pattern: Some(Bytes::copy_from_slice(name)),
                channel: Bytes::copy_from_slice(&after_name[..comma]),
                payload: Bytes::copy_from_slice(&after_name[comma + 1..]),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_as_upstash_writes_them() {
        assert_eq!(
            parse(Kind::Channels, b"a,b", b"message,a,b,{\"x\":1}"),
            Some(Event::Message {
                pattern: None,
                channel: Bytes::from_static(b"a,b"),
                payload: Bytes::from_static(b"{\"x\":1}"),
            })
        );
        assert_eq!(
            parse(Kind::Patterns, b"r*", b"pmessage,r*,room,hi, there"),
            Some(Event::Message {
                pattern: Some(Bytes::from_static(b"r*")),
                channel: Bytes::from_static(b"room"),
                payload: Bytes::from_static(b"hi, there"),
            })
        );
        assert_eq!(parse(Kind::Channels, b"a", b"subscribe,a,1"), None);
        assert_eq!(parse(Kind::Channels, b"a", b"message,other,x"), None);
    }
}
