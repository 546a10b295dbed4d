//! Argon2id password hashing (m=19456 KiB, t=2, p=1; SECURITY.md 16), always
//! run off the async runtime.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;

pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string with a fresh random salt.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Checks a password against a PHC string; a malformed hash counts as a mismatch.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Argon2 runs on one dedicated thread per core, fed in order. More runs at a
/// time would only share the cores and stretch every sign-in; and on threads
/// of their own, the 19 MiB each run allocates stays with those few threads
/// instead of being cached by the allocator on every thread of a large pool.
static WORKERS: std::sync::LazyLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = std::sync::LazyLock::new(|| {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    for i in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panicking run loses only its own answer, not the thread.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                }
            })
            .expect("starting an Argon2 thread");
    }
    std::sync::Mutex::new(tx)
});

async fn on_a_core<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(job());
    });
    WORKERS
        .lock()
        .map_err(|_| anyhow::anyhow!("the Argon2 threads are gone"))?
        .send(job)
        .map_err(|_| anyhow::anyhow!("the Argon2 threads are gone"))?;
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
}
