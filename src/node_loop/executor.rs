//! Calls on a connection that Node's loop drives run as futures polled on Node's own thread.
//!
//! A call is polled once when it is made, inside the napi call, so its command is queued on the
//! connection before the JS caller gets its promise; the commands queued during one turn of the
//! loop go out in one write at its end (the check phase, as `setImmediate` runs), as ioredis's
//! auto-pipelining does. When replies arrive, the socket's poll callback hands them to their
//! calls, polls every call that became ready and lets the JS continuations run (a callback
//! scope). A round trip costs no other thread. Futures that wait on something else (the
//! connect, a timer of the tokio runtime) are woken from that thread through one threadsafe
//! function.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::ptr;
use std::rc::Rc;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi::sys;

use super::uv::{self, EndOfIteration};
use crate::completion::{settle_deferred, wakeup_function};
use crate::io_runtime::current as io_runtime;
use crate::js_error::{from_napi, Code};

/// Turns a finished call's value into a JS value, on Node's thread.
type Settle = Box<dyn FnOnce(sys::napi_env) -> Result<sys::napi_value>>;

struct Task {
    future: Pin<Box<dyn Future<Output = Result<Settle, Code>>>>,
    deferred: sys::napi_deferred,
    waker: Waker,
}

/// Wake-ups of this environment's tasks, from any thread.
struct Wakeups {
    state: Mutex<WakeState>,
}

struct WakeState {
    ready: Vec<u64>,
    /// A call of the threadsafe function is pending: later wake-ups ride on it.
    woken: bool,
    /// The environment is tearing down.
    closed: bool,
    tsfn: sys::napi_threadsafe_function,
}

// SAFETY: `tsfn` is only passed to `napi_call_threadsafe_function` (thread-safe), under the lock
// and while `closed` is false; the teardown hook sets `closed` under the same lock.
unsafe impl Send for WakeState {}

thread_local! {
    static EXECUTOR: RefCell<Option<Rc<Executor>>> = const { RefCell::new(None) };
    /// This thread is polling ready tasks: a wake-up here is picked up by that loop.
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    /// Writes waiting for the end of this loop iteration (see `defer_write`).
    static DEFERRED_WRITES: RefCell<Vec<Box<dyn FnOnce()>>> = const { RefCell::new(Vec::new()) };
}

struct TaskWaker {
    id: u64,
    wakeups: Arc<Wakeups>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.wakeups.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.closed {
            return;
        }
        state.ready.push(self.id);
        if !state.woken && !DRAINING.with(Cell::get) {
            state.woken = true;
            // SAFETY: see `WakeState`; nonblocking on an unbounded queue never waits.
            unsafe {
                sys::napi_call_threadsafe_function(
                    state.tsfn,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }
}

/// Something holding a libuv handle that must be closed before the environment's loop is.
pub trait OnTeardown {
    fn teardown(&self);
}

pub struct Executor {
    env: sys::napi_env,
    uv_loop: *mut c_void,
    tasks: RefCell<HashMap<u64, Task>>,
    next_id: Cell<u64>,
    wakeups: Arc<Wakeups>,
    tsfn: sys::napi_threadsafe_function,
    /// What the poll callbacks' callback scopes run as (an async resource, as for any callback
    /// into JS from native code).
    resource: sys::napi_ref,
    async_context: sys::napi_async_context,
    handles: RefCell<Vec<Weak<dyn OnTeardownSync>>>,
    /// Runs the deferred writes; None where libuv's check and idle handles are missing.
    end_of_iteration: Option<EndOfIteration>,
}

/// `OnTeardown` for the handles' owners, which are shared with other threads' futures.
pub trait OnTeardownSync: OnTeardown + Send + Sync {}
impl<T: OnTeardown + Send + Sync> OnTeardownSync for T {}

unsafe extern "C" fn on_wakeup(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return;
    }
    // SAFETY: `context` is the `Wakeups` leaked in `create`, freed only in `finalize`.
    let wakeups = unsafe { &*(context as *const Wakeups) };
    wakeups
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .woken = false;
    // No panic may unwind into Node (it aborts); the calls concerned answer at their deadline.
    let _ = std::panic::catch_unwind(|| {
        if let Some(executor) = EXECUTOR.with(|e| e.borrow().clone()) {
            executor.drain();
        }
    });
}

unsafe extern "C" fn finalize(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the `Wakeups` leaked in `create`; Node finalizes the function once.
    drop(unsafe { Arc::from_raw(hint as *const Wakeups) });
}

unsafe extern "C" fn on_env_teardown(_arg: *mut c_void) {
    let _ = std::panic::catch_unwind(|| unsafe { tear_down() });
}

unsafe fn tear_down() {
    let Some(executor) = EXECUTOR.with(|e| e.borrow_mut().take()) else {
        return;
    };
    executor
        .wakeups
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .closed = true;
    // Unsettled calls are dropped with the environment; their futures drop their connections.
    let tasks = std::mem::take(&mut *executor.tasks.borrow_mut());
    drop(tasks);
    for handle in executor.handles.borrow_mut().drain(..) {
        if let Some(handle) = handle.upgrade() {
            handle.teardown();
        }
    }
    DEFERRED_WRITES.with(|w| w.borrow_mut().clear());
    if let (Some(uv), Some(end)) = (uv::uv(), executor.end_of_iteration.as_ref()) {
        // SAFETY: on the loop's thread, before Node closes the loop.
        unsafe { end.close(uv) };
    }
    // SAFETY: on Node's thread, in the environment's cleanup; each released once.
    unsafe {
        sys::napi_async_destroy(executor.env, executor.async_context);
        sys::napi_delete_reference(executor.env, executor.resource);
    }
}

unsafe extern "C" fn run_deferred_writes(_handle: *mut c_void) {
    let _ = std::panic::catch_unwind(|| unsafe { write_deferred() });
}

unsafe fn write_deferred() {
    let Some(executor) = EXECUTOR.with(|e| e.borrow().clone()) else {
        return;
    };
    if let (Some(uv), Some(end)) = (uv::uv(), executor.end_of_iteration.as_ref()) {
        // SAFETY: on the loop's thread (its check callback).
        unsafe { end.disarm(uv) };
    }
    let writes = DEFERRED_WRITES.with(|w| std::mem::take(&mut *w.borrow_mut()));
    for write in writes {
        write();
    }
}

impl Executor {
    /// This environment's executor, made on first use.
    pub fn current(env: &Env) -> Result<Rc<Executor>> {
        if let Some(existing) = EXECUTOR.with(|e| e.borrow().clone()) {
            return Ok(existing);
        }
        let made = Rc::new(Executor::create(env)?);
        EXECUTOR.with(|e| *e.borrow_mut() = Some(made.clone()));
        Ok(made)
    }

