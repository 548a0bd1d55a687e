//! A connection opened on first use and replaced after a failure, shared by both Redis protocol
//! backends.
//!
//! A connection that failed or timed out is discarded, and the next call opens a fresh one:
//! replies still owed on it could otherwise be paired with later calls, and a reconnect attempt
//! that failed while the server was down must not answer the first call after it is back.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::exchange::within_deadline;
use crate::{ErrorKind, Result};

pub(crate) struct LazyConnection<C> {
    /// The live connection and its generation, so a failed call discards only the connection
    /// it used, never a newer one.
    current: Mutex<Option<(u64, C)>>,
    /// One connection attempt at a time; the others wait for its result.
    connecting: tokio::sync::Mutex<()>,
    generations: AtomicU64,
    /// Whether a timeout also discards the connection (see `kept_on_timeout`).
    discard_on_timeout: bool,
}

impl<C: Clone> LazyConnection<C> {
    pub(crate) fn new() -> LazyConnection<C> {
        LazyConnection {
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(0),
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
        // Queued for the connection in issue order: later calls may go now, and queue behind
        // (order.rs), rather than wait for the connection attempt to end.
        let _connecting = crate::order::sends_on_first_poll(self.connecting.lock()).await;
        if let Some(live) = self.current.lock().clone() {
            return Ok(live);
        }
        let conn = open().await?;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *self.current.lock() = Some((generation, conn.clone()));
        Ok((generation, conn))
    }

    fn discard(&self, generation: u64) {
        let mut current = self.current.lock();
        if matches!(&*current, Some((g, _)) if *g == generation) {
            *current = None;
        }
    }

    /// Runs `op` on the connection (opened by `open` when there is none) within `deadline`; a
    /// transport failure or timeout discards the connection it used.
    pub(crate) async fn run<T, O, OFut, F, Fut>(
        &self,
        deadline: Duration,
        open: O,
        op: F,
    ) -> Result<T>
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
