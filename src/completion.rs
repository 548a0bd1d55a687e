//! How a call that waits on the network comes back to Node's thread.
//!
//! napi-rs's `spawn_future` creates a threadsafe function (and with it a libuv async handle and
//! an environment cleanup hook) for every call, spawns two tokio tasks (the work and a panic
//! watcher), wakes Node's loop once per call and closes the handle again: about a third of the
//! Node thread's cost of a call on the Redis backend (BENCHMARKS.md, "Express app"). Here every
//! call of one Node environment shares one threadsafe function: a finished call is pushed onto a
//! queue, and only the push that finds the queue idle wakes Node's loop, which then settles every
//! finished call in one callback. The function holds Node's loop open only while calls are in
//! flight, as the per-call ones did.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi::sys;

use crate::js_error::{from_napi, Code};

/// Turns a finished call's value into a JS value on Node's thread.
type Settle = Box<dyn FnOnce(sys::napi_env) -> Result<sys::napi_value> + Send>;

struct Finished {
    deferred: sys::napi_deferred,
    outcome: std::result::Result<Settle, Error<Code>>,
}

/// A `napi_deferred` or threadsafe function only ever touched on Node's thread, or handed to
/// `napi_call_threadsafe_function`, which may be called from any thread.
struct Queue {
    items: Vec<Finished>,
    /// A wake-up of Node's loop is pending: later pushes ride on it.
    woken: bool,
    /// The environment is tearing down: the threadsafe function must not be called any more.
    closed: bool,
    tsfn: sys::napi_threadsafe_function,
}

// SAFETY: the raw pointers in a Queue are only dereferenced by napi on Node's thread; other
// threads only pass `tsfn` to `napi_call_threadsafe_function`, which is thread-safe, under the
// queue's lock and only while `closed` is false (the cleanup hook sets it under the same lock).
unsafe impl Send for Queue {}

struct Shared {
    queue: Mutex<Queue>,
}

impl Shared {
    fn push(&self, finished: Finished) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.closed {
            return;
        }
        queue.items.push(finished);
        if !queue.woken {
            queue.woken = true;
            // SAFETY: see `Queue`; nonblocking with an unbounded queue never waits.
            unsafe {
                sys::napi_call_threadsafe_function(
                    queue.tsfn,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }
}

/// Node-thread state of one environment's dispatcher.
struct Dispatcher {
    shared: Arc<Shared>,
    tsfn: sys::napi_threadsafe_function,
    /// Calls started and not yet settled; the threadsafe function keeps the loop alive while > 0.
    in_flight: Cell<usize>,
}

thread_local! {
    // Node runs each environment (the main one, each worker thread's) on its own thread.
    static DISPATCHER: RefCell<Option<Rc<Dispatcher>>> = const { RefCell::new(None) };
}

unsafe extern "C" fn settle_finished(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return;
    }
    // SAFETY: `context` is the `Shared` leaked in `create`, freed only in `finalize`.
    let shared = unsafe { &*(context as *const Shared) };
    let items = {
        let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.woken = false;
        std::mem::take(&mut queue.items)
    };
    let count = items.len();
    for Finished { deferred, outcome } in items {
        let value = outcome.and_then(|settle| settle(env).map_err(from_napi));
        // SAFETY: on Node's thread, inside the handle scope napi opens for this callback; each
        // deferred is settled exactly once.
        unsafe { settle_deferred(env, deferred, value) };
    }
    DISPATCHER.with(|d| {
        if let Some(d) = d.borrow().as_ref() {
            let left = d.in_flight.get().saturating_sub(count);
            d.in_flight.set(left);
            if left == 0 {
                // SAFETY: on Node's thread.
                unsafe { sys::napi_unref_threadsafe_function(env, d.tsfn) };
            }
        }
    });
}

type CallJs = unsafe extern "C" fn(sys::napi_env, sys::napi_value, *mut c_void, *mut c_void);
type Finalize = unsafe extern "C" fn(sys::napi_env, *mut c_void, *mut c_void);

/// A threadsafe function that other threads call to wake Node's loop, which then runs
/// `call_js(env, _, context, _)`; it does not hold the loop open until referenced, and
/// `teardown(teardown_arg)` runs when the environment ends. `finalize` frees `context`.
///
/// # Safety
/// On Node's thread; `context` stays valid until `finalize` runs.
pub unsafe fn wakeup_function(
    raw_env: sys::napi_env,
    name: sys::napi_value,
    context: *mut c_void,
    finalize: Finalize,
    call_js: CallJs,
    teardown: unsafe extern "C" fn(*mut c_void),
    teardown_arg: *mut c_void,
) -> Result<sys::napi_threadsafe_function> {
    let mut tsfn = ptr::null_mut();
    unsafe {
        check_status!(sys::napi_create_threadsafe_function(
            raw_env,
            ptr::null_mut(),
            ptr::null_mut(),
            name,
            0,
            1,
            context,
            Some(finalize),
            context,
            Some(call_js),
            &mut tsfn,
        ))?;
        check_status!(sys::napi_unref_threadsafe_function(raw_env, tsfn))?;
        check_status!(sys::napi_add_env_cleanup_hook(
            raw_env,
            Some(teardown),
            teardown_arg
        ))?;
    }
    Ok(tsfn)
}

/// Resolves or rejects `deferred`.
///
/// # Safety
/// On Node's thread, in a handle scope; `deferred` not settled before.
pub unsafe fn settle_deferred(
    env: sys::napi_env,
    deferred: sys::napi_deferred,
    value: Result<sys::napi_value, Code>,
) {
    unsafe {
        match value {
            Ok(value) => sys::napi_resolve_deferred(env, deferred, value),
            Err(err) => {
                sys::napi_reject_deferred(env, deferred, JsError::from(err).into_value(env))
            }
        };
    }
}

unsafe extern "C" fn finalize(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the `Shared` leaked in `create`; Node finalizes the function once.
    drop(unsafe { Arc::from_raw(hint as *const Shared) });
}

unsafe extern "C" fn on_env_teardown(arg: *mut c_void) {
    // SAFETY: `arg` is the `Shared` pointer, alive until `finalize`, which Node runs after this
    // hook (hooks run in reverse order of registration, and the function's own came first).
    let shared = unsafe { &*(arg as *const Shared) };
    shared
        .queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .closed = true;
    DISPATCHER.with(|d| d.borrow_mut().take());
}

fn create(env: &Env) -> Result<Rc<Dispatcher>> {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            items: Vec::new(),
            woken: false,
            closed: false,
            tsfn: ptr::null_mut(),
        }),
    });
    let raw_env = env.raw();
    let context = Arc::into_raw(shared.clone()) as *mut c_void;
    let mut name = ptr::null_mut();
    let tsfn;
    // SAFETY: plain napi calls on Node's thread with valid arguments; `context` stays valid until
    // `finalize` takes it back.
    unsafe {
        let label = c"digis-redis completions";
        check_status!(sys::napi_create_string_utf8(
            raw_env,
            label.as_ptr(),
            label.to_bytes().len() as isize,
            &mut name
        ))?;
        tsfn = wakeup_function(
            raw_env,
            name,
            context,
            finalize,
            settle_finished,
            on_env_teardown,
            context,
        )?;
    }
    shared.queue.lock().unwrap_or_else(|e| e.into_inner()).tsfn = tsfn;
    Ok(Rc::new(Dispatcher {
        shared,
        tsfn,
        in_flight: Cell::new(0),
    }))
}

