//! The C allocator, for an app that idles all day: glibc's malloc gives
//! every thread that allocates an arena of its own and keeps freed memory
//! in them. For a tray app that does a few small things a second that is
//! most of its anonymous memory (docs/benchmarks.md: headless idle).
//! Elsewhere (musl, macOS, Windows) these do nothing: those allocators
//! keep no per-thread arenas of this kind.
//!
//! Written against glibc directly: no maintained crate wraps `mallopt` and
//! `malloc_trim`, and these are the only unsafe code in Belfry.

/// Two arenas for the whole process instead of one per thread (eight per
/// core at most). Call first thing in `main`, before any thread starts.
/// Threads still allocate small blocks from their own caches without a
/// lock; only the rest share the arenas. One and two measured the same
/// (idle: 8.34 and 8.37 MB in a probe; a 10,000-event catch-up: 410 and
/// 395 ms); two keep a second arena for threads that contend.
pub fn frugal() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets a limit glibc reads when a thread next
        // needs an arena; it takes no pointers and is safe at any time.
        #[allow(unsafe_code)]
        let ok = unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
        if ok != 1 {
            tracing::debug!("glibc did not take the arena limit");
        }
    }
}

/// Hands memory the allocator holds free back to the OS (after the store
/// gave its cache back). A walk over the free blocks: call it when idle.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only returns free pages to the kernel; it
        // takes no pointers and locks the arenas itself.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::malloc_trim(0) };
    }
}
