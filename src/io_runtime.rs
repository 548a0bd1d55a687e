//! The tokio runtime that runs the network I/O of server backends.

use napi_derive::napi;

/// Tokio worker threads for network I/O: `DIGIS_REDIS_IO_THREADS`, default 1. One thread keeps
/// a call's I/O on a single core beside Node's thread; on a small machine more workers compete
/// with Node, the server and each other for the same cores (BENCHMARKS.md, "Express app").
const IO_THREADS_VARIABLE: &str = "DIGIS_REDIS_IO_THREADS";

/// The I/O thread count `DIGIS_REDIS_IO_THREADS` asks for, or why it is ignored.
fn io_threads_setting() -> std::result::Result<usize, String> {
    match std::env::var(IO_THREADS_VARIABLE) {
        Err(_) => Ok(1),
        Ok(value) if value.is_empty() => Ok(1),
        Ok(value) => value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<usize>().ok())
            .flatten()
            .filter(|n| (1..=256).contains(n))
            .ok_or_else(|| {
                format!("{IO_THREADS_VARIABLE} must be a whole number from 1 to 256, got {value:?}")
            }),
    }
}

/// Why `DIGIS_REDIS_IO_THREADS` was ignored (the JS layer reports it once), or null.
#[napi]
pub fn io_threads_problem() -> Option<String> {
    io_threads_setting().err()
}

/// The tokio runtime napi-rs runs now, whose timers and connects the calls wait on. Asked at
/// each use: napi-rs shuts its runtime down when the last environment using it ends (a worker
/// thread's, say) and starts another for the next.
pub(crate) fn current() -> Option<tokio::runtime::Handle> {
    // napi-rs panics when its runtime slot is empty (between a shutdown and the next start).
    std::panic::catch_unwind(|| {
        napi::bindgen_prelude::within_runtime_if_available(|| {
            tokio::runtime::Handle::try_current().ok()
        })
    })
    .ok()
    .flatten()
}

#[napi_derive::module_init]
fn init() {
    // A runtime that cannot be built leaves napi-rs its default one.
    if let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(io_threads_setting().unwrap_or(1))
        .thread_name("digis-redis-io")
        .enable_all()
        .build()
    {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}
