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

/// The period of a repeating timer (`analytics.startFlushing`, `creators.startWarming`): whole
/// milliseconds from 10. `number` is the value given when it is a number; `described` says what
/// it is, for the message refusing it.
pub fn timer_period(number: Option<f64>, described: impl FnOnce() -> String) -> crate::Result<f64> {
    match number {
        Some(ms) if ms.fract() == 0.0 && ms >= 10.0 => Ok(ms),
        _ => Err(crate::Error::new(
            crate::ErrorKind::InvalidArgument,
            format!(
                "every must be whole milliseconds (at least 10), got {}",
                described()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::timer_period;

    #[test]
    fn a_timer_period_is_whole_milliseconds_from_ten() {
        assert_eq!(timer_period(Some(10.0), String::new).unwrap(), 10.0);
        for bad in [Some(9.0), Some(10.5), Some(f64::INFINITY), None] {
            assert_eq!(
                timer_period(bad, || "null".into()).unwrap_err().message,
                "every must be whole milliseconds (at least 10), got null"
            );
        }
    }
}
