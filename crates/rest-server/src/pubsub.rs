//! Pub/sub as Upstash serves it over REST: `POST /subscribe/<channel>` (or `/psubscribe/<pattern>`)
//! answers a server-sent-event stream of `data: subscribe,<channel>,<count>`, then
//! `data: message,<channel>,<payload>` (`data: pmessage,<pattern>,<channel>,<payload>`) lines,
//! which @upstash/redis's `subscribe()` reads. The subscription lasts as long as the response:
//! a client that goes away unsubscribes (its stream is dropped, and with it the Redis
//! connection or the in-process subscriber).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use digis_redis_core::pubsub::Event;
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{interval, Interval, MissedTickBehavior};

/// Channels (or patterns) one request may subscribe to; each request holds its own connection.
pub const MAX_PER_CONNECTION: usize = 64;
/// Events held for a subscriber that reads slowly; past this it is disconnected, as Redis
/// drops a pub/sub client whose output buffer overflows.
pub const QUEUE: usize = digis_redis_core::pubsub::QUEUE;
/// A comment line this often keeps proxies from closing an idle stream and lets the server
/// notice a client that is gone.
const KEEPALIVE: Duration = Duration::from_secs(15);

pub use digis_redis_core::pubsub::Kind;

/// One SSE event: `data: <fields joined by commas>` and the blank line that ends it. CR and LF
/// inside a field become spaces: the line format has no escape, and a raw newline in a
/// published payload would otherwise let it forge events.
pub fn event(fields: &[&[u8]]) -> Bytes {
    let mut line = Vec::with_capacity(8 + fields.iter().map(|f| f.len() + 1).sum::<usize>());
    line.extend_from_slice(b"data: ");
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.extend(
            field
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    }
    line.extend_from_slice(b"\n\n");
    Bytes::from(line)
}

/// The body of a subscription response: events as they come, and a keep-alive comment when
/// there are none. Holds the subscriptions' share of the server-wide limit until dropped.
pub struct EventStream {
    events: mpsc::Receiver<Bytes>,
    keepalive: Interval,
    _permits: OwnedSemaphorePermit,
}

impl EventStream {
    pub fn new(events: mpsc::Receiver<Bytes>, permits: OwnedSemaphorePermit) -> EventStream {
        let mut keepalive = interval(KEEPALIVE);
        keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        EventStream {
            events,
            keepalive,
            _permits: permits,
        }
    }
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.events.poll_recv(cx) {
            Poll::Ready(Some(event)) => return Poll::Ready(Some(Ok(Frame::data(event)))),
            // The source ended (Redis closed the connection, or a slow reader was cut off).
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        match self.keepalive.poll_tick(cx) {
            Poll::Ready(_) => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                b": keepalive\n\n",
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The SSE line of a pub/sub event, as Upstash writes it.
fn event_line(kind: Kind, item: &Event) -> Bytes {
    match item {
        Event::Subscribed { name, count } => event(&[
            kind.command().as_bytes(),
            name,
            count.to_string().as_bytes(),
        ]),
        Event::Message {
            pattern: Some(pattern),
            channel,
            payload,
        } => event(&[b"pmessage", pattern, channel, payload]),
        Event::Message {
            pattern: None,
            channel,
            payload,
        } => event(&[b"message", channel, payload]),
    }
}

/// Turns a subscription's events (from Redis or the embedded store's hub) into SSE lines for
/// `lines` until either side goes away: the client leaving drops `received`, which ends the
/// subscription; a reader that fell `QUEUE` lines behind is cut off, as Redis cuts off slow
/// pub/sub clients.
pub async fn forward(kind: Kind, mut received: mpsc::Receiver<Event>, lines: mpsc::Sender<Bytes>) {
    loop {
        let event = tokio::select! {
            _ = lines.closed() => return,
            event = received.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        if lines.try_send(event_line(kind, &event)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_upstash_lines_and_cannot_be_forged_by_a_payload() {
        assert_eq!(
            event(&[b"message", b"ch", b"{\"a\":1}"]),
            Bytes::from_static(b"data: message,ch,{\"a\":1}\n\n")
        );
        assert_eq!(
            event(&[b"message", b"ch", b"x\ndata: message,other,y\r"]),
            Bytes::from_static(b"data: message,ch,x data: message,other,y \n\n")
        );
    }
}
