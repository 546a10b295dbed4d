//! Codes we generate: drawn from the OS CSPRNG (SECURITY.md 1), kept only as
//! an HMAC bound to their challenge (2, 5), compared in constant time (10).

use hmac::{Hmac, Mac};
use rand::Rng;
use rand::rngs::OsRng;
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// A code of `digits` decimal digits, each uniform, from the OS CSPRNG.
pub fn new_code(digits: usize) -> String {
    (0..digits)
        .map(|_| char::from(b'0' + OsRng.gen_range(0..10u8)))
        .collect()
}

pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut OsRng, &mut key);
    key
}

fn keyed(key: &[u8; 32], challenge: Uuid, code: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(challenge.as_bytes());
    mac.update(code.as_bytes());
    mac
}

/// The stored form of a code: HMAC-SHA256 over the challenge id and the code,
/// so a code matches only its own challenge (its user and purpose).
///
/// It has no `==`: the only comparison is [`CodeMac::matches`], in constant
/// time (SECURITY.md 10), so a comparison that leaks timing does not compile:
///
/// ```
/// use tessera_server::otp::CodeMac;
/// let id = uuid::Uuid::new_v4();
/// assert!(CodeMac::seal(&[1; 32], id, "123456").matches(&[1; 32], id, "123456"));
/// ```
/// ```compile_fail
/// use tessera_server::otp::CodeMac;
/// let id = uuid::Uuid::new_v4();
/// let _ = CodeMac::seal(&[1; 32], id, "123456") == CodeMac::seal(&[1; 32], id, "123456");
/// ```
#[derive(Clone, sqlx::Type)]
#[sqlx(transparent)]
pub struct CodeMac(Vec<u8>);

impl CodeMac {
    pub fn seal(key: &[u8; 32], challenge: Uuid, code: &str) -> Self {
        Self(keyed(key, challenge, code).finalize().into_bytes().to_vec())
    }

    /// Whether `code` is the one sealed here, in constant time.
    pub fn matches(&self, key: &[u8; 32], challenge: Uuid, code: &str) -> bool {
        keyed(key, challenge, code).verify_slice(&self.0).is_ok()
    }

    /// The stored bytes (for tests that inspect the database).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for CodeMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeMac(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_01_codes_have_the_asked_length_and_only_digits() {
        for digits in [6, 8, 10] {
            let c = new_code(digits);
            assert_eq!(c.len(), digits);
            assert!(c.chars().all(|ch| ch.is_ascii_digit()));
        }
    }

    #[test]
    fn codes_spread_over_every_digit() {
        // 6000 draws: every digit appears in every position with overwhelming
        // probability; a broken generator (constant, or modulo a small range) fails.
        let mut seen = [[false; 10]; 6];
        for _ in 0..1000 {
            for (pos, ch) in new_code(6).bytes().enumerate() {
                seen[pos][(ch - b'0') as usize] = true;
            }
        }
        assert!(seen.iter().all(|p| p.iter().all(|d| *d)));
    }

    #[test]
    fn sec_02_a_sealed_code_matches_only_its_challenge_and_key() {
        let key = random_key();
        let id = Uuid::new_v4();
        let stored = CodeMac::seal(&key, id, "123456");
        assert_eq!(stored.as_bytes().len(), 32);
        assert!(!stored.as_bytes().windows(6).any(|w| w == b"123456"));
        assert!(stored.matches(&key, id, "123456"));
        assert!(!stored.matches(&key, id, "123457"));
        assert!(!stored.matches(&key, Uuid::new_v4(), "123456"));
        assert!(!stored.matches(&random_key(), id, "123456"));
        assert_eq!(format!("{stored:?}"), "CodeMac(<redacted>)");
    }

    /// Codes and CSRF tokens have no `==` (the compile_fail examples on
    /// [`CodeMac`] and `csrf::CsrfToken` fail to build if one is added); what
    /// is left to check here is that the comparison is exact: one flipped bit
    /// or one byte short fails.
    #[test]
    fn sec_10_codes_are_compared_exactly() {
        let key = [3u8; 32];
        let id = Uuid::new_v4();
        let good = CodeMac::seal(&key, id, "123456");
        assert!(good.matches(&key, id, "123456"));
        let mut flipped = good.as_bytes().to_vec();
        flipped[31] ^= 1;
        assert!(!CodeMac(flipped).matches(&key, id, "123456"));
        assert!(!CodeMac(good.as_bytes()[..31].to_vec()).matches(&key, id, "123456"));
        assert!(!CodeMac(Vec::new()).matches(&key, id, "123456"));
    }
}
