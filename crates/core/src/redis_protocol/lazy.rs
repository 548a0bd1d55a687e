//! A connection opened on first use and replaced after a failure, shared by both Redis protocol
//! backends and the rest-server.
//!
//! A connection that failed or timed out is discarded, and the next call opens a fresh one:
//! replies still owed on it could otherwise be paired with later calls, and a reconnect attempt
//! that failed while the server was down must not answer the first call after it is back. Calls
//! that queued behind a failed attempt get its error rather than each waiting out a connect
//! timeout in turn.
//!
//! An attempt outlives the call that started it: when that call's deadline ends first, the
//! attempt goes on (as a task of its own where the connection allows it) and the next call takes
//! its connection, within the attempt's own budget. Otherwise a server farther away than one
//! call's deadline allows for connecting (a handshake and the script loads, two round trips or
//! more) would never be reached, though each call would fit once connected.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use parking_lot::Mutex;

use super::exchange::within_deadline;
use crate::{Error, ErrorKind, Result};

pub struct LazyConnection<C> {
    /// The live connection and its generation, so a failed call discards only the connection
    /// it used, never a newer one.
    current: Mutex<Option<(u64, C)>>,
    /// One connection attempt at a time; the others wait for its result.
    connecting: tokio::sync::Mutex<()>,
    generations: AtomicU64,
    /// Connection attempts ended, and the last one's failure (its number and error).
    attempts_ended: AtomicU64,
    failure: Mutex<Option<(u64, Error)>>,
    /// Whether a timeout also discards the connection (see `kept_on_timeout`).
    discard_on_timeout: bool,
    /// A connection attempt whose call ended before it did, for the next call to resume.
    unfinished: Mutex<Option<Attempt<C>>>,
    /// Calls waiting for a connection to open.
    waiting: AtomicUsize,
}

/// A connection attempt that owns everything it needs, so that it can outlive its call.
struct Attempt<C> {
    gives_up_at: Instant,
    opening: Opening<C>,
}

enum Opening<C> {
    /// Polled only by the call waiting for it.
    Inline(BoxFuture<'static, Result<C>>),
    /// A task of its own, which ends by itself at the budget.
    Background(tokio::task::JoinHandle<Result<C>>),
}

impl<C: Send + 'static> Attempt<C> {
    fn start(
        budget: Duration,
        in_background: bool,
        opening: impl Future<Output = Result<C>> + Send + 'static,
    ) -> Attempt<C> {
        let bounded = tokio::time::timeout(budget, opening).map(move |opened| {
            opened.unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Timeout,
                    format!("connecting timed out after {} ms", budget.as_millis()),
                ))
            })
        });
        let runtime = tokio::runtime::Handle::try_current()
            .ok()
            .filter(|_| in_background);
        Attempt {
            gives_up_at: Instant::now() + budget,
            opening: match runtime {
                Some(runtime) => Opening::Background(runtime.spawn(bounded)),
                None => Opening::Inline(bounded.boxed()),
            },
        }
    }

    /// A kept attempt, if it may still answer this call: one polled inline until its budget is
    /// spent; one running in the background until it ends, and after that only with the
    /// connection it opened (its failure is stale: the call starts over instead).
    fn resumable(mut self) -> Option<Attempt<C>> {
        match &mut self.opening {
            Opening::Inline(_) => (self.gives_up_at > Instant::now()).then_some(self),
            Opening::Background(task) if !task.is_finished() => Some(self),
            Opening::Background(task) => match task.now_or_never() {
                Some(Ok(Ok(conn))) => Some(Attempt {
                    gives_up_at: self.gives_up_at,
                    opening: Opening::Inline(futures_util::future::ready(Ok(conn)).boxed()),
                }),
                _ => None,
            },
        }
    }
}

impl<C> Attempt<C> {
    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<C>> {
        match &mut self.opening {
            Opening::Inline(opening) => opening.poll_unpin(cx),
            Opening::Background(task) => task.poll_unpin(cx).map(|joined| {
                joined.unwrap_or_else(|_| {
                    Err(Error::new(
                        ErrorKind::Connection,
                        "the connection attempt failed: its task ended without an answer",
                    ))
                })
            }),
        }
    }
}

impl<C: Clone> LazyConnection<C> {
    pub fn new() -> LazyConnection<C> {
        LazyConnection {
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(0),
            attempts_ended: AtomicU64::new(0),
            failure: Mutex::new(None),
            discard_on_timeout: true,
            unfinished: Mutex::new(None),
            waiting: AtomicUsize::new(0),
        }
    }

