//! Core of digis-redis: the backends behind one trait and the `utils/redis` features written once
//! against it. Nothing here knows about Node; the napi binding is a thin layer on top.

pub mod backend;
pub mod circuit;
pub mod client_address;
pub mod cmd;
pub mod doctor;
pub mod embedded;
pub mod environment;
pub mod error;
pub mod express_options;
pub mod features;
pub mod keys;
pub mod lua;
pub mod metrics;
pub mod near_cache;
pub mod options;
pub mod order;
pub mod packed;
pub mod pubsub;
pub mod redact;
pub mod redis_cluster;
pub mod redis_protocol;
pub mod reply;
pub mod reply_json;
pub mod upstash;

pub use backend::{Backend, BackendKind, SharedBackend};
pub use cmd::Cmd;
pub use error::{Error, ErrorKind, Result};
pub use features::Features;
pub use reply::Reply;
