//! How a Redis backend opens its connection. By default it is redis-rs's multiplexed
//! connection, driven by the tokio runtime; a host with an event loop of its own (the Node
//! binding) can supply a connection it drives itself, so a round trip needs no other thread.
//! Whatever opens it, every command goes through the same [`redis::aio::ConnectionLike`] code
//! (exchange.rs), and lazy.rs replaces it after a failure.
//!
//! Not redis-rs's `ConnectionManager`: its own reconnect cannot do what lazy.rs does. It
//! reconnects in the background, so nothing loads the scripts on the new connection before
//! calls use it (a NOSCRIPT then sends EVAL after later calls); it keeps a connection whose
//! reply timed out (a peer stalled mid-reply stalls every later call); and its connection
//! retries wait out the call deadline where a refused connection should fail at once. With
//! its retries off under lazy.rs it only added a stray reconnect attempt per failure.

use async_trait::async_trait;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::AsyncConnectionConfig;

use crate::options::Timeouts;

/// Commands waiting for the socket queue in redis-rs's channel rather than in their senders
/// (its default bound is 50). A sender held back by a full channel sends on a later poll, when
/// a call issued after it may already have sent: order.rs hands the turn on at the first poll.
/// Tokio's channel allocates as it fills, so the bound costs nothing until used.
const PIPELINE_BUFFER: usize = 1 << 20;

#[async_trait]
pub trait Connector: Send + Sync + 'static {
    type Connection: ConnectionLike + Clone + Send + Sync + 'static;

    /// Whether a connection may be opened on any thread of the runtime, so that an attempt can
    /// go on in the background between calls (lazy.rs); not one that belongs to the thread
    /// that opens it.
    const OPENS_ON_ANY_THREAD: bool = true;

    /// A connection to the server `client` names, authenticated and on its database, within
    /// the connect timeout. It must queue a command on the first poll of its send (order.rs).
    async fn open(
        &self,
        client: &redis::Client,
        timeouts: &Timeouts,
    ) -> redis::RedisResult<Self::Connection>;
}

/// redis-rs's multiplexed connection on the tokio runtime.
#[derive(Debug, Default)]
pub struct MultiplexedConnector;

#[async_trait]
impl Connector for MultiplexedConnector {
    type Connection = MultiplexedConnection;

    async fn open(
        &self,
        client: &redis::Client,
        timeouts: &Timeouts,
    ) -> redis::RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeouts.connect()))
            // redis-rs would otherwise give up on any reply after 500 ms; the call deadline
            // (`timeoutMs`) is the only one.
            .set_response_timeout(None)
            .set_pipeline_buffer_size(PIPELINE_BUFFER);
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }
}
