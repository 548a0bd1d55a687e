//! A circuit breaker in front of a server backend: after a run of transport failures, calls
//! fail fast without touching the network; after a cool-down one probe goes through, and its
//! success closes the circuit. Server error replies (WRONGTYPE, NOSCRIPT…) prove the server is
//! answering, so they count as successes.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

use crate::lua::{Script, ScriptCall};
use crate::options::BreakerPolicy;
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

    /// The line logged when a circuit enters this state; `which` names the circuit on a
    /// cluster (each master has its own).
    pub fn log_line(self, which: Option<&str>) -> String {
        let what = match self {
            CircuitState::Open => "the backend keeps failing; calls fail fast (ERR_CIRCUIT_OPEN) until a probe succeeds",
            CircuitState::HalfOpen => "the next call probes the backend",
            CircuitState::Closed => "the backend answers again",
        };
        let which = which.map(|which| format!(" ({which})")).unwrap_or_default();
        format!("[digis-redis] circuit {}: {what}{which}", self.name())
    }
}

#[derive(Debug)]
struct Status {
    state: CircuitState,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    probe_in_flight: bool,
    last_error: Option<String>,
    last_failure_at: Option<Instant>,
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

/// One circuit: the state machine, shared by the calls of one server (or one cluster master).
pub struct Circuit {
    policy: Arc<BreakerPolicy>,
    status: Mutex<Status>,
    /// A call dropped before it reported counts as a timeout: set where the call deadline
    /// runs outside the circuit (a cluster master's share of a call), so a master that never
    /// answers is counted even though its future is cancelled, not completed.
    cancelled_is_timeout: bool,
}

/// Admission of one call. A call that never reports back (its future dropped) frees the probe
/// slot on drop, so the circuit can never stay stuck half-open.
struct Ticket<'a> {
    circuit: &'a Circuit,
    probe: bool,
    reported: bool,
    /// How many callers' calls this one carries (a batch's share): a failure counts for each.
    calls: u32,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.reported {
            return;
        }
        if self.circuit.cancelled_is_timeout {
            let timeout = Error::new(ErrorKind::Timeout, "no answer within the call deadline");
            self.circuit.record(self.probe, &timeout, self.calls);
        } else if self.probe {
            self.circuit.status.lock().probe_in_flight = false;
        }
    }
}

impl Circuit {
    pub fn new(policy: Arc<BreakerPolicy>) -> Circuit {
        Circuit {
            policy,
            status: Mutex::new(Status {
                state: CircuitState::Closed,
                consecutive_failures: 0,
                opened_at: None,
                probe_in_flight: false,
                last_error: None,
                last_failure_at: None,
                transitions: Vec::new(),
            }),
            cancelled_is_timeout: false,
        }
    }

    /// A circuit inside the call deadline: a call cancelled by the deadline is a timeout.
    pub fn within_deadline(policy: Arc<BreakerPolicy>) -> Circuit {
        Circuit {
            cancelled_is_timeout: true,
            ..Circuit::new(policy)
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

    /// The last transport failure and when it happened.
    pub fn last_failure(&self) -> Option<(Instant, String)> {
        let status = self.status.lock();
        Some((status.last_failure_at?, status.last_error.clone()?))
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
            circuit: self,
            probe,
            reported: false,
            calls: 1,
        })
    }

    fn report<T>(&self, mut ticket: Ticket<'_>, outcome: &Result<T>) {
        ticket.reported = true;
        match outcome {
            Err(err) => self.record(ticket.probe, err, ticket.calls),
            Ok(_) => self.record_success(ticket.probe),
        }
    }

    fn record(&self, probe: bool, err: &Error, calls: u32) {
        if !err.is_transport() {
            return self.record_success(probe);
        }
        let mut status = self.status.lock();
        if probe {
            status.probe_in_flight = false;
        }
        status.consecutive_failures = status.consecutive_failures.saturating_add(calls);
        status.last_error = Some(err.to_string());
        status.last_failure_at = Some(Instant::now());
        let trips = status.consecutive_failures >= self.policy.threshold();
        if probe || (status.state == CircuitState::Closed && trips) {
            status.enter(CircuitState::Open);
            status.opened_at = Some(Instant::now());
        }
    }

    fn record_success(&self, probe: bool) {
        let mut status = self.status.lock();
        if probe {
            status.probe_in_flight = false;
        }
        // A straggler admitted before the circuit opened proves little; only a probe (or a
        // success once half-open) closes it, so every close follows a logged half-open.
        if !probe && status.state == CircuitState::Open {
            return;
        }
        status.consecutive_failures = 0;
        status.enter(CircuitState::Closed);
        status.opened_at = None;
    }

    /// Runs `work` if the circuit admits it (else fails fast with `ERR_CIRCUIT_OPEN`) and
    /// records its outcome.
    pub async fn guarded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        self.guarded_for(1, work).await
    }

    /// `guarded` for work that carries `calls` callers' calls (a batch's commands): its failure
    /// counts once for each, as the same calls sent one by one would.
    pub async fn guarded_for<T>(
        &self,
        calls: usize,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let mut ticket = self.admit()?;
        ticket.calls = u32::try_from(calls).unwrap_or(u32::MAX).max(1);
        let outcome = work.await;
        self.report(ticket, &outcome);
        outcome
    }
}

