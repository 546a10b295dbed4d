//! How the server uses glibc's allocator, the one Rust's `System` allocator
//! calls. Measured under load in the README's Performance section (memory).

/// Blocks of this size or more are mapped on their own and given back to the
/// system when freed (glibc's default until its first free of such a block).
const MMAP_THRESHOLD_BYTES: i32 = 128 * 1024;

/// Pins glibc's mmap threshold. Left dynamic, the first free of a large
/// block (an Argon2 run's 19 MiB) raises the threshold to that block's size,
/// and every later block of that size comes from the heaps, where freed
/// memory stays. Call once, at start.
pub fn pin_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; any value is accepted.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}

/// Gives the free pages of every allocator arena back to the system (after
/// load, the threads that served it keep theirs otherwise).
pub fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
