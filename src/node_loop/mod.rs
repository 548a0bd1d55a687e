//! A Redis connection driven by Node's own event loop: no thread hop per round trip (see
//! BENCHMARKS.md, "Express app"). Used for plain-TCP `REDIS_URL`s on Node; TLS, Unix sockets,
//! RESP3, clusters, REST and runtimes without libuv keep the tokio I/O thread.

mod connection;
pub mod executor;
mod uv;

pub use connection::LoopConnector;

/// Whether this process can drive a socket from Node's loop.
pub fn usable() -> bool {
    uv::uv().is_some()
}
