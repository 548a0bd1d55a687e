//! How a `NativeClient` call answers JS: at once on the embedded store, else as a promise.
//! Methods that just run a core feature call are declared with `#[feature_methods]`
//! (crates/binding-macros), which hands their work to `answer_with`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use digis_redis_core::{order, Features};
use napi::bindgen_prelude::*;

use crate::js_error::{self, from_napi, to_js, Code};
use crate::{completion, node_loop, NativeClient};

/// A plain value when the work finished at once (the embedded store), else a promise.
pub type Answer<'env, T> = Either<T, PromiseRaw<'env, T>>;

impl NativeClient {
    /// Every call goes through here. On the embedded store, which never waits on I/O, `work`
    /// runs to its end on the calling thread: no thread hop, no wake-up of Node's loop, and
    /// calls act in the order they were issued (walks and big batches included, at the cost of
    /// holding the thread for their length, as a Redis server does). On a server backend it
    /// becomes a promise, settled through the shared completion queue (completion.rs); its
    /// place in line is taken now, on the caller's thread, so its first command reaches the
    /// connection after every call issued before it.
    pub(crate) fn answer<'env, T, F>(
        &self,
        env: &'env Env,
        work: F,
    ) -> Result<Answer<'env, T>, Code>
    where
        T: ToNapiValue + Send + 'static,
        F: Future<Output = digis_redis_core::Result<T>> + Send + 'static,
    {
        self.answer_as(env, work, false)
    }

    /// `answer` for a call that only reads: a near-cache read issued after it need not wait
    /// for it to be sent (order.rs, `writes_unsent`).
    fn answer_as<'env, T, F>(
        &self,
        env: &'env Env,
        work: F,
        reads_only: bool,
    ) -> Result<Answer<'env, T>, Code>
    where
        T: ToNapiValue + Send + 'static,
        F: Future<Output = digis_redis_core::Result<T>> + Send + 'static,
    {
        let mut work = Box::pin(work);
        if self.breaker.is_none() {
            let mut cx = Context::from_waker(Waker::noop());
            let polled = std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(&mut cx)));
            match polled {
                Ok(Poll::Ready(outcome)) => return outcome.map(Either::A).map_err(to_js),
                Ok(Poll::Pending) => {}
                Err(_) => {
                    return Err(js_error::core(
                        digis_redis_core::ErrorKind::Internal,
                        "a panic in the embedded store was caught",
                    ))
                }
            }
        }
        let ticket = if reads_only {
            self.order.read_ticket()
        } else {
            self.order.ticket()
        };
        let budget = self.tuning.timeouts.call();
        let call = async move { order::in_order(ticket, budget, work).await.map_err(to_js) };
        let panicked = || {
            js_error::core(
                digis_redis_core::ErrorKind::Internal,
                "a panic in the addon was caught",
            )
        };
        let promise = if self.on_node_loop {
            node_loop::executor::Executor::current(env)
                .and_then(|executor| executor.spawn(env, call, panicked))
        } else {
            completion::spawn(env, call, panicked)
        };
        promise.map(Either::B).map_err(from_napi)
    }

    /// `answer` for the work `call` makes of the client's features (`#[feature_methods]`).
    pub(crate) fn answer_with<'env, T, C, F>(
        &self,
        env: &'env Env,
        call: C,
    ) -> Result<Answer<'env, T>, Code>
    where
        T: ToNapiValue + Send + 'static,
        C: FnOnce(Arc<Features>) -> F,
        F: Future<Output = digis_redis_core::Result<T>> + Send + 'static,
    {
        self.answer(env, call(self.features.clone()))
    }

    /// `answer_with` for a method marked `#[reads_only]`.
    pub(crate) fn answer_read_with<'env, T, F>(
        &self,
        env: &'env Env,
        call: impl FnOnce(Arc<Features>) -> F,
    ) -> Result<Answer<'env, T>, Code>
    where
        T: ToNapiValue + Send + 'static,
        F: Future<Output = digis_redis_core::Result<T>> + Send + 'static,
    {
        self.answer_as(env, call(self.features.clone()), true)
    }
}
