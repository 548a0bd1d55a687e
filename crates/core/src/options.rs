//! Deadlines and retries for the server backends, adjustable at run time by `configure()`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 1000;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1000;
pub const DEFAULT_RETRIES: u32 = 2;

/// Shared by a backend and whoever configures it; every read sees the latest values.
#[derive(Debug)]
pub struct Timeouts {
    call_ms: AtomicU64,
    connect_ms: AtomicU64,
    retries: AtomicU32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::new(
            DEFAULT_CALL_TIMEOUT_MS,
            DEFAULT_CONNECT_TIMEOUT_MS,
            DEFAULT_RETRIES,
        )
    }
}

impl Timeouts {
    pub fn new(call_ms: u64, connect_ms: u64, retries: u32) -> Timeouts {
        Timeouts {
            call_ms: AtomicU64::new(call_ms.max(1)),
            connect_ms: AtomicU64::new(connect_ms.max(1)),
            retries: AtomicU32::new(retries),
        }
    }

    /// The whole budget of one public call: connecting, sending, retries and the reply.
    pub fn call(&self) -> Duration {
        Duration::from_millis(self.call_ms.load(Ordering::Relaxed))
    }

    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms.load(Ordering::Relaxed))
    }

    /// Extra attempts after a transport failure of an idempotent command.
    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    pub fn set_call_ms(&self, ms: u64) {
        self.call_ms.store(ms.max(1), Ordering::Relaxed);
    }

    pub fn set_connect_ms(&self, ms: u64) {
        self.connect_ms.store(ms.max(1), Ordering::Relaxed);
    }

    pub fn set_retries(&self, retries: u32) {
        self.retries.store(retries, Ordering::Relaxed);
    }
}
