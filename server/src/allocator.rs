//! How the server uses glibc's allocator, the one Rust's `System` allocator
//! calls. Measured under load in the README's Performance section (memory).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// Requests the server has begun to answer (see [`count_request`]).
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Counts a request, for [`give_back_when_quiet`].
pub fn count_request() {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
}

/// Gives the allocator's free pages back once requests stop: a check every
/// `period`, and a period without requests after one with them trims once.
/// (Each worker thread's arena keeps what a load freed in it; the Argon2
/// threads trim when they go idle, but a load without sign-ins never
/// reaches them.)
pub async fn give_back_when_quiet(period: Duration) {
    let mut quiet = Quiet::default();
    loop {
        tokio::time::sleep(period).await;
        if quiet.fell_quiet(REQUESTS.load(Ordering::Relaxed)) {
            give_back_free_memory();
        }
    }
}

/// Whether the request count has just stopped moving.
#[derive(Debug, Default)]
struct Quiet {
    last: u64,
    busy: bool,
}

impl Quiet {
    /// `requests`: the count now. True once when it holds still after it moved.
    fn fell_quiet(&mut self, requests: u64) -> bool {
        let moved = requests != self.last;
        self.last = requests;
        if moved {
            self.busy = true;
            false
        } else {
            std::mem::take(&mut self.busy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Quiet;

    #[test]
    fn memory_is_given_back_once_when_requests_stop_and_not_while_they_come() {
        let mut quiet = Quiet::default();
        // Idle from the start: nothing to give back.
        assert!(!quiet.fell_quiet(0));
        assert!(!quiet.fell_quiet(0));
        // Busy: never while requests come.
        assert!(!quiet.fell_quiet(5));
        assert!(!quiet.fell_quiet(90));
        // They stop: once.
        assert!(quiet.fell_quiet(90));
        assert!(!quiet.fell_quiet(90));
        // A single request later, then quiet again: once more.
        assert!(!quiet.fell_quiet(91));
        assert!(quiet.fell_quiet(91));
    }
}
