//! Argon2id password hashing (m=19456 KiB, t=2, p=1; SECURITY.md 16), always
//! run off the async runtime.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, PoisonError};

pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, None).expect("static Argon2 parameters are valid")
}

thread_local! {
    /// This thread's Argon2 working memory (19 MiB), kept between runs. A
    /// run that allocated and freed its own made glibc raise its mmap
    /// threshold after the first free, and the freed blocks then stayed in
    /// its heaps: the server peaked at 253 MiB under load. Measured in the
    /// README's Performance section.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    static ON_AN_ARGON2_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// An Argon2 thread with no run for this long gives its working memory back
/// (a server idle after a burst of sign-ins returns to its idle size; each
/// thread times out on its own, see `Queue::next`).
#[cfg(not(test))]
pub const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(10);
#[cfg(test)]
pub const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(1);

/// Bytes of Argon2 working memory the threads hold now.
static HELD_BYTES: AtomicUsize = AtomicUsize::new(0);

pub fn held_bytes() -> usize {
    HELD_BYTES.load(Ordering::Relaxed)
}

/// Frees this thread's Argon2 memory, and the allocator's free pages with it.
fn release_memory() {
    let held = MEMORY.with(|memory| std::mem::take(&mut *memory.borrow_mut()));
    if !held.is_empty() {
        HELD_BYTES.fetch_sub(held.len() * size_of::<Block>(), Ordering::Relaxed);
        drop(held);
        crate::allocator::give_back_free_memory();
    }
}

/// Argon2 of `password` and `salt` into `out`: on an Argon2 thread in the
/// memory it keeps, elsewhere (tests, the CLI) in memory of its own.
fn run(argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let blocks = argon.params().block_count();
    if !ON_AN_ARGON2_THREAD.get() {
        let mut memory = vec![Block::default(); blocks];
        return argon.hash_password_into_with_memory(password, salt, out, &mut memory[..]);
    }
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            HELD_BYTES.fetch_add((blocks - memory.len()) * size_of::<Block>(), Ordering::Relaxed);
            memory.resize(blocks, Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

/// A PHC string with a fresh random salt.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("hashing a password: {e}");
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| fail(&e))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        run(&argon, password.as_bytes(), salt_bytes, out).map_err(Into::into)
    })
    .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params()).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Checks a password against a PHC string (its own parameters, so older
/// costs still verify); a malformed or non-Argon2 hash counts as a mismatch.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Some(salt), Some(expected)) = (Algorithm::try_from(parsed.algorithm), parsed.salt, parsed.hash)
    else {
        return false;
    };
    let version = parsed.version.map_or(Ok(Version::default()), Version::try_from);
    let (Ok(version), Ok(params)) = (version, Params::try_from(&parsed)) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    Output::init_with(expected.len(), |out| {
        run(&argon, password.as_bytes(), salt_bytes, out).map_err(Into::into)
    })
    // `Output`'s equality is constant-time.
    .is_ok_and(|computed| computed == expected)
}

type Job = Box<dyn FnOnce() + Send>;

/// The runs waiting for an Argon2 thread, first come first served.
struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    /// Signalled when a run is queued.
    queued: Condvar,
}

impl Queue {
    /// The next run; `None` when this thread holds Argon2 memory and no run
    /// came for `IDLE_RELEASE`. Every thread waits (and times out) on its
    /// own: the lock is not held while waiting, so no thread can keep
    /// another from noticing that it is idle.
    fn next(&self) -> Option<Job> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(job) = jobs.pop_front() {
                return Some(job);
            }
            if MEMORY.with(|memory| memory.borrow().is_empty()) {
                jobs = self.queued.wait(jobs).unwrap_or_else(PoisonError::into_inner);
            } else {
                let (guard, waited) = self
                    .queued
                    .wait_timeout(jobs, IDLE_RELEASE)
                    .unwrap_or_else(PoisonError::into_inner);
                jobs = guard;
                if waited.timed_out() && jobs.is_empty() {
                    return None;
                }
            }
        }
    }

    fn push(&self, job: Job) {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner).push_back(job);
        self.queued.notify_one();
    }
}

/// Argon2 runs on one dedicated thread per core, fed in order. More runs at a
/// time would only share the cores and stretch every sign-in; and on threads
/// of their own, the 19 MiB each run allocates stays with those few threads
/// instead of being cached by the allocator on every thread of a large pool.
static WORKERS: LazyLock<Arc<Queue>> = LazyLock::new(|| {
    let queue = Arc::new(Queue {
        jobs: Mutex::new(VecDeque::new()),
        queued: Condvar::new(),
    });
    for i in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                ON_AN_ARGON2_THREAD.set(true);
                loop {
                    match queue.next() {
                        // A panicking run loses only its own answer, not the thread.
                        Some(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        None => release_memory(),
                    }
                }
            })
            .expect("starting an Argon2 thread");
    }
    queue
});

async fn on_a_core<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    WORKERS.push(Box::new(move || {
        let _ = done.send(job());
    }));
    result.await.map_err(|_| anyhow::anyhow!("an Argon2 run was lost"))
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    on_a_core(move || hash_blocking(&password)).await?
}

pub async fn verify(password: String, phc: String) -> anyhow::Result<bool> {
    on_a_core(move || verify_blocking(&password, &phc)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_16_hashes_are_argon2id_with_the_required_cost_and_unique_salts() {
        let a = hash_blocking("correct horse battery").unwrap();
        let b = hash_blocking("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(verify_blocking("correct horse battery", &a));
        assert!(!verify_blocking("correct horse batterx", &a));
        assert!(!verify_blocking("anything", "not a phc string"));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_hashing_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_blocking("correct horse battery").unwrap();
        let stock = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        assert!(
            stock
                .verify_password(b"correct horse battery", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = stock
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify_blocking("correct horse battery", &theirs));
        assert!(!verify_blocking("correct horse batterx", &theirs));
        // Another cost (a hash made before a change of parameters) still verifies.
        let cheaper = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8, 1, 1, None).unwrap())
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(verify_blocking("pw", &cheaper));
        assert!(!verify_blocking("px", &cheaper));
    }

    #[tokio::test]
    async fn the_argon2_threads_give_their_memory_back_when_idle() {
        // Two runs at once: every thread holds memory, and each must give
        // it back, not only the one that waits for work first.
        let (a, b) = tokio::join!(hash("correct horse battery".into()), hash("staple".into()));
        let (a, _) = (a.unwrap(), b.unwrap());
        assert!(
            held_bytes() >= M_COST_KIB as usize * 1024,
            "a run keeps its memory: {}",
            held_bytes()
        );
        assert!(verify("correct horse battery".into(), a).await.unwrap());
        let deadline = std::time::Instant::now() + IDLE_RELEASE * 10;
        while held_bytes() > 0 {
            assert!(std::time::Instant::now() < deadline, "still held: {}", held_bytes());
            tokio::time::sleep(IDLE_RELEASE / 4).await;
        }
    }
}
