//! A Redis connection whose socket Node's own loop watches (a libuv poll handle): commands are
//! written on Node's thread when a call is made, replies are read and handed to their calls in
//! the poll callback. It is a redis-rs `ConnectionLike`, so every command, pipeline and script
//! goes through the same core code as on redis-rs's own connection.

use std::collections::VecDeque;
use std::ffi::{c_int, c_void};
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::net::TcpStream;
use std::sync::{Arc, Mutex, Weak};
use std::thread::ThreadId;

use async_trait::async_trait;
use digis_redis_core::options::Timeouts;
use digis_redis_core::redis_protocol::connector::Connector;
use digis_redis_core::redis_protocol::handshake::{open_tcp, protocol_error};
use digis_redis_core::redis_protocol::reply_frame::{build_value, ReplyFrames};
use futures_util::FutureExt;
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use tokio::sync::oneshot;

use super::executor::{defer_write, Executor, OnTeardown};
use super::uv::{self, PollHandle};

/// Bytes read from the socket per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// A buffer grown past this by one large command or reply is given back once it empties.
const KEPT_CAPACITY: usize = 1 << 20;

/// Opens [`LoopConnection`]s: the handshake on the tokio runtime, then the socket is handed to
/// Node's loop on Node's thread (where the executor polls the call that opens it).
pub struct LoopConnector;

#[async_trait]
impl Connector for LoopConnector {
    type Connection = LoopConnection;
    // Its socket is watched by the loop of the thread that opens it.
    const OPENS_ON_ANY_THREAD: bool = false;

    async fn open(
        &self,
        client: &redis::Client,
        timeouts: &Timeouts,
    ) -> RedisResult<LoopConnection> {
        let info = client.get_connection_info().clone();
        let db = info.redis_settings().db();
        let timeout = timeouts.connect();
        // The executor polls this inside the runtime's context (see `Executor::poll`).
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| unusable("no I/O runtime"))?;
        let socket = runtime
            .spawn(async move { open_tcp(&info, timeout).await })
            .await
            .map_err(|_| {
                RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the I/O runtime stopped while connecting",
                ))
            })??;
        LoopConnection::watch(socket, db)
    }
}

fn unusable(why: &str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Client,
        "node-loop connection",
        why.to_string(),
    ))
}

#[derive(Clone)]
pub struct LoopConnection {
    inner: Arc<Inner>,
    db: i64,
}

struct Inner {
    /// Dropped by hand: only after the poll handle watching it is closed (see `Drop`).
    socket: ManuallyDrop<TcpStream>,
    thread: ThreadId,
    state: Mutex<State>,
}

/// Replies owed to one send.
enum Waiting {
    One(oneshot::Sender<RedisResult<Value>>),
    Many {
        /// Replies to drop first (MULTI and its QUEUED).
        skip: usize,
        count: usize,
        values: Vec<Value>,
        /// The first error among the dropped replies: why a transaction was aborted.
        skipped_error: Option<Value>,
        reply: oneshot::Sender<RedisResult<Vec<Value>>>,
    },
}

struct State {
    /// Bytes to write; `out[written..]` is still unsent.
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    /// Where `read` lands, allocated once (a fresh zeroed chunk per read costs more than it).
    scratch: Box<[u8]>,
    frames: ReplyFrames,
    waiting: VecDeque<Waiting>,
    /// Why the connection is unusable; every later send fails with it.
    failed: Option<(std::io::ErrorKind, String)>,
    /// None once closed.
    handle: Option<PollHandle>,
    watching_writable: bool,
    write_deferred: bool,
}

// SAFETY: the poll handle is only touched on `thread` (checked in `send`, and the callbacks run
// there); everything else in `State` is plain data behind the mutex.
unsafe impl Send for State {}

