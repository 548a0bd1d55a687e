//! The napi binding: a thin layer that turns JS calls into core feature calls. Values cross as
//! strings (V8 does the JSON work); errors cross as Error objects with their `code` set here
//! (js_error.rs), which the JS layer turns into typed errors or the contract's fallbacks.
//!
//! `client.rs` makes a `NativeClient` for a backend; `answer.rs` is how its calls answer (at
//! once on the embedded store, else as a promise). Its methods live in one file per feature,
//! each file its own `#[napi] impl NativeClient` block, those that just run a core feature call
//! declared with `#[feature_methods]` (crates/binding-macros): `single_key.rs`, `cache.rs`, `streams.rs`,
//! `creators.rs`, `rate_limit.rs`, `window_hits.rs`, `otp.rs`, `coordination.rs`, `pubsub.rs`,
//! `raw_commands.rs`. Free functions: `key_names.rs`, `redaction.rs`, `analytics.rs`, `environment.rs`,
//! `express.rs`, `doctor.rs`, and the argument checks of `coordination.rs`, `otp.rs` and `rate_limit.rs`.

// Modules with free `#[napi]` functions are public: a test build, without napi's registration,
// would count them as dead code otherwise.
pub mod analytics;
mod answer;
mod batch;
mod cache;
mod client;
mod completion;
pub mod coordination;
mod creators;
pub mod doctor;
pub mod environment;
pub mod express;
pub mod feature_bindings;
mod immediate;
pub mod io_runtime;
pub mod js_error;
pub mod key_names;
mod namespace;
mod near_cache;
mod node_loop;
pub mod otp;
mod pubsub;
pub mod rate_limit;
mod raw_commands;
pub mod redaction;
pub mod rest_server;
pub mod single_key;
mod streams;
mod text;
pub mod window_hits;

/// Rust's allocations in the addon (not V8's), on glibc Linux (Cargo.toml says why only there):
/// a store call at 50 in flight spent about a tenth of its CPU in glibc's malloc and free,
/// mostly reply frames and command buffers.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The return type of a method written out with `answer` rather than `#[feature_methods]`.
#[allow(unused_imports)]
pub(crate) use answer::Answer;
pub(crate) use client::NativeClient;
pub(crate) use text::text;
