//! A connection opened on first use and replaced after a failure, shared by both Redis protocol
//! backends and the rest-server.
//!
//! A connection that failed or timed out is discarded, and the next call opens a fresh one:
//! replies still owed on it could otherwise be paired with later calls, and a reconnect attempt
//! that failed while the server was down must not answer the first call after it is back. Calls
//! that queued behind a failed attempt get its error rather than each waiting out a connect
//! timeout in turn.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

    async fn get<O, OFut>(&self, open: O) -> Result<(u64, C)>
    where
        O: FnOnce() -> OFut,
        OFut: Future<Output = Result<C>>,
    {
        if let Some(live) = self.current.lock().clone() {
            return Ok(live);
        }
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
    /// transport failure or timeout discards the connection it used.
    pub async fn run<T, O, OFut, F, Fut>(&self, deadline: Duration, open: O, op: F) -> Result<T>
    where
        O: FnOnce() -> OFut,
        OFut: Future<Output = Result<C>>,
        F: FnOnce(C) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let used = AtomicU64::new(0);
        let work = async {
            let (generation, conn) = self.get(open).await?;
            used.store(generation, Ordering::Relaxed);
            op(conn).await
        };
        let outcome = within_deadline(deadline, work).await;
        if let Err(err) = &outcome {
            let generation = used.load(Ordering::Relaxed);
            let timeout = err.kind == ErrorKind::Timeout;
            if err.is_transport() && generation != 0 && (self.discard_on_timeout || !timeout) {
                self.discard(generation);
            }
        }
        outcome
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
}
