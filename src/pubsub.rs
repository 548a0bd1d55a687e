//! The binding of the raw client's `subscribe`/`psubscribe`: a subscription is pulled from JS
//! (`next()` resolves with each event, null once it ended) until `close()`, which drops the
//! receiver and so unsubscribes on every backend.

use std::sync::Arc;

use bytes::Bytes;
use digis_redis_binding_macros::feature_methods;
use digis_redis_core::pubsub::{Event, Kind, QUEUE};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use tokio::sync::{mpsc, Mutex, Notify};

use crate::{text, NativeClient};

/// One event of a subscription, as @upstash/redis's Subscriber names them.
#[napi(object)]
pub struct SubscriptionEvent {
    /// `subscribe`, `psubscribe`, `message` or `pmessage`.
    #[napi(js_name = "type")]
    pub kind: String,
    /// The channel (or, for a confirmation, the channel or pattern subscribed).
    pub channel: String,
    pub pattern: Option<String>,
    /// The payload, as published (the JS layer deserializes it).
    pub message: Option<String>,
    /// For a confirmation: subscriptions so far in this request.
    pub count: Option<i64>,
}

#[napi]
pub struct Subscription {
    patterns: bool,
    events: Mutex<Option<mpsc::Receiver<Event>>>,
    stop: Arc<Notify>,
}

#[napi]
impl Subscription {
    /// The next event; null once the subscription ended (closed, or the server went away).
    #[napi]
    pub async fn next(&self) -> Result<Option<SubscriptionEvent>> {
        let mut events = self.events.lock().await;
        let Some(receiver) = events.as_mut() else {
            return Ok(None);
        };
        // Closing wins over a message that arrived at the same time.
        let event = tokio::select! {
            biased;
            _ = self.stop.notified() => None,
            event = receiver.recv() => event,
        };
        if event.is_none() {
            *events = None;
        }
        Ok(event.map(|event| self.to_js_event(event)))
    }

    /// Ends the subscription (idempotent); a pending `next()` resolves with null.
    #[napi]
    pub fn close(&self) {
        self.stop.notify_one();
        if let Ok(mut events) = self.events.try_lock() {
            *events = None;
        }
    }
}

impl Subscription {
    fn to_js_event(&self, event: Event) -> SubscriptionEvent {
        match event {
            Event::Subscribed { name, count } => SubscriptionEvent {
                kind: if self.patterns {
                    "psubscribe"
                } else {
                    "subscribe"
                }
                .into(),
                channel: text(name),
                pattern: None,
                message: None,
                count: Some(count),
            },
            Event::Message {
                pattern,
                channel,
                payload,
            } => SubscriptionEvent {
                kind: if pattern.is_some() {
                    "pmessage"
                } else {
                    "message"
                }
                .into(),
                channel: text(channel),
                pattern: pattern.map(text),
                message: Some(text(payload)),
                count: None,
            },
        }
    }
}

#[feature_methods]
#[napi]
impl NativeClient {
    /// Subscribes `names` (patterns when `patterns`) on a connection of its own (an SSE
    /// request per name on Upstash, the in-process hub on the embedded store).
    fn subscribe(&self, patterns: bool, names: Vec<String>) -> Subscription {
        let kind = if patterns {
            Kind::Patterns
        } else {
            Kind::Channels
        };
        let names: Vec<Bytes> = names.into_iter().map(Bytes::from).collect();
        move |f| async move {
            let (sender, receiver) = mpsc::channel(QUEUE);
            f.subscribe(kind, names, sender).await?;
            Ok(Subscription {
                patterns,
                events: Mutex::new(Some(receiver)),
                stop: Arc::new(Notify::new()),
            })
        }
    }
}