    /// A connection that only a failure of the connection itself discards, not a timeout: for
    /// a cluster connection, whose timeout is one slow master while the others answer.
    pub(crate) fn kept_on_timeout() -> LazyConnection<C> {
        LazyConnection {
            discard_on_timeout: false,
            ..LazyConnection::new()
        }
    }

    /// The connection, once there was none when the call started: opened by `open`, unless
    /// an attempt ahead of this call opened it (or failed) meanwhile.
    async fn get<O, OFut>(&self, open: O) -> Result<(u64, C)>
    where
        O: FnOnce() -> OFut,
        OFut: Future<Output = Result<C>>,
    {
        let seen = self.attempts_ended.load(Ordering::SeqCst);
        // Queued for the connection in issue order: later calls may go now, and queue behind
        // (order.rs), rather than wait for the connection attempt to end.
        let _connecting = crate::order::sends_on_first_poll(self.connecting.lock()).await;
        if let Some(live) = self.current.lock().clone() {
            return Ok(live);
        }
        if let Some((attempt, err)) = &*self.failure.lock() {
            if *attempt > seen {
                return Err(err.clone());
            }
        }
        let opened = open().await;
        let attempt = self.attempts_ended.fetch_add(1, Ordering::SeqCst) + 1;
        let conn = match opened {
            Ok(conn) => conn,
            Err(err) => {
                // For the calls that queued while it ran; a call arriving later tries again.
                *self.failure.lock() = Some((attempt, err.clone()));
                return Err(err);
            }
        };
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *self.current.lock() = Some((generation, conn.clone()));
        Ok((generation, conn))
    }

    /// For `run`'s `open`: the attempt an earlier call left unfinished, or else a new one,
    /// `start()`, given up after `budget`. If this call's deadline ends first, the attempt is
    /// kept for the next call (which runs `open` only once it holds the connecting turn).
    ///
    /// `in_background`: the attempt runs as a task of its own on the runtime, so it goes on
    /// between calls (a server reached only by calls further apart than the budget would
    /// otherwise never be). Not for a connection that must be opened on the calling thread
    /// (Node's loop): that attempt moves on only while a call waits for it.
    pub async fn resumable<S, SFut>(
        &self,
        budget: Duration,
        in_background: bool,
        start: S,
    ) -> Result<C>
    where
        C: Send + 'static,
        S: FnOnce() -> SFut,
        SFut: Future<Output = Result<C>> + Send + 'static,
    {
        let kept = self.unfinished.lock().take().and_then(Attempt::resumable);
        let attempt = kept.unwrap_or_else(|| Attempt::start(budget, in_background, start()));
        KeptIfDropped {
            lazy: self,
            attempt: Some(attempt),
        }
        .await
    }

    /// The live connection and its generation, if there is one.
    pub(crate) fn current(&self) -> Option<(u64, C)> {
        self.current.lock().clone()
    }

    /// Drops the connection of `generation`, unless a newer one replaced it already.
    pub(crate) fn discard(&self, generation: u64) {
        let mut current = self.current.lock();
        if matches!(&*current, Some((g, _)) if *g == generation) {
            *current = None;
        }
    }

    /// Runs `op` on the connection (opened by `open` when there is none) within `deadline`; a
    /// transport failure or timeout discards the connection it used. Not a timeout of a call
    /// that spent most of its deadline waiting for its connection to open: that says nothing
    /// against the connection (a far server would otherwise lose each new connection with the
    /// call that opened it).
    pub async fn run<T, O, OFut, F, Fut>(&self, deadline: Duration, open: O, op: F) -> Result<T>
    where
        O: FnOnce() -> OFut,
        OFut: Future<Output = Result<C>>,
        F: FnOnce(C) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        // While calls wait for a connection being opened, a later call waits behind them, even
        // if the connection is ready when it looks: they passed their turns on (order.rs), so
        // it would otherwise send before them.
        let live = if self.waiting.load(Ordering::Acquire) == 0 {
            self.current.lock().clone()
        } else {
            None
        };
        // Read only by a call that has to wait (a clock read per call otherwise).
        let started = live.is_none().then(Instant::now);
        let used = AtomicU64::new(0);
        let connected_after_us = AtomicU64::new(0);
        let work = async {
            let (generation, conn) = match live {
                Some(live) => live,
                None => {
                    let _waiting = Waiting::on(&self.waiting);
                    let got = self.get(open).await?;
                    let waited = started.map_or(Duration::ZERO, |at| at.elapsed());
                    let waited = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
                    connected_after_us.store(waited, Ordering::Relaxed);
                    got
                }
            };
            used.store(generation, Ordering::Relaxed);
            op(conn).await
        };
        let outcome = within_deadline(deadline, work).await;
        if let Err(err) = &outcome {
            let generation = used.load(Ordering::Relaxed);
            let timeout = err.kind == ErrorKind::Timeout;
            let half = u64::try_from(deadline.as_micros() / 2).unwrap_or(u64::MAX);
            let spent_connecting = connected_after_us.load(Ordering::Relaxed) > half;
            let discard_on_timeout = self.discard_on_timeout && !spent_connecting;
            if err.is_transport() && generation != 0 && (discard_on_timeout || !timeout) {
                self.discard(generation);
            }
        }
        outcome
    }
}

