//! Program order: calls from one process reach the server in the order they were issued, as on
//! one ioredis connection, even though each runs as its own task on a multi-threaded runtime
//! (where tasks are first polled in no particular order).
//!
//! A call takes a [`Ticket`] when it is issued, on the caller's thread, before any task exists.
//! Its task waits for its turn, and hands the turn on as soon as the backend has queued its first
//! command ([`sent`], [`sends_on_first_poll`]) or the call has ended. Later calls never
//! overtake earlier ones, and calls still overlap on the wire: nobody waits for a reply.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;

use crate::{Error, ErrorKind, Result};

/// Hands out tickets in issue order and lets their holders go one after the other.
#[derive(Default)]
pub struct Sequencer {
    state: Mutex<State>,
    /// Calls issued that may write and have not sent yet: until they have, a near cache must
    /// not answer a read issued after them (it could miss their change).
    writes_unsent: AtomicUsize,
}

#[derive(Default)]
struct State {
    issued: u64,
    /// The ticket whose turn it is.
    serving: u64,
    /// Tickets handed on before their turn came (their call gave up waiting).
    handed_on_early: BTreeSet<u64>,
    waiting: HashMap<u64, Waker>,
}

impl Sequencer {
    pub fn new() -> Arc<Sequencer> {
        Arc::new(Sequencer::default())
    }

    /// The next place in line; take it when the call is issued.
    pub fn ticket(self: &Arc<Self>) -> Ticket {
        self.writes_unsent.fetch_add(1, Ordering::AcqRel);
        self.next(true)
    }

    /// A ticket for a call that only reads: it does not hold near-cache reads back.
    pub fn read_ticket(self: &Arc<Self>) -> Ticket {
        self.next(false)
    }

    fn next(self: &Arc<Self>, write: bool) -> Ticket {
        let mut state = self.state.lock();
        let number = state.issued;
        state.issued += 1;
        Ticket {
            sequencer: self.clone(),
            number,
            handed_on: AtomicBool::new(false),
            write,
        }
    }

    /// Whether a call that may write was issued and has not sent its first command yet.
    pub fn writes_unsent(&self) -> bool {
        self.writes_unsent.load(Ordering::Acquire) != 0
    }

    fn hand_on(&self, number: u64) {
        let mut state = self.state.lock();
        if number != state.serving {
            state.handed_on_early.insert(number);
            state.waiting.remove(&number);
            return;
        }
        state.serving += 1;
        loop {
            let next = state.serving;
            if !state.handed_on_early.remove(&next) {
                break;
            }
            state.serving += 1;
        }
        let next = state.serving;
        if let Some(waker) = state.waiting.remove(&next) {
            waker.wake();
        }
    }
}

/// One call's place in line. Dropping it hands the turn on, so a call that ends, fails or
/// panics never holds up the calls behind it.
pub struct Ticket {
    sequencer: Arc<Sequencer>,
    number: u64,
    handed_on: AtomicBool,
    write: bool,
}

impl Ticket {
    fn hand_on(&self) {
        if !self.handed_on.swap(true, Ordering::AcqRel) {
            if self.write {
                self.sequencer.writes_unsent.fetch_sub(1, Ordering::AcqRel);
            }
            self.sequencer.hand_on(self.number);
        }
    }

    async fn turn(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.sequencer.state.lock();
            if state.serving == self.number {
                Poll::Ready(())
            } else {
                state.waiting.insert(self.number, cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.hand_on();
    }
}

tokio::task_local! {
    static CURRENT: Arc<Ticket>;
}

/// Runs `work` once every call issued before `ticket` has sent its first command. Waiting for
/// them is bounded by `budget` (the call deadline): a call stuck behind a stalled one times out
/// unsent rather than queueing without end.
pub async fn in_order<T>(
    ticket: Ticket,
    budget: Duration,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let ticket = Arc::new(ticket);
    if tokio::time::timeout(budget, ticket.turn()).await.is_err() {
        return Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "timed out after {} ms waiting for earlier calls to be sent",
                budget.as_millis()
            ),
        ));
    }
    let outcome = CURRENT.scope(ticket.clone(), work).await;
    ticket.hand_on();
    outcome
}

/// Lets the next call in line go: the current call's first command is queued where later
/// commands queue behind it. A no-op outside [`in_order`], and after the first time.
pub fn sent() {
    let _ = CURRENT.try_with(|ticket| ticket.hand_on());
}

/// Polls `send` once, then [`sent`]: for a send that queues its command on its first poll, as a
/// redis-rs connection does while its queue has room (the backends keep it so).
pub async fn sends_on_first_poll<F: Future>(send: F) -> F::Output {
    let mut send = pin!(send);
    let mut first = true;
    std::future::poll_fn(|cx| {
        let polled = send.as_mut().poll(cx);
        if std::mem::take(&mut first) {
            sent();
        }
        polled
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Tasks spawned in reverse still act in ticket order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn calls_act_in_ticket_order_whatever_order_their_tasks_run() {
        let sequencer = Sequencer::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let tickets: Vec<Ticket> = (0..200).map(|_| sequencer.ticket()).collect();
        let mut tasks = Vec::new();
        for (i, ticket) in tickets.into_iter().enumerate().rev() {
            let log = log.clone();
            tasks.push(tokio::spawn(in_order(
                ticket,
                Duration::from_secs(10),
                async move {
                    sends_on_first_poll(async {
                        log.lock().push(i);
                        tokio::task::yield_now().await;
                    })
                    .await;
                    Ok(())
                },
            )));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(*log.lock(), (0..200).collect::<Vec<_>>());
    }

    /// The turn passes at the first poll, not at the reply: a slow call does not hold up the next.
    #[tokio::test]
    async fn the_turn_passes_once_the_command_is_sent() {
        let sequencer = Sequencer::new();
        let first = sequencer.ticket();
        let second = sequencer.ticket();
        let slow = tokio::spawn(in_order(first, Duration::from_secs(10), async {
            sends_on_first_poll(tokio::time::sleep(Duration::from_secs(5))).await;
            Ok(())
        }));
        let quick = in_order(second, Duration::from_secs(1), async { Ok(7) });
        assert_eq!(quick.await, Ok(7));
        slow.abort();
    }

    /// A call that gives up waiting leaves the line; the ones behind it still go.
    #[tokio::test]
    async fn a_call_that_times_out_waiting_leaves_the_line() {
        let sequencer = Sequencer::new();
        let stalled = sequencer.ticket();
        let impatient = sequencer.ticket();
        let patient = sequencer.ticket();
        let ran = Arc::new(AtomicUsize::new(0));
        let err = in_order(impatient, Duration::from_millis(20), async { Ok(()) })
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Timeout);
        drop(stalled);
        let counted = ran.clone();
        in_order(patient, Duration::from_secs(1), async move {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn only_calls_that_may_write_hold_near_reads_back_and_only_until_they_sent() {
        let sequencer = Sequencer::new();
        let read = sequencer.read_ticket();
        assert!(!sequencer.writes_unsent());
        let write = sequencer.ticket();
        assert!(sequencer.writes_unsent());
        write.hand_on();
        write.hand_on();
        assert!(!sequencer.writes_unsent(), "counted once");
        drop(read);
        let dropped = sequencer.ticket();
        drop(dropped);
        assert!(
            !sequencer.writes_unsent(),
            "a call that ends unsent lets go too"
        );
    }
}
