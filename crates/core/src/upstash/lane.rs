//! Requests to the REST API in issue order. Concurrent HTTP requests on a keep-alive pool reach
//! the server in no particular order (measured: a write not awaited, then a delete, left the
//! value in place 141 times out of 200), so one request is in flight at a time. Calls issued
//! meanwhile wait in line and go together as the next request: the commands of consecutive
//! calls merged, in order, into one `/pipeline` (what a server runs one after the other
//! anyway). A MULTI/EXEC batch goes alone to `/multi-exec`; a lone command to `/`, as before.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Http;
use crate::{Cmd, Error, ErrorKind, Reply, Result};

/// Bounds of one merged request, below the request size Upstash accepts; a single call larger
/// than this still goes, alone.
const MAX_MERGED_COMMANDS: usize = 1000;
const MAX_MERGED_BYTES: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Single,
    Pipeline,
    Atomic,
}

struct Request {
    cmds: Vec<Cmd>,
    shape: Shape,
    deadline: Instant,
    answer: oneshot::Sender<Result<Vec<Result<Reply>>>>,
}

#[derive(Default)]
pub(super) struct Lane {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Request>,
    /// A task is sending the waiting requests.
    driving: bool,
}

impl Lane {
    /// Queues `cmds` (on the first poll, so in the order the calls were issued) and answers
    /// their replies, one per command.
    pub(super) async fn send(
        self: &Arc<Self>,
        http: &Arc<Http>,
        cmds: Vec<Cmd>,
        shape: Shape,
        deadline: Instant,
    ) -> Result<Vec<Result<Reply>>> {
        let (answer, answered) = oneshot::channel();
        {
            let mut state = self.state.lock();
            state.waiting.push_back(Request {
                cmds,
                shape,
                deadline,
                answer,
            });
            if !state.driving {
                state.driving = true;
                tokio::spawn(drive(self.clone(), http.clone()));
            }
        }
        // In line: calls issued later queue behind it.
        crate::order::sent();
        // Unanswered: the lane gave up on the request at its deadline (or its task panicked).
        answered.await.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Timeout,
                "upstash request did not finish by its deadline",
            ))
        })
    }

    /// The next request to send: the first waiting call, with the calls after it that can
    /// share its request. None (and the lane idle) when nobody waits.
    fn next_group(&self) -> Option<Vec<Request>> {
        let mut state = self.state.lock();
        // Calls that gave up (their deadline passed) are not sent.
        state.waiting.retain(|r| !r.answer.is_closed());
        let Some(first) = state.waiting.pop_front() else {
            state.driving = false;
            return None;
        };
        let mut commands = first.cmds.len();
        let mut bytes = size(&first.cmds);
        let mut group = vec![first];
        if group[0].shape != Shape::Atomic {
            while let Some(next) = state.waiting.front() {
                let next_bytes = size(&next.cmds);
                if next.shape == Shape::Atomic
                    || commands + next.cmds.len() > MAX_MERGED_COMMANDS
                    || bytes + next_bytes > MAX_MERGED_BYTES
                {
                    break;
                }
                commands += next.cmds.len();
                bytes += next_bytes;
                group.extend(state.waiting.pop_front());
            }
        }
        Some(group)
    }
}

fn size(cmds: &[Cmd]) -> usize {
    cmds.iter()
        .flat_map(|cmd| cmd.parts())
        .map(|part| part.len())
        .sum()
}

/// Sends the waiting requests one after the other until none is left.
async fn drive(lane: Arc<Lane>, http: Arc<Http>) {
    // Should this task panic, the requests still waiting are answered with an error when
    // dropped, and the next call starts a new task.
    struct OnPanic<'a>(&'a Lane);
    impl Drop for OnPanic<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let mut state = self.0.state.lock();
                state.driving = false;
                state.waiting.clear();
            }
        }
    }
    let _on_panic = OnPanic(&lane);
    while let Some(group) = lane.next_group() {
        // The callers stop waiting at their deadline; the lane must not wait longer either, or
        // one stalled request would hold every later call.
        // Past it, the group's answers are dropped unsent: its callers have timed out.
        let deadline = group.iter().map(|r| r.deadline).max().expect("a group");
        let _ = tokio::time::timeout_at(deadline, send_group(&http, group)).await;
    }
}

async fn send_group(http: &Http, mut group: Vec<Request>) {
    if group.len() == 1 {
        let request = group.pop().expect("one request");
        let outcome = match request.shape {
            Shape::Single if request.cmds.len() == 1 => {
                let cmd = &request.cmds[0];
                http.exec(cmd, request.deadline).await.map(|r| vec![Ok(r)])
            }
            Shape::Atomic => {
                http.exec_batch(&http.multi_exec_url, request.cmds, request.deadline)
                    .await
            }
            _ => {
                http.exec_batch(&http.pipeline_url, request.cmds, request.deadline)
                    .await
            }
        };
        let _ = request.answer.send(outcome);
        return;
    }
    let deadline = group.iter().map(|r| r.deadline).max().expect("a group");
    let mut counts = Vec::with_capacity(group.len());
    let mut cmds = Vec::new();
    let mut answers = Vec::with_capacity(group.len());
    for request in group {
        counts.push(request.cmds.len());
        cmds.extend(request.cmds);
        answers.push(request.answer);
    }
    match http.exec_batch(&http.pipeline_url, cmds, deadline).await {
        Ok(items) => {
            let mut items = items.into_iter();
            for (answer, count) in answers.into_iter().zip(counts) {
                let _ = answer.send(Ok(items.by_ref().take(count).collect()));
            }
        }
        Err(err) => {
            for answer in answers {
                let _ = answer.send(Err(err.clone()));
            }
        }
    }
}
