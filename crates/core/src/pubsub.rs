//! Pub/sub for the raw client's `subscribe`/`psubscribe`: what a subscription delivers, and the
//! in-process hub of the embedded store. A subscription lasts until its receiver is dropped;
//! each backend then lets go of it (closes the connection, the stream, or the hub entry).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;

/// Events held for a subscriber that reads slowly; past this it is cut off (its stream ends), as
/// Redis cuts off a pub/sub client whose output buffer overflows.
pub const QUEUE: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channels,
    Patterns,
}

impl Kind {
    /// The Redis command that makes this kind of subscription (also Upstash's route and the
    /// type of its confirmation event).
    pub fn command(self) -> &'static str {
        match self {
            Kind::Channels => "subscribe",
            Kind::Patterns => "psubscribe",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `name` is subscribed; `count` subscriptions in this request so far (Redis's numbering).
    Subscribed { name: Bytes, count: i64 },
    /// A message; `pattern` is the matching pattern of a pattern subscription.
    Message {
        pattern: Option<Bytes>,
        channel: Bytes,
        payload: Bytes,
    },
}

/// The confirmations of `names`, numbered as Redis numbers them.
pub fn confirmations(names: &[Bytes]) -> impl Iterator<Item = Event> + '_ {
    names.iter().enumerate().map(|(i, name)| Event::Subscribed {
        name: name.clone(),
        count: i as i64 + 1,
    })
}

/// A subscription on a Redis connection of its own (what the Redis backends do), for servers
/// that forward Redis pub/sub themselves (the rest-server).
pub use crate::redis_protocol::exchange::subscribe_on;

/// PUBLISH and subscriptions within one process (the embedded store).
#[derive(Default)]
pub struct Hub {
    subscribers: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
}

struct Subscriber {
    id: u64,
    kind: Kind,
    names: Vec<Bytes>,
    events: mpsc::Sender<Event>,
}

impl Hub {
    /// Registers a subscriber and queues its confirmations.
    pub fn subscribe(&self, kind: Kind, names: Vec<Bytes>, events: mpsc::Sender<Event>) {
        for confirmation in confirmations(&names) {
            if events.try_send(confirmation).is_err() {
                return;
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subscribers = self.subscribers.lock();
        subscribers.retain(|s| !s.events.is_closed());
        subscribers.push(Subscriber {
            id,
            kind,
            names,
            events,
        });
    }

    /// Delivers `payload` to every matching subscription; answers how many received it
    /// (PUBLISH's reply). A subscriber whose queue is full is cut off.
    pub fn publish(&self, channel: &[u8], payload: &[u8]) -> i64 {
        let mut subscribers = self.subscribers.lock();
        let (channel, payload) = (
            Bytes::copy_from_slice(channel),
            Bytes::copy_from_slice(payload),
        );
        let mut delivered = 0;
        let mut cut_off = Vec::new();
        for s in subscribers.iter() {
            for name in &s.names {
                let pattern = match s.kind {
                    Kind::Channels if *name == channel => None,
                    Kind::Patterns if crate::embedded::glob::matches(name, &channel) => {
                        Some(name.clone())
                    }
                    _ => continue,
                };
                let event = Event::Message {
                    pattern,
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                match s.events.try_send(event) {
                    Ok(()) => delivered += 1,
                    Err(_) => cut_off.push(s.id),
                }
            }
        }
        subscribers.retain(|s| !cut_off.contains(&s.id) && !s.events.is_closed());
        delivered
    }

    /// Live subscribers (those whose receiver is still held).
    pub fn subscriber_count(&self) -> usize {
        let mut subscribers = self.subscribers.lock();
        subscribers.retain(|s| !s.events.is_closed());
        subscribers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(pattern: Option<&str>, channel: &str, payload: &str) -> Event {
        Event::Message {
            pattern: pattern.map(|p| Bytes::copy_from_slice(p.as_bytes())),
            channel: Bytes::copy_from_slice(channel.as_bytes()),
            payload: Bytes::copy_from_slice(payload.as_bytes()),
        }
    }

    #[test]
    fn the_hub_delivers_to_channels_and_patterns_and_forgets_closed_receivers() {
        let hub = Hub::default();
        let (tx, mut rx) = mpsc::channel(QUEUE);
        hub.subscribe(Kind::Channels, vec![Bytes::from_static(b"news")], tx);
        let (ptx, mut prx) = mpsc::channel(QUEUE);
        hub.subscribe(Kind::Patterns, vec![Bytes::from_static(b"n*")], ptx);
        assert_eq!(
            rx.try_recv().unwrap(),
            Event::Subscribed {
                name: Bytes::from_static(b"news"),
                count: 1
            }
        );
        prx.try_recv().unwrap();
        assert_eq!(hub.publish(b"news", b"hi"), 2);
        assert_eq!(rx.try_recv().unwrap(), message(None, "news", "hi"));
        assert_eq!(prx.try_recv().unwrap(), message(Some("n*"), "news", "hi"));
        assert_eq!(hub.publish(b"other", b"x"), 0);
        drop(rx);
        assert_eq!(hub.publish(b"news", b"again"), 1);
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[test]
    fn a_subscriber_that_does_not_read_is_cut_off() {
        let hub = Hub::default();
        let (tx, mut rx) = mpsc::channel(QUEUE);
        hub.subscribe(Kind::Channels, vec![Bytes::from_static(b"c")], tx);
        for _ in 0..QUEUE {
            hub.publish(b"c", b"m");
        }
        assert_eq!(hub.subscriber_count(), 0);
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, QUEUE);
    }
}