fn dispatcher(env: &Env) -> Result<Rc<Dispatcher>> {
    DISPATCHER.with(|d| {
        if let Some(existing) = d.borrow().as_ref() {
            return Ok(existing.clone());
        }
        let made = create(env)?;
        *d.borrow_mut() = Some(made.clone());
        Ok(made)
    })
}

/// Runs `work` on the tokio runtime and returns a promise of its value, settled on Node's thread
/// through the environment's shared completion queue. A panic in `work` rejects the promise with
/// `panicked()`.
pub fn spawn<'env, T, F>(
    env: &'env Env,
    work: F,
    panicked: fn() -> Error<Code>,
) -> Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = Result<T, Code>> + Send + 'static,
{
    let dispatcher = dispatcher(env)?;
    let raw_env = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: napi calls on Node's thread.
    unsafe {
        check_status!(sys::napi_create_promise(
            raw_env,
            &mut deferred,
            &mut promise
        ))?;
        if dispatcher.in_flight.get() == 0 {
            check_status!(sys::napi_ref_threadsafe_function(raw_env, dispatcher.tsfn))?;
        }
    }
    dispatcher.in_flight.set(dispatcher.in_flight.get() + 1);
    let deferred = SendDeferred(deferred);
    let shared = dispatcher.shared.clone();
    napi::bindgen_prelude::spawn(async move {
        let deferred = deferred;
        let outcome = match AssertUnwindSafe(work).catch_unwind().await {
            Ok(Ok(value)) => {
                Ok(Box::new(move |env| unsafe { T::to_napi_value(env, value) }) as Settle)
            }
            Ok(Err(err)) => Err(err),
            Err(_) => Err(panicked()),
        };
        shared.push(Finished {
            deferred: deferred.0,
            outcome,
        });
    });
    Ok(PromiseRaw::new(raw_env, promise))
}

struct SendDeferred(sys::napi_deferred);
// SAFETY: the deferred is only settled on Node's thread (in `settle_finished`).
unsafe impl Send for SendDeferred {}
