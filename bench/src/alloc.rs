//! A global allocator that counts live heap bytes, to measure what a store holds.
//!
//! Counting costs a shared atomic update per allocation, which would skew the throughput
//! figures, so it can be switched off; switch it off only after the last measurement of
//! memory, since frees of memory counted earlier are then no longer subtracted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The system allocator, counting the bytes currently allocated. Install it with
/// `#[global_allocator]`.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static ON: AtomicBool = AtomicBool::new(true);

impl Counting {
    /// Heap bytes allocated and not yet freed, process-wide, while counting is on.
    pub fn live() -> usize {
        LIVE.load(Ordering::Relaxed)
    }

    /// Stops counting for the rest of the process.
    pub fn stop() {
        ON.store(false, Ordering::Relaxed);
    }

    fn add(bytes: usize) {
        if ON.load(Ordering::Relaxed) {
            LIVE.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    fn sub(bytes: usize) {
        if ON.load(Ordering::Relaxed) {
            LIVE.fetch_sub(bytes, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call forwards to the system allocator with the same arguments; the
// counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            Self::add(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::sub(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            Self::add(layout.size());
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            Self::add(new_size);
            Self::sub(layout.size());
        }
        new
    }
}