impl LoopConnection {
    /// Hands `socket` to this thread's Node loop.
    fn watch(socket: TcpStream, db: i64) -> RedisResult<LoopConnection> {
        let uv = uv::uv().ok_or_else(|| unusable("libuv is not exported by this process"))?;
        let executor =
            Executor::on_this_thread().ok_or_else(|| unusable("not on Node's thread"))?;
        socket.set_nonblocking(true)?;
        let inner = Arc::new(Inner {
            socket: ManuallyDrop::new(socket),
            thread: std::thread::current().id(),
            state: Mutex::new(State {
                out: Vec::new(),
                written: 0,
                input: Vec::new(),
                scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
                frames: ReplyFrames::default(),
                waiting: VecDeque::new(),
                failed: None,
                handle: None,
                watching_writable: false,
                write_deferred: false,
            }),
        });
        let data = Box::into_raw(Box::new(Arc::downgrade(&inner))) as *mut c_void;
        // SAFETY: on the loop's thread (the executor's); the socket lives in `inner`, which
        // closes the handle before it drops the socket.
        let handle =
            unsafe { PollHandle::open(uv, executor.uv_loop(), raw_fd(&inner.socket), data) };
        let Some(handle) = handle else {
            // SAFETY: `data` was never given to libuv.
            drop(unsafe { Box::from_raw(data as *mut Weak<Inner>) });
            return Err(unusable("uv_poll_init_socket failed"));
        };
        // SAFETY: as above.
        if !unsafe { handle.start(uv, uv::READABLE, on_poll) } {
            unsafe { handle.close(uv, on_closed) };
            return Err(unusable("uv_poll_start failed"));
        }
        inner.lock().handle = Some(handle);
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        executor.close_at_teardown(weak);
        Ok(LoopConnection { inner, db })
    }
}

#[cfg(unix)]
fn raw_fd(socket: &TcpStream) -> c_int {
    std::os::fd::AsRawFd::as_raw_fd(socket)
}

#[cfg(not(unix))]
fn raw_fd(_socket: &TcpStream) -> c_int {
    unreachable!("uv::uv() is None off unix")
}

