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

pub const DEFAULT_BREAKER_THRESHOLD: u32 = 5;
pub const DEFAULT_BREAKER_COOLDOWN_MS: u64 = 1000;

/// When the circuit breaker opens and how long it stays open; adjustable at run time.
#[derive(Debug)]
pub struct BreakerPolicy {
    threshold: AtomicU32,
    cooldown_ms: AtomicU64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            threshold: AtomicU32::new(DEFAULT_BREAKER_THRESHOLD),
            cooldown_ms: AtomicU64::new(DEFAULT_BREAKER_COOLDOWN_MS),
        }
    }
}

impl BreakerPolicy {
    /// Consecutive transport failures that open the circuit.
    pub fn threshold(&self) -> u32 {
        self.threshold.load(Ordering::Relaxed)
    }

    /// How long an open circuit fails fast before letting one probe through.
    pub fn cooldown(&self) -> Duration {
        Duration::from_millis(self.cooldown_ms.load(Ordering::Relaxed))
    }

    pub fn set_threshold(&self, n: u32) {
        self.threshold.store(n.max(1), Ordering::Relaxed);
    }

    pub fn set_cooldown_ms(&self, ms: u64) {
        self.cooldown_ms.store(ms, Ordering::Relaxed);
    }
}
