//! The few libuv functions a socket watched by Node's own loop needs. They are looked up in the
//! host process at run time rather than linked: Node exports them, but a runtime that does not
//! (or a platform where we have not checked it) then gets the threaded transport instead of an
//! addon that fails to load.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

pub const READABLE: c_int = 1;
pub const WRITABLE: c_int = 2;
/// `UV_POLL` in libuv's `uv_handle_type`, stable across libuv 1.x.
const UV_POLL: c_int = 8;

pub type PollCallback = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
pub type CloseCallback = unsafe extern "C" fn(handle: *mut c_void);

pub struct Uv {
    handle_size: unsafe extern "C" fn(c_int) -> usize,
    poll_init_socket: unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int,
    poll_start: unsafe extern "C" fn(*mut c_void, c_int, PollCallback) -> c_int,
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
    fn symbol(name: &std::ffi::CStr) -> Option<*mut c_void> {
        // SAFETY: dlsym with a valid C string; RTLD_DEFAULT searches the process's global scope.
        let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        (!found.is_null()).then_some(found)
    }
    // SAFETY: each symbol is the libuv 1.x function of that name, whose C signature the field's
    // type spells out.
    unsafe {
        Some(Uv {
            handle_size: std::mem::transmute::<*mut c_void, _>(symbol(c"uv_handle_size")?),
            poll_init_socket: std::mem::transmute::<*mut c_void, _>(symbol(
                c"uv_poll_init_socket",
            )?),
            poll_start: std::mem::transmute::<*mut c_void, _>(symbol(c"uv_poll_start")?),
            close: std::mem::transmute::<*mut c_void, _>(symbol(c"uv_close")?),
            unref: std::mem::transmute::<*mut c_void, _>(symbol(c"uv_unref")?),
            handle_get_data: std::mem::transmute::<*mut c_void, _>(symbol(c"uv_handle_get_data")?),
            handle_set_data: std::mem::transmute::<*mut c_void, _>(symbol(c"uv_handle_set_data")?),
        })
    }
}

#[cfg(not(unix))]
fn lookup() -> Option<Uv> {
    None
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
    pub unsafe fn open(uv: &Uv, uv_loop: *mut c_void, fd: c_int, data: *mut c_void) -> Option<Self> {
        let size = unsafe { (uv.handle_size)(UV_POLL) };
        // libuv handles need pointer alignment; u64 words give it.
        let words = vec![0u64; size.div_ceil(8)].into_boxed_slice();
        let raw = Box::into_raw(words) as *mut c_void;
        if unsafe { (uv.poll_init_socket)(uv_loop, raw, fd) } != 0 {
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(raw as *mut u64, size.div_ceil(8))) });
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

    /// Frees the memory of a handle closed by `close`, from its close callback.
    ///
    /// # Safety
    /// `raw` is a handle made by `open` whose close callback is running.
    pub unsafe fn free(uv: &Uv, raw: *mut c_void) {
        let size = unsafe { (uv.handle_size)(UV_POLL) };
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(raw as *mut u64, size.div_ceil(8))) });
    }
}
