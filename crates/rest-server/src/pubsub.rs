//! Pub/sub as Upstash serves it over REST: `POST /subscribe/<channel>` (or `/psubscribe/<pattern>`)
//! answers a server-sent-event stream of `data: subscribe,<channel>,<count>`, then
//! `data: message,<channel>,<payload>` (`data: pmessage,<pattern>,<channel>,<payload>`) lines,
//! which @upstash/redis's `subscribe()` reads. The subscription lasts as long as the response:
//! a client that goes away unsubscribes (its stream is dropped, and with it the Redis
//! connection or the in-process subscriber).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{interval, Interval, MissedTickBehavior};

/// Channels (or patterns) one request may subscribe to; each request holds its own connection.
pub const MAX_PER_CONNECTION: usize = 64;
/// Events held for a subscriber that reads slowly; past this it is disconnected, as Redis
/// drops a pub/sub client whose output buffer overflows.
pub const QUEUE: usize = 1024;
/// A comment line this often keeps proxies from closing an idle stream and lets the server
/// notice a client that is gone.
const KEEPALIVE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channels,
    Patterns,
}

impl Kind {
    /// The confirmation event's type.
    pub fn confirmation(self) -> &'static str {
        match self {
            Kind::Channels => "subscribe",
            Kind::Patterns => "psubscribe",
        }
    }
}

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

/// `data: subscribe,<name>,<n>` for each name, numbered as Redis counts subscriptions.
pub fn confirmations(kind: Kind, names: &[Vec<u8>]) -> Vec<Bytes> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            event(&[
                kind.confirmation().as_bytes(),
                name,
                (i + 1).to_string().as_bytes(),
            ])
        })
        .collect()
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

/// In-process pub/sub for the embedded store (`--embedded`): PUBLISH delivers to the streams
/// subscribed in this server.
#[derive(Default)]
pub struct Hub {
    subscribers: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
}

struct Subscriber {
    id: u64,
    kind: Kind,
    names: Vec<Vec<u8>>,
    events: mpsc::Sender<Bytes>,
}

impl Hub {
    /// Registers a subscriber and queues its confirmations.
    pub fn subscribe(&self, kind: Kind, names: Vec<Vec<u8>>, events: mpsc::Sender<Bytes>) {
        for confirmation in confirmations(kind, &names) {
            // The queue is new and larger than MAX_PER_CONNECTION: this cannot fail.
            let _ = events.try_send(confirmation);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subscribers = self.lock();
        subscribers.retain(|s| !s.events.is_closed());
        subscribers.push(Subscriber {
            id,
            kind,
            names,
            events,
        });
    }

    /// Delivers `message` to every matching subscription; answers how many received it (PUBLISH's
    /// reply). A subscriber whose queue is full is disconnected.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> i64 {
        let mut subscribers = self.lock();
        let mut delivered = 0;
        let mut dropped = Vec::new();
        for s in subscribers.iter() {
            for name in &s.names {
                let event = match s.kind {
                    Kind::Channels if name.as_slice() == channel => {
                        event(&[b"message", channel, message])
                    }
                    Kind::Patterns if digis_redis_core::embedded::glob::matches(name, channel) => {
                        event(&[b"pmessage", name, channel, message])
                    }
                    _ => continue,
                };
                match s.events.try_send(event) {
                    Ok(()) => delivered += 1,
                    Err(_) => dropped.push(s.id),
                }
            }
        }
        subscribers.retain(|s| !dropped.contains(&s.id) && !s.events.is_closed());
        delivered
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        // A panic while holding it leaves a list that is still valid.
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        let mut subscribers = self.lock();
        subscribers.retain(|s| !s.events.is_closed());
        subscribers.len()
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

    #[test]
    fn the_hub_delivers_to_channels_and_patterns_and_forgets_closed_streams() {
        let hub = Hub::default();
        let (tx, mut rx) = mpsc::channel(QUEUE);
        hub.subscribe(Kind::Channels, vec![b"news".to_vec()], tx);
        let (ptx, mut prx) = mpsc::channel(QUEUE);
        hub.subscribe(Kind::Patterns, vec![b"n*".to_vec()], ptx);
        assert_eq!(
            rx.try_recv().unwrap(),
            Bytes::from_static(b"data: subscribe,news,1\n\n")
        );
        assert_eq!(
            prx.try_recv().unwrap(),
            Bytes::from_static(b"data: psubscribe,n*,1\n\n")
        );
        assert_eq!(hub.publish(b"news", b"hi"), 2);
        assert_eq!(
            rx.try_recv().unwrap(),
            Bytes::from_static(b"data: message,news,hi\n\n")
        );
        assert_eq!(
            prx.try_recv().unwrap(),
            Bytes::from_static(b"data: pmessage,n*,news,hi\n\n")
        );
        assert_eq!(hub.publish(b"other", b"x"), 0);
        drop(rx);
        assert_eq!(hub.publish(b"news", b"again"), 1);
        assert_eq!(hub.len(), 1);
    }

    #[test]
    fn a_subscriber_that_does_not_read_is_cut_off() {
        let hub = Hub::default();
        let (tx, mut rx) = mpsc::channel(QUEUE);
        hub.subscribe(Kind::Channels, vec![b"c".to_vec()], tx);
        for _ in 0..QUEUE {
            hub.publish(b"c", b"m");
        }
        assert_eq!(hub.len(), 0);
        // What was queued is still read, then the stream ends.
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, QUEUE);
        assert!(rx.is_closed());
    }
}
