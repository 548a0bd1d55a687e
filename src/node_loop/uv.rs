//! The few libuv functions a socket watched by Node's own loop needs. They are looked up in the
//! host process at run time rather than linked: Node exports them, but a runtime that does not
//! (or a platform where we have not checked it) then gets the threaded transport instead of an
//! addon that fails to load.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

pub const READABLE: c_int = 1;
pub const WRITABLE: c_int = 2;
// libuv's `uv_handle_type` values, stable across libuv 1.x.
const UV_CHECK: c_int = 2;
const UV_IDLE: c_int = 6;
const UV_POLL: c_int = 8;

pub type PollCallback = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
pub type CloseCallback = unsafe extern "C" fn(handle: *mut c_void);
/// A check or idle handle's callback.
pub type PhaseCallback = unsafe extern "C" fn(handle: *mut c_void);
type PhaseInit = unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int;
type PhaseStart = unsafe extern "C" fn(*mut c_void, PhaseCallback) -> c_int;
type PhaseStop = unsafe extern "C" fn(*mut c_void) -> c_int;

pub struct Uv {
    handle_size: unsafe extern "C" fn(c_int) -> usize,
    poll_init_socket: unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int,
    poll_start: unsafe extern "C" fn(*mut c_void, c_int, PollCallback) -> c_int,
    check_init: PhaseInit,
    check_start: PhaseStart,
    check_stop: PhaseStop,
    idle_init: PhaseInit,
    idle_start: PhaseStart,
    idle_stop: PhaseStop,
    close: unsafe extern "C" fn(*mut c_void, CloseCallback),
    unref: unsafe extern "C" fn(*mut c_void),
    handle_get_data: unsafe extern "C" fn(*const c_void) -> *mut c_void,
    handle_set_data: unsafe extern "C" fn(*mut c_void, *mut c_void),
}

/// libuv as the host process exports it, or None.
pub fn uv() -> Option<&'static Uv> {
    static UV: OnceLock<Option<Uv>> = OnceLock::new();
    UV.get_or_init(lookup).as_ref()
}

#[cfg(unix)]
fn lookup() -> Option<Uv> {
    /// # Safety
    /// `F` is the C function pointer type of the libuv 1.x function `name`.
    unsafe fn function<F: Copy>(name: &std::ffi::CStr) -> Option<F> {
        assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
        // SAFETY: dlsym with a valid C string; RTLD_DEFAULT searches the process's global scope.
        let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        // SAFETY: a non-null symbol of that function, with the signature the caller names.
        (!found.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, F>(&found) })
    }
    // SAFETY: each field's type spells out the C signature of the function it is looked up as.
    unsafe {
        Some(Uv {
            handle_size: function(c"uv_handle_size")?,
            poll_init_socket: function(c"uv_poll_init_socket")?,
            poll_start: function(c"uv_poll_start")?,
            check_init: function(c"uv_check_init")?,
            check_start: function(c"uv_check_start")?,
            check_stop: function(c"uv_check_stop")?,
            idle_init: function(c"uv_idle_init")?,
            idle_start: function(c"uv_idle_start")?,
            idle_stop: function(c"uv_idle_stop")?,
            close: function(c"uv_close")?,
            unref: function(c"uv_unref")?,
            handle_get_data: function(c"uv_handle_get_data")?,
            handle_set_data: function(c"uv_handle_set_data")?,
        })
    }
}

#[cfg(not(unix))]
fn lookup() -> Option<Uv> {
    None
}

/// Memory for a handle of `kind`, pointer-aligned, zeroed.
fn allocate(uv: &Uv, kind: c_int) -> *mut c_void {
    let size = unsafe { (uv.handle_size)(kind) };
    let words = vec![0u64; size.div_ceil(8)].into_boxed_slice();
    Box::into_raw(words) as *mut c_void
}

/// Frees memory from `allocate`.
///
/// # Safety
/// `raw` came from `allocate(uv, kind)` and libuv no longer uses it.
unsafe fn release(uv: &Uv, kind: c_int, raw: *mut c_void) {
    let words = unsafe { (uv.handle_size)(kind) }.div_ceil(8);
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(raw as *mut u64, words)) });
}

/// A `uv_check_t` and a `uv_idle_t` that together run a callback once the current loop
/// iteration has handled its I/O (as `setImmediate` does): while the idle handle is active the
/// loop does not block in its poll phase, so the check phase comes next. Loop-thread only.
pub struct EndOfIteration {
    check: *mut c_void,
    idle: *mut c_void,
    armed: std::cell::Cell<bool>,
}

