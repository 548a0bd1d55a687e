//! How a Redis backend opens its connection. By default it is redis-rs's connection manager,
//! driven by the tokio runtime; a host with an event loop of its own (the Node binding) can
//! supply a connection it drives itself, so a round trip needs no other thread. Whatever opens
//! it, every command goes through the same [`redis::aio::ConnectionLike`] code (exchange.rs).

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};

use crate::options::Timeouts;

/// Commands waiting for the socket queue in redis-rs's channel rather than in their senders
/// (its default bound is 50). A sender held back by a full channel sends on a later poll, when
/// a call issued after it may already have sent: order.rs hands the turn on at the first poll.
/// Tokio's channel allocates as it fills, so the bound costs nothing until used.
const PIPELINE_BUFFER: usize = 1 << 20;

#[async_trait]
pub trait Connector: Send + Sync + 'static {
    type Connection: ConnectionLike + Clone + Send + Sync + 'static;

    /// A connection to the server `client` names, authenticated and on its database, within
    /// the connect timeout. It must queue a command on the first poll of its send (order.rs).
    async fn open(
        &self,
        client: &redis::Client,
        timeouts: &Timeouts,
    ) -> redis::RedisResult<Self::Connection>;
}

/// redis-rs's multiplexed connection manager on the tokio runtime.
#[derive(Debug, Default)]
pub struct ManagedConnector;

#[async_trait]
impl Connector for ManagedConnector {
    type Connection = ConnectionManager;

    async fn open(
        &self,
        client: &redis::Client,
        timeouts: &Timeouts,
    ) -> redis::RedisResult<ConnectionManager> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect()))
            // A failed connection is replaced by the next call, not retried in the background.
            .set_number_of_retries(0)
            // redis-rs would otherwise give up on any reply after 500 ms; the call deadline
            // (`timeoutMs`) is the only one.
            .set_response_timeout(None)
            .set_pipeline_buffer_size(PIPELINE_BUFFER);
        ConnectionManager::new_with_config(client.clone(), config).await
    }
}