/// Counts a call among those waiting for a connection, for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn on(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::AcqRel);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Polls an attempt; dropped before it ends (its call's deadline), hands it back to `lazy`.
struct KeptIfDropped<'a, C> {
    lazy: &'a LazyConnection<C>,
    attempt: Option<Attempt<C>>,
}

impl<C> Future for KeptIfDropped<'_, C> {
    type Output = Result<C>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        // Out while polled: an attempt that panics is dropped, never kept to be resumed.
        let Some(mut attempt) = self.attempt.take() else {
            return std::task::Poll::Pending;
        };
        let outcome = attempt.poll(cx);
        if outcome.is_pending() {
            self.attempt = Some(attempt);
        }
        outcome
    }
}

impl<C> Drop for KeptIfDropped<'_, C> {
    fn drop(&mut self) {
        if let Some(attempt) = self.attempt.take() {
            *self.lazy.unfinished.lock() = Some(attempt);
        }
    }
}

impl<C: Clone> Default for LazyConnection<C> {
    fn default() -> Self {
        LazyConnection::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn refused() -> Error {
        Error::new(ErrorKind::Connection, "connection refused")
    }

    #[tokio::test]
    async fn calls_queued_behind_a_failed_attempt_share_its_error_and_later_calls_try_again() {
        let lazy = Arc::new(LazyConnection::<u8>::new());
        let opened = Arc::new(AtomicU64::new(0));
        let (release, held) = tokio::sync::oneshot::channel::<()>();
        let call = |lazy: Arc<LazyConnection<u8>>, opened: Arc<AtomicU64>| async move {
            lazy.run(
                Duration::from_secs(5),
                || async move {
                    opened.fetch_add(1, Ordering::SeqCst);
                    Err::<u8, _>(refused())
                },
                |c| async move { Ok(c) },
            )
            .await
        };
        // The first attempt is held open until the other calls queue behind it.
        let first = {
            let (lazy, opened) = (lazy.clone(), opened.clone());
            tokio::spawn(async move {
                lazy.run(
                    Duration::from_secs(5),
                    || async move {
                        opened.fetch_add(1, Ordering::SeqCst);
                        let _ = held.await;
                        Err::<u8, _>(refused())
                    },
                    |c| async move { Ok(c) },
                )
                .await
            })
        };
        tokio::task::yield_now().await;
        let queued: Vec<_> = (0..3)
            .map(|_| tokio::spawn(call(lazy.clone(), opened.clone())))
            .collect();
        tokio::task::yield_now().await;
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Err(refused()));
        for q in queued {
            assert_eq!(q.await.unwrap(), Err(refused()));
        }
        assert_eq!(
            opened.load(Ordering::SeqCst),
            1,
            "queued calls reused the failure"
        );
        assert_eq!(call(lazy.clone(), opened.clone()).await, Err(refused()));
        assert_eq!(opened.load(Ordering::SeqCst), 2, "a later call tries again");
        let ok = lazy
            .run(
                Duration::from_secs(5),
                || async { Ok(7u8) },
                |c| async move { Ok(c) },
            )
            .await;
        assert_eq!(ok, Ok(7));
    }

    /// How a test's connection opens: an attempt within `budget`, in the background or not,
    /// that takes `takes`.
    #[derive(Clone, Copy)]
    struct Opens {
        budget: Duration,
        in_background: bool,
        takes: Duration,
    }

    /// Attempts started, and attempts that got to their answer.
    #[derive(Default)]
    struct Attempts {
        started: AtomicU64,
        finished: AtomicU64,
    }