    /// The executor of the environment running on this thread, if any.
    pub fn on_this_thread() -> Option<Rc<Executor>> {
        EXECUTOR.with(|e| e.borrow().clone())
    }

    fn create(env: &Env) -> Result<Executor> {
        let raw_env = env.raw();
        let wakeups = Arc::new(Wakeups {
            state: Mutex::new(WakeState {
                ready: Vec::new(),
                woken: false,
                closed: false,
                tsfn: ptr::null_mut(),
            }),
        });
        let context = Arc::into_raw(wakeups.clone()) as *mut c_void;
        let mut uv_loop = ptr::null_mut();
        let tsfn;
        let mut resource = ptr::null_mut();
        let mut async_context = ptr::null_mut();
        // SAFETY: plain napi calls on Node's thread with valid arguments; `context` stays valid
        // until `finalize` takes it back.
        unsafe {
            check_status!(sys::napi_get_uv_event_loop(raw_env, &mut uv_loop))?;
            let mut name = ptr::null_mut();
            let label = c"digis-redis";
            check_status!(sys::napi_create_string_utf8(
                raw_env,
                label.as_ptr(),
                label.to_bytes().len() as isize,
                &mut name
            ))?;
            let mut object = ptr::null_mut();
            check_status!(sys::napi_create_object(raw_env, &mut object))?;
            check_status!(sys::napi_create_reference(
                raw_env,
                object,
                1,
                &mut resource
            ))?;
            check_status!(sys::napi_async_init(
                raw_env,
                object,
                name,
                &mut async_context
            ))?;
            tsfn = wakeup_function(
                raw_env,
                name,
                context,
                finalize,
                on_wakeup,
                on_env_teardown,
                ptr::null_mut(),
            )?;
        }
        wakeups.state.lock().unwrap_or_else(|e| e.into_inner()).tsfn = tsfn;
        // SAFETY: on the loop's thread, with the environment's loop.
        let end_of_iteration =
            uv::uv().and_then(|uv| unsafe { EndOfIteration::open(uv, uv_loop as *mut c_void) });
        Ok(Executor {
            env: raw_env,
            uv_loop: uv_loop as *mut c_void,
            tasks: RefCell::new(HashMap::new()),
            next_id: Cell::new(0),
            wakeups,
            tsfn,
            resource,
            async_context,
            handles: RefCell::new(Vec::new()),
            end_of_iteration,
        })
    }

    pub fn uv_loop(&self) -> *mut c_void {
        self.uv_loop
    }

    /// Closes `handle` when the environment tears down, if it is still alive then.
    pub fn close_at_teardown(&self, handle: Weak<dyn OnTeardownSync>) {
        let mut handles = self.handles.borrow_mut();
        handles.retain(|h| h.strong_count() > 0);
        handles.push(handle);
    }

