//! A circuit breaker in front of a server backend: after a run of transport failures, calls
//! fail fast without touching the network; after a cool-down one probe goes through, and its
//! success closes the circuit. Server error replies (WRONGTYPE, NOSCRIPT…) prove the server is
//! answering, so they count as successes.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

use crate::options::BreakerPolicy;
use crate::script::{Script, ScriptCall};
use crate::{Backend, BackendKind, Cmd, Error, ErrorKind, Reply, Result, SharedBackend};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn name(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half-open",
        }
    }
}

#[derive(Debug)]
struct Status {
    state: CircuitState,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    probe_in_flight: bool,
    last_error: Option<String>,
    /// State changes not yet collected by `take_transitions`, oldest first.
    transitions: Vec<CircuitState>,
}

/// Uncollected transitions kept at most (only the latest matter once this many pile up).
const MAX_TRANSITIONS: usize = 64;

impl Status {
    fn enter(&mut self, state: CircuitState) {
        if self.state == state {
            return;
        }
        self.state = state;
        if self.transitions.len() == MAX_TRANSITIONS {
            self.transitions.remove(0);
        }
        self.transitions.push(state);
    }
}

pub struct CircuitBreaker {
    inner: SharedBackend,
    policy: Arc<BreakerPolicy>,
    status: Mutex<Status>,
}

/// Admission of one call. A probe that never reports back (its future dropped) frees the probe
/// slot on drop, so the circuit can never stay stuck half-open.
struct Ticket<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    reported: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            self.breaker.status.lock().probe_in_flight = false;
        }
    }
}

impl CircuitBreaker {
    pub fn new(inner: SharedBackend, policy: Arc<BreakerPolicy>) -> CircuitBreaker {
        CircuitBreaker {
            inner,
            policy,
            status: Mutex::new(Status {
                state: CircuitState::Closed,
                consecutive_failures: 0,
                opened_at: None,
                probe_in_flight: false,
                last_error: None,
                transitions: Vec::new(),
            }),
        }
    }

    /// The state as a caller would meet it now: an open circuit whose cool-down has passed is
    /// reported half-open (the next call probes).
    pub fn state(&self) -> CircuitState {
        let status = self.status.lock();
        match (status.state, status.opened_at) {
            (CircuitState::Open, Some(at)) if at.elapsed() >= self.policy.cooldown() => {
                CircuitState::HalfOpen
            }
            (state, _) => state,
        }
    }

    /// Every state change since the last call, in order, so each can be reported once.
    pub fn take_transitions(&self) -> Vec<CircuitState> {
        std::mem::take(&mut self.status.lock().transitions)
    }

    /// The last transport failure, if any (already free of secrets).
    pub fn last_error(&self) -> Option<String> {
        self.status.lock().last_error.clone()
    }

    fn admit(&self) -> Result<Ticket<'_>> {
        let mut status = self.status.lock();
        let cooled = status
            .opened_at
            .is_some_and(|at| at.elapsed() >= self.policy.cooldown());
        let probe = match status.state {
            CircuitState::Closed => false,
            CircuitState::Open if cooled => {
                status.enter(CircuitState::HalfOpen);
                true
            }
            CircuitState::HalfOpen if !status.probe_in_flight => true,
            CircuitState::Open | CircuitState::HalfOpen => {
                return Err(Error::new(
                    ErrorKind::CircuitOpen,
                    format!(
                        "circuit open after {} consecutive failures (last: {}); failing fast",
                        status.consecutive_failures,
                        status.last_error.as_deref().unwrap_or("unknown")
                    ),
                ));
            }
        };
        status.probe_in_flight |= probe;
        Ok(Ticket {
            breaker: self,
            probe,
            reported: false,
        })
    }

    fn report<T>(&self, mut ticket: Ticket<'_>, outcome: &Result<T>) {
        ticket.reported = true;
        let mut status = self.status.lock();
        if ticket.probe {
            status.probe_in_flight = false;
        }
        match outcome {
            Err(err) if err.is_transport() => {
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
                status.last_error = Some(err.to_string());
                let trips = status.consecutive_failures >= self.policy.threshold();
                if ticket.probe || (status.state == CircuitState::Closed && trips) {
                    status.enter(CircuitState::Open);
                    status.opened_at = Some(Instant::now());
                }
            }
            _ => {
                status.consecutive_failures = 0;
                status.enter(CircuitState::Closed);
                status.opened_at = None;
            }
        }
    }

    async fn guarded<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let ticket = self.admit()?;
        let outcome = work.await;
        self.report(ticket, &outcome);
        outcome
    }
}