fn closed_error(kind: std::io::ErrorKind, why: &str) -> RedisError {
    RedisError::from(std::io::Error::new(kind, why.to_string()))
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `waiting`'s command (written by `pack`) and writes it, or has it written at the
    /// end of the running poll callback.
    fn send(
        self: &Arc<Self>,
        pack: impl FnOnce(&mut Vec<u8>),
        waiting: Waiting,
    ) -> RedisResult<()> {
        if std::thread::current().id() != self.thread {
            return Err(unusable("used off the Node thread that opened it"));
        }
        let mut state = self.lock();
        if let Some((kind, why)) = &state.failed {
            return Err(closed_error(*kind, why));
        }
        pack(&mut state.out);
        state.waiting.push_back(waiting);
        if state.write_deferred {
            return Ok(());
        }
        let me = self.clone();
        if defer_write(move || me.write_now()) {
            state.write_deferred = true;
            return Ok(());
        }
        self.flush(&mut state);
        Ok(())
    }

    fn write_now(&self) {
        let mut state = self.lock();
        state.write_deferred = false;
        self.flush(&mut state);
    }

    /// Writes what the socket takes now; the rest when it says it is writable again.
    fn flush(&self, state: &mut State) {
        if state.watching_writable || state.failed.is_some() {
            return;
        }
        while state.written < state.out.len() {
            match (&*self.socket).write(&state.out[state.written..]) {
                Ok(n) => state.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.watch(state, uv::READABLE | uv::WRITABLE);
                    return;
                }
                Err(e) => return self.fail(state, e.kind(), &e.to_string()),
            }
        }
        state.out.clear();
        state.written = 0;
        if state.out.capacity() > KEPT_CAPACITY {
            state.out = Vec::new();
        }
    }

    fn watch(&self, state: &mut State, events: c_int) {
        let (Some(uv), Some(handle)) = (uv::uv(), state.handle.as_ref()) else {
            return;
        };
        // SAFETY: on the loop's thread (sends are checked, callbacks run there).
        if unsafe { handle.start(uv, events, on_poll) } {
            state.watching_writable = events & uv::WRITABLE != 0;
        } else {
            self.fail(state, std::io::ErrorKind::Other, "uv_poll_start failed");
        }
    }

    /// Reads what has arrived and hands each whole reply to the send it answers.
    fn read(&self, state: &mut State) {
        let mut closed = false;
        loop {
            let State { scratch, input, .. } = &mut *state;
            match (&*self.socket).read(scratch) {
                Ok(0) => {
                    // Replies that arrived before the close still answer their calls.
                    closed = true;
                    break;
                }
                Ok(n) => {
                    input.extend_from_slice(&scratch[..n]);
                    if n < READ_CHUNK {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return self.fail(state, e.kind(), &e.to_string()),
            }
        }
        let mut start = 0;
        loop {
            let found = state.frames.next_len(&state.input[start..]);
            match found {
                Ok(Some(len)) => {
                    let value = build_value(&state.input[start..start + len]);
                    start += len;
                    if !deliver(&mut state.waiting, value) {
                        return self.fail(
                            state,
                            std::io::ErrorKind::InvalidData,
                            "a reply nobody asked for",
                        );
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let why = protocol_error(e).to_string();
                    return self.fail(state, std::io::ErrorKind::InvalidData, &why);
                }
            }
        }
        state.input.drain(..start);
        if state.input.is_empty() && state.input.capacity() > KEPT_CAPACITY {
            state.input = Vec::new();
        }
        if closed {
            self.fail(
                state,
                std::io::ErrorKind::ConnectionReset,
                "redis closed the connection",
            );
        }
    }

    /// Fails every send still owed a reply and every later one; stops watching the socket.
    fn fail(&self, state: &mut State, kind: std::io::ErrorKind, why: &str) {
        if state.failed.is_none() {
            state.failed = Some((kind, why.to_string()));
        }
        for waiting in state.waiting.drain(..) {
            let err = closed_error(kind, why);
            match waiting {
                Waiting::One(reply) => drop(reply.send(Err(err))),
                Waiting::Many { reply, .. } => drop(reply.send(Err(err))),
            }
        }
        close(state);
    }
}

/// Gives `value` to the oldest send; false when no send is owed one.
fn deliver(waiting: &mut VecDeque<Waiting>, value: Value) -> bool {
    let Some(front) = waiting.front_mut() else {
        return false;
    };
    match front {
        Waiting::One(_) => {
            if let Some(Waiting::One(reply)) = waiting.pop_front() {
                let _ = reply.send(Ok(value));
            }
        }
        Waiting::Many {
            skip,
            count,
            values,
            skipped_error,
            ..
        } => {
            if *skip > 0 {
                *skip -= 1;
                if skipped_error.is_none() && matches!(value, Value::ServerError(_)) {
                    *skipped_error = Some(value);
                }
                return true;
            }
            values.push(value);
            if values.len() < *count {
                return true;
            }
            if let Some(Waiting::Many {
                values,
                skipped_error,
                reply,
                ..
            }) = waiting.pop_front()
            {
                // An aborted transaction answers EXECABORT; the queued command's own error
                // says why, as redis-rs's connection reports it.
                let outcome = match (skipped_error, values.last()) {
                    (Some(error), Some(Value::ServerError(_))) => {
                        error.extract_error().map(|v| vec![v])
                    }
                    _ => Ok(values),
                };
                let _ = reply.send(outcome);
            }
        }
    }
    true
}

fn close(state: &mut State) {
    if let (Some(uv), Some(handle)) = (uv::uv(), state.handle.take()) {
        // SAFETY: on the loop's thread; the socket stays open until `Inner` drops, after this.
        unsafe { handle.close(uv, on_closed) };
    }
}

impl OnTeardown for Inner {
    fn teardown(&self) {
        let mut state = self.lock();
        state.failed = Some((
            std::io::ErrorKind::NotConnected,
            "Node is shutting down".into(),
        ));
        close(&mut state);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if state.handle.is_some() {
            if std::thread::current().id() != self.thread {
                // libuv's handle may only be closed on its loop's thread: leave it, and the
                // socket it polls, open rather than close a descriptor the loop still watches.
                return;
            }
            close(state);
        }
        // SAFETY: dropped once, here, after the handle that watched it was closed.
        unsafe { ManuallyDrop::drop(&mut self.socket) };
    }
}

unsafe extern "C" fn on_poll(handle: *mut c_void, status: c_int, events: c_int) {
    // A panic must not unwind into libuv (that aborts Node): it is dropped here, and the calls
    // it concerned answer at their deadline.
    let _ = std::panic::catch_unwind(|| unsafe { poll_ready(handle, status, events) });
}

unsafe fn poll_ready(handle: *mut c_void, status: c_int, events: c_int) {
    let Some(uv) = uv::uv() else { return };
    // SAFETY: the handle's data is the `Weak<Inner>` boxed in `watch`, freed in `on_closed`.
    let weak = unsafe { &*(PollHandle::data_of(uv, handle) as *const Weak<Inner>) };
    let Some(inner) = weak.upgrade() else {
        // Its connection was dropped off this thread (see `Drop`): close it here, on its thread.
        unsafe { PollHandle::close_raw(uv, handle, on_closed) };
        return;
    };
    let Some(executor) = Executor::on_this_thread() else {
        return;
    };
    executor.in_poll_callback(|| {
        let mut state = inner.lock();
        if status < 0 {
            return inner.fail(
                &mut state,
                std::io::ErrorKind::Other,
                "polling the socket failed",
            );
        }
        if events & uv::WRITABLE != 0 {
            state.watching_writable = false;
            inner.flush(&mut state);
            if !state.watching_writable && state.handle.is_some() {
                inner.watch(&mut state, uv::READABLE);
            }
        }
        if events & uv::READABLE != 0 {
            inner.read(&mut state);
        }
    });
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    let _ = std::panic::catch_unwind(|| unsafe { free_closed(handle) });
}

unsafe fn free_closed(handle: *mut c_void) {
    let Some(uv) = uv::uv() else { return };
    // SAFETY: libuv is done with the handle; its data and memory were allocated in `watch`.
    unsafe {
        drop(Box::from_raw(
            PollHandle::data_of(uv, handle) as *mut Weak<Inner>
        ));
        PollHandle::free(uv, handle);
    }
}

/// The reply to a send, once it arrives; the send's own error if it was refused.
async fn reply_to<T>(
    sent: RedisResult<()>,
    answer: oneshot::Receiver<RedisResult<T>>,
) -> RedisResult<T> {
    sent?;
    answer.await.unwrap_or_else(|_| {
        Err(closed_error(
            std::io::ErrorKind::ConnectionAborted,
            "connection dropped",
        ))
    })
}

impl ConnectionLike for LoopConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let (reply, answer) = oneshot::channel();
        let sent = self
            .inner
            .send(|out| cmd.write_packed_command(out), Waiting::One(reply));
        reply_to(sent, answer).boxed()
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        if offset + count == 0 {
            // Nothing would answer it: queued, it would take the next command's reply.
            return async {
                Err(RedisError::from((
                    redis::ErrorKind::Client,
                    "empty pipeline",
                )))
            }
            .boxed();
        }
        let (reply, answer) = oneshot::channel();
        let waiting = Waiting::Many {
            skip: offset,
            count,
            values: Vec::with_capacity(count),
            skipped_error: None,
            reply,
        };
        let sent = self.inner.send(
            |out| out.extend_from_slice(&pipeline.get_packed_pipeline()),
            waiting,
        );
        reply_to(sent, answer).boxed()
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}