impl EndOfIteration {
    /// # Safety
    /// On the loop's thread, with a valid loop.
    pub unsafe fn open(uv: &Uv, uv_loop: *mut c_void) -> Option<EndOfIteration> {
        let check = allocate(uv, UV_CHECK);
        let idle = allocate(uv, UV_IDLE);
        unsafe {
            if (uv.check_init)(uv_loop, check) != 0 || (uv.idle_init)(uv_loop, idle) != 0 {
                release(uv, UV_CHECK, check);
                release(uv, UV_IDLE, idle);
                return None;
            }
            // Neither keeps the loop alive: whatever waits on the writes does.
            (uv.unref)(check);
            (uv.unref)(idle);
        }
        Some(EndOfIteration {
            check,
            idle,
            armed: std::cell::Cell::new(false),
        })
    }

    /// Runs `callback` at the end of this iteration (once, however often armed before then).
    ///
    /// # Safety
    /// On the loop's thread.
    pub unsafe fn arm(&self, uv: &Uv, callback: PhaseCallback) {
        if self.armed.replace(true) {
            return;
        }
        unsafe {
            (uv.check_start)(self.check, callback);
            (uv.idle_start)(self.idle, noop);
        }
    }

    /// Call first thing in the callback.
    ///
    /// # Safety
    /// On the loop's thread.
    pub unsafe fn disarm(&self, uv: &Uv) {
        self.armed.set(false);
        unsafe {
            (uv.check_stop)(self.check);
            (uv.idle_stop)(self.idle);
        }
    }

    /// # Safety
    /// On the loop's thread, before the loop closes; not used afterwards.
    pub unsafe fn close(&self, uv: &Uv) {
        unsafe {
            (uv.close)(self.check, free_check);
            (uv.close)(self.idle, free_idle);
        }
    }
}

unsafe extern "C" fn noop(_handle: *mut c_void) {}

unsafe extern "C" fn free_check(handle: *mut c_void) {
    if let Some(uv) = uv() {
        unsafe { release(uv, UV_CHECK, handle) };
    }
}

unsafe extern "C" fn free_idle(handle: *mut c_void) {
    if let Some(uv) = uv() {
        unsafe { release(uv, UV_IDLE, handle) };
    }
}

/// A `uv_poll_t` watching one socket on one loop. Only touched on that loop's thread.
pub struct PollHandle {
    raw: *mut c_void,
}

impl PollHandle {
    /// Watches `fd` on `uv_loop`, with `data` reachable from the callback; the handle does not
    /// keep the loop alive.
    ///
    /// # Safety
    /// On the loop's thread, with a valid loop and an open socket that outlives the handle.
    pub unsafe fn open(
        uv: &Uv,
        uv_loop: *mut c_void,
        fd: c_int,
        data: *mut c_void,
    ) -> Option<Self> {
        let raw = allocate(uv, UV_POLL);
        if unsafe { (uv.poll_init_socket)(uv_loop, raw, fd) } != 0 {
            unsafe { release(uv, UV_POLL, raw) };
            return None;
        }
        unsafe {
            (uv.handle_set_data)(raw, data);
            (uv.unref)(raw);
        }
        Some(PollHandle { raw })
    }

    /// # Safety
    /// On the loop's thread.
    pub unsafe fn start(&self, uv: &Uv, events: c_int, callback: PollCallback) -> bool {
        unsafe { (uv.poll_start)(self.raw, events, callback) == 0 }
    }

    /// The `data` given to `open`, from the callback's handle pointer.
    ///
    /// # Safety
    /// `raw` is a handle made by `open` and not yet freed.
    pub unsafe fn data_of(uv: &Uv, raw: *mut c_void) -> *mut c_void {
        unsafe { (uv.handle_get_data)(raw) }
    }

    /// Stops watching and frees the handle once libuv is done with it; `free_data` then gets
    /// the `data` pointer back.
    ///
    /// # Safety
    /// On the loop's thread; the socket must stay open until this returns.
    pub unsafe fn close(self, uv: &Uv, on_closed: CloseCallback) {
        unsafe { (uv.close)(self.raw, on_closed) };
    }

    /// `close` for a handle known only by the pointer its callback got.
    ///
    /// # Safety
    /// On the loop's thread; `raw` is an open handle made by `open`.
    pub unsafe fn close_raw(uv: &Uv, raw: *mut c_void, on_closed: CloseCallback) {
        unsafe { (uv.close)(raw, on_closed) };
    }

    /// Frees the memory of a handle closed by `close`, from its close callback.
    ///
    /// # Safety
    /// `raw` is a handle made by `open` whose close callback is running.
    pub unsafe fn free(uv: &Uv, raw: *mut c_void) {
        unsafe { release(uv, UV_POLL, raw) };
    }
}