/// What the binding shows and logs of a backend's circuits: one for a server, one per master
/// (and one for the cluster as a whole) on Redis Cluster.
pub trait CircuitView: Send + Sync {
    /// The worst state among the circuits (open, then half-open, then closed).
    fn state(&self) -> CircuitState;
    /// Every state change since the last call, oldest first, each with the master it concerns
    /// when there are several circuits.
    fn take_transitions(&self) -> Vec<(CircuitState, Option<String>)>;
    /// The most recent transport failure, if any (already free of secrets).
    fn last_error(&self) -> Option<String>;
}

/// A server backend behind one circuit.
pub struct CircuitBreaker {
    inner: SharedBackend,
    circuit: Circuit,
}

impl CircuitBreaker {
    pub fn new(inner: SharedBackend, policy: Arc<BreakerPolicy>) -> CircuitBreaker {
        CircuitBreaker {
            inner,
            circuit: Circuit::new(policy),
        }
    }

    pub fn state(&self) -> CircuitState {
        self.circuit.state()
    }

    pub fn take_transitions(&self) -> Vec<CircuitState> {
        self.circuit.take_transitions()
    }

    pub fn last_error(&self) -> Option<String> {
        self.circuit.last_error()
    }

    async fn guarded<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        self.circuit.guarded(work).await
    }

    #[cfg(test)]
    fn admit(&self) -> Result<Ticket<'_>> {
        self.circuit.admit()
    }
}

impl CircuitView for CircuitBreaker {
    fn state(&self) -> CircuitState {
        self.circuit.state()
    }

    fn take_transitions(&self) -> Vec<(CircuitState, Option<String>)> {
        let states = self.circuit.take_transitions().into_iter();
        states.map(|state| (state, None)).collect()
    }

    fn last_error(&self) -> Option<String> {
        self.circuit.last_error()
    }
}

#[async_trait]
impl Backend for CircuitBreaker {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }

    fn atomic_scope(&self, key: &[u8]) -> u16 {
        self.inner.atomic_scope(key)
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

    async fn subscribe(
        &self,
        kind: crate::pubsub::Kind,
        names: Vec<Bytes>,
        events: tokio::sync::mpsc::Sender<crate::pubsub::Event>,
    ) -> Result<()> {
        self.guarded(self.inner.subscribe(kind, names, events))
            .await
    }

    /// Not through the circuit: tracking retries on its own, and its checks should neither
    /// open the circuit nor be refused by it.
    async fn tracking_servers(&self) -> Option<Result<Vec<redis::ConnectionInfo>>> {
        self.inner.tracking_servers().await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_state_change_is_one_line() {
        assert_eq!(
            CircuitState::HalfOpen.log_line(None),
            "[digis-redis] circuit half-open: the next call probes the backend"
        );
        assert_eq!(
            CircuitState::Closed.log_line(Some("master 10.0.0.1:6379")),
            "[digis-redis] circuit closed: the backend answers again (master 10.0.0.1:6379)"
        );
    }

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
                .eval(&crate::lua::OTP_VERIFY, vec![], vec![])
                .await
                .is_err());
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[tokio::test]
    async fn inside_a_deadline_a_cancelled_call_counts_as_a_timeout() {
        let circuit = Circuit::within_deadline(Arc::new(BreakerPolicy::default()));
        for _ in 0..5 {
            let never = circuit.guarded(std::future::pending::<Result<()>>());
            // The call deadline drops the call before it reports.
            let _ = tokio::time::timeout(Duration::from_millis(1), never).await;
        }
        assert_eq!(circuit.state(), CircuitState::Open);
        assert!(circuit.last_error().unwrap().contains("deadline"));
    }

    #[tokio::test]
    async fn a_failed_batch_counts_once_per_call_it_carried() {
        let circuit = Circuit::new(Arc::new(BreakerPolicy::default()));
        let failed = || async { Err::<(), _>(Error::new(ErrorKind::Timeout, "timed out")) };
        let _ = circuit.guarded_for(4, failed()).await;
        assert_eq!(circuit.state(), CircuitState::Closed);
        let _ = circuit.guarded(async { Ok(()) }).await;
        let _ = circuit.guarded_for(5, failed()).await;
        assert_eq!(circuit.state(), CircuitState::Open);
    }

    #[tokio::test]
    async fn a_straggler_success_does_not_close_an_open_circuit() {
        let circuit = Circuit::new(Arc::new(BreakerPolicy::default()));
        let straggler = circuit.admit().unwrap();
        for _ in 0..5 {
            let failed = async { Err::<(), _>(Error::new(ErrorKind::Timeout, "timed out")) };
            let _ = circuit.guarded(failed).await;
        }
        circuit.report(straggler, &Ok(()));
        assert_eq!(circuit.state(), CircuitState::Open);
        assert_eq!(circuit.take_transitions(), vec![CircuitState::Open]);
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