#[async_trait]
impl Backend for CircuitBreaker {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }

    async fn call(&self, cmd: Cmd) -> Result<Reply> {
        self.guarded(self.inner.call(cmd)).await
    }

    async fn pipeline(&self, cmds: Vec<Cmd>, atomic: bool) -> Result<Vec<Result<Reply>>> {
        self.guarded(self.inner.pipeline(cmds, atomic)).await
    }

    async fn eval(
        &self,
        script: &'static Script,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
    ) -> Result<Reply> {
        self.guarded(self.inner.eval(script, keys, args)).await
    }

    async fn eval_many(&self, calls: Vec<ScriptCall>) -> Result<Vec<Result<Reply>>> {
        self.guarded(self.inner.eval_many(calls)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// A backend that fails with a connection error while `down` is set, counting its calls.
    struct Flaky {
        down: AtomicBool,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Backend for Flaky {
        fn kind(&self) -> BackendKind {
            BackendKind::Redis
        }
        async fn call(&self, _: Cmd) -> Result<Reply> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                Err(Error::new(ErrorKind::Connection, "connection refused"))
            } else {
                Ok(Reply::ok())
            }
        }
        async fn pipeline(&self, _: Vec<Cmd>, _: bool) -> Result<Vec<Result<Reply>>> {
            Ok(vec![Err(Error::wrong_type())])
        }
        async fn eval(&self, _: &'static Script, _: Vec<Bytes>, _: Vec<Bytes>) -> Result<Reply> {
            Err(Error::wrong_type())
        }
    }

    fn breaker(cooldown_ms: u64) -> (Arc<Flaky>, CircuitBreaker) {
        let flaky = Arc::new(Flaky {
            down: AtomicBool::new(true),
            calls: AtomicUsize::new(0),
        });
        let policy = Arc::new(BreakerPolicy::default());
        policy.set_cooldown_ms(cooldown_ms);
        let breaker = CircuitBreaker::new(flaky.clone(), policy);
        (flaky, breaker)
    }

    #[tokio::test]
    async fn opens_after_the_threshold_and_fails_fast() {
        let (flaky, breaker) = breaker(60_000);
        for _ in 0..5 {
            let err = breaker.call(Cmd::new("PING")).await.unwrap_err();
            assert_eq!(err.kind, ErrorKind::Connection);
        }
        assert_eq!(breaker.state(), CircuitState::Open);
        let err = breaker.call(Cmd::new("PING")).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::CircuitOpen);
        assert!(err.message.contains("connection refused"), "{err}");
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn one_probe_after_the_cool_down_closes_it_on_success() {
        let (flaky, breaker) = breaker(30);
        for _ in 0..5 {
            let _ = breaker.call(Cmd::new("PING")).await;
        }
        flaky.down.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert_eq!(breaker.call(Cmd::new("PING")).await, Ok(Reply::ok()));
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(
            breaker.take_transitions(),
            vec![
                CircuitState::Open,
                CircuitState::HalfOpen,
                CircuitState::Closed
            ]
        );
        assert!(breaker.take_transitions().is_empty());
    }

    #[tokio::test]
    async fn a_failed_probe_reopens_for_another_cool_down() {
        let (flaky, breaker) = breaker(30);
        for _ in 0..5 {
            let _ = breaker.call(Cmd::new("PING")).await;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(breaker.call(Cmd::new("PING")).await.is_err());
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 6);
        assert_eq!(breaker.state(), CircuitState::Open);
        let err = breaker.call(Cmd::new("PING")).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::CircuitOpen);
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn server_error_replies_do_not_trip_it() {
        let (flaky, breaker) = breaker(60_000);
        flaky.down.store(false, Ordering::SeqCst);
        for _ in 0..10 {
            assert!(breaker
                .eval(&crate::script::OTP_VERIFY, vec![], vec![])
                .await
                .is_err());
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[tokio::test]
    async fn a_dropped_probe_frees_the_probe_slot() {
        let (flaky, breaker) = breaker(0);
        for _ in 0..5 {
            let _ = breaker.call(Cmd::new("PING")).await;
        }
        {
            let ticket = breaker.admit().unwrap();
            assert!(ticket.probe);
            // Dropped without a report, as when the caller's future is cancelled.
        }
        flaky.down.store(false, Ordering::SeqCst);
        assert_eq!(breaker.call(Cmd::new("PING")).await, Ok(Reply::ok()));
    }
}