    /// A promise of `work`'s value. `work` is polled now, on this thread, and from then on
    /// whenever it is woken; a panic rejects the promise with `panicked()`.
    pub fn spawn<'env, T, F>(
        &self,
        env: &'env Env,
        work: F,
        panicked: fn() -> Error<Code>,
    ) -> Result<PromiseRaw<'env, T>>
    where
        T: ToNapiValue + 'static,
        F: Future<Output = Result<T, Code>> + 'static,
    {
        let mut deferred = ptr::null_mut();
        let mut promise = ptr::null_mut();
        // SAFETY: napi call on Node's thread.
        unsafe {
            check_status!(sys::napi_create_promise(
                env.raw(),
                &mut deferred,
                &mut promise
            ))?;
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let future = async move {
            match AssertUnwindSafe(work).catch_unwind().await {
                Ok(Ok(value)) => {
                    Ok(Box::new(move |env| unsafe { T::to_napi_value(env, value) }) as Settle)
                }
                Ok(Err(err)) => Err(err),
                Err(_) => Err(panicked()),
            }
        };
        let task = Task {
            future: Box::pin(future),
            deferred,
            waker: Waker::from(Arc::new(TaskWaker {
                id,
                wakeups: self.wakeups.clone(),
            })),
        };
        if self.tasks.borrow().is_empty() {
            // SAFETY: on Node's thread. Keeps the loop alive while calls are in flight.
            unsafe { sys::napi_ref_threadsafe_function(self.env, self.tsfn) };
        }
        self.tasks.borrow_mut().insert(id, task);
        self.poll(id, io_runtime().as_ref());
        Ok(PromiseRaw::new(env.raw(), promise))
    }

    /// Polls one task inside `runtime`'s context (its timers, its spawns).
    fn poll(&self, id: u64, runtime: Option<&tokio::runtime::Handle>) {
        let Some(mut task) = self.tasks.borrow_mut().remove(&id) else {
            return;
        };
        let _entered = runtime.map(|r| r.enter());
        let mut cx = Context::from_waker(&task.waker);
        match task.future.as_mut().poll(&mut cx) {
            Poll::Pending => {
                self.tasks.borrow_mut().insert(id, task);
            }
            Poll::Ready(outcome) => {
                let value = outcome.and_then(|settle| settle(self.env).map_err(from_napi));
                // SAFETY: on Node's thread, in a handle scope (a napi call's, the threadsafe
                // function's or a poll callback's); each deferred is settled once.
                unsafe { settle_deferred(self.env, task.deferred, value) };
                if self.tasks.borrow().is_empty() {
                    // SAFETY: on Node's thread.
                    unsafe { sys::napi_unref_threadsafe_function(self.env, self.tsfn) };
                }
            }
        }
    }

    /// Polls every woken task until none is left.
    fn drain(&self) {
        let was_draining = DRAINING.with(|d| d.replace(true));
        let runtime = io_runtime();
        loop {
            let ready = {
                let mut state = self.wakeups.state.lock().unwrap_or_else(|e| e.into_inner());
                std::mem::take(&mut state.ready)
            };
            if ready.is_empty() {
                break;
            }
            for id in ready {
                self.poll(id, runtime.as_ref());
            }
        }
        DRAINING.with(|d| d.set(was_draining));
    }

    /// Runs a socket's poll callback `deliver` (which hands replies to their calls), polls the
    /// calls it woke and lets JS continue (promise reactions and `process.nextTick`s).
    pub fn in_poll_callback(&self, deliver: impl FnOnce()) {
        // SAFETY: on Node's thread, outside any JS frame (a libuv callback); scopes are closed
        // in reverse order below.
        unsafe {
            let mut handle_scope = ptr::null_mut();
            sys::napi_open_handle_scope(self.env, &mut handle_scope);
            let mut resource = ptr::null_mut();
            sys::napi_get_reference_value(self.env, self.resource, &mut resource);
            let mut callback_scope = ptr::null_mut();
            sys::napi_open_callback_scope(
                self.env,
                resource,
                self.async_context,
                &mut callback_scope,
            );
            DRAINING.with(|d| d.set(true));
            deliver();
            self.drain();
            DRAINING.with(|d| d.set(false));
            // Closing the outermost callback scope runs the microtasks and ticks.
            sys::napi_close_callback_scope(self.env, callback_scope);
            sys::napi_close_handle_scope(self.env, handle_scope);
        }
        // Tasks woken while JS ran, outside the drain above, wait for the threadsafe function.
    }
}

/// Has `write` run at the end of this loop iteration, with every other write deferred in it;
/// false (and `write` dropped) where this thread has no executor that can.
pub fn defer_write(write: impl FnOnce() + 'static) -> bool {
    let Some(executor) = EXECUTOR.with(|e| e.borrow().clone()) else {
        return false;
    };
    let (Some(uv), Some(end)) = (uv::uv(), executor.end_of_iteration.as_ref()) else {
        return false;
    };
    DEFERRED_WRITES.with(|w| w.borrow_mut().push(Box::new(write)));
    // SAFETY: on the loop's thread (the executor's).
    unsafe { end.arm(uv, run_deferred_writes) };
    true
}