    impl Opens {
        /// One call with `deadline`; an attempt it starts answers `answer`.
        async fn call(
            self,
            lazy: &LazyConnection<u8>,
            deadline: Duration,
            attempts: &Arc<Attempts>,
            answer: Result<u8>,
        ) -> Result<u8> {
            let attempts = attempts.clone();
            let open = move || {
                attempts.started.fetch_add(1, Ordering::SeqCst);
                async move {
                    tokio::time::sleep(self.takes).await;
                    attempts.finished.fetch_add(1, Ordering::SeqCst);
                    answer
                }
            };
            lazy.run(
                deadline,
                || lazy.resumable(self.budget, self.in_background, open),
                |c| async move { Ok(c) },
            )
            .await
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test]
    async fn an_attempt_slower_than_one_call_is_resumed_by_the_next_until_the_connect_budget() {
        let lazy = LazyConnection::<u8>::new();
        let attempts = Arc::new(Attempts::default());
        // Each attempt takes 120 ms; each call may wait 50 ms.
        let opens = Opens {
            budget: ms(5000),
            in_background: false,
            takes: ms(120),
        };
        let mut outcomes = Vec::new();
        for _ in 0..5 {
            outcomes.push(opens.call(&lazy, ms(50), &attempts, Ok(9)).await);
            if outcomes.last().is_some_and(Result::is_ok) {
                break;
            }
        }
        assert_eq!(
            outcomes.first().map(|o| o.as_ref().map_err(|e| e.kind)),
            Some(Err(ErrorKind::Timeout))
        );
        assert_eq!(outcomes.last(), Some(&Ok(9)), "connected: {outcomes:?}");
        assert_eq!(
            attempts.started.load(Ordering::SeqCst),
            1,
            "one attempt, resumed"
        );

        // A kept attempt past its budget is not resumed: a new one starts.
        let lazy = LazyConnection::<u8>::new();
        let attempts = Arc::new(Attempts::default());
        let slow = Opens {
            budget: ms(60),
            in_background: false,
            takes: ms(10_000),
        };
        assert!(slow.call(&lazy, ms(20), &attempts, Ok(1)).await.is_err());
        tokio::time::sleep(ms(80)).await;
        assert!(slow.call(&lazy, ms(20), &attempts, Ok(1)).await.is_err());
        assert_eq!(
            attempts.started.load(Ordering::SeqCst),
            2,
            "the expired attempt was replaced"
        );
    }

    #[tokio::test]
    async fn a_background_attempt_goes_on_between_calls_and_its_failure_is_not_handed_on() {
        let lazy = LazyConnection::<u8>::new();
        let attempts = Arc::new(Attempts::default());
        let opens = Opens {
            budget: ms(5000),
            in_background: true,
            takes: ms(100),
        };
        let first = opens.call(&lazy, ms(30), &attempts, Ok(5)).await;
        assert_eq!(first.map_err(|e| e.kind), Err(ErrorKind::Timeout));
        tokio::time::sleep(ms(200)).await;
        assert_eq!(
            attempts.finished.load(Ordering::SeqCst),
            1,
            "finished with no call waiting"
        );
        assert_eq!(opens.call(&lazy, ms(30), &attempts, Ok(5)).await, Ok(5));
        assert_eq!(attempts.started.load(Ordering::SeqCst), 1);

        // A failed background attempt found later is not this call's answer: it starts over.
        let lazy = LazyConnection::<u8>::new();
        let opens = Opens {
            takes: ms(50),
            ..opens
        };
        let failed = opens.call(&lazy, ms(30), &attempts, Err(refused())).await;
        assert!(failed.is_err());
        tokio::time::sleep(ms(100)).await;
        let second = opens.call(&lazy, ms(30), &attempts, Ok(6)).await;
        assert_eq!(
            second.map_err(|e| e.kind),
            Err(ErrorKind::Timeout),
            "a new 50 ms attempt"
        );
        tokio::time::sleep(ms(100)).await;
        assert_eq!(opens.call(&lazy, ms(30), &attempts, Ok(6)).await, Ok(6));
    }

    #[tokio::test]
    async fn an_attempt_that_panics_is_not_kept() {
        let lazy = LazyConnection::<u8>::new();
        let attempts = AtomicU64::new(0);
        for _ in 0..2 {
            let call = lazy.run(
                Duration::from_secs(1),
                || {
                    lazy.resumable(Duration::from_secs(5), false, || {
                        attempts.fetch_add(1, Ordering::SeqCst);
                        async { panic!("a connector bug") }
                    })
                },
                |c| async move { Ok(c) },
            );
            let caught =
                futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(call)).await;
            assert!(caught.is_err());
        }
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            2,
            "each call started its own"
        );
    }
}
