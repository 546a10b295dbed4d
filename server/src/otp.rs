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
pub fn seal(key: &[u8; 32], challenge: Uuid, code: &str) -> Vec<u8> {
    keyed(key, challenge, code).finalize().into_bytes().to_vec()
}

/// Whether `code` is the one sealed in `stored`, in constant time.
pub fn matches(key: &[u8; 32], challenge: Uuid, code: &str, stored: &[u8]) -> bool {
    keyed(key, challenge, code).verify_slice(stored).is_ok()
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
        let stored = seal(&key, id, "123456");
        assert!(!stored.windows(6).any(|w| w == b"123456"));
        assert!(matches(&key, id, "123456", &stored));
        assert!(!matches(&key, id, "123457", &stored));
        assert!(!matches(&key, Uuid::new_v4(), "123456", &stored));
        assert!(!matches(&random_key(), id, "123456", &stored));
    }

    /// The comparisons of secrets go through constant-time primitives: the
    /// MAC's `verify_slice` for codes and `ct_eq` for CSRF tokens. A plain
    /// `==` on either would fail here.
    #[test]
    fn sec_10_codes_and_csrf_tokens_are_compared_in_constant_time() {
        fn body<'a>(source: &'a str, signature: &str) -> &'a str {
            let start = source.find(signature).expect(signature);
            let rest = &source[start..];
            &rest[..rest.find("\n}\n").unwrap()]
        }
        let matches = body(include_str!("otp.rs"), "pub fn matches(");
        assert!(matches.contains("verify_slice") && !matches.contains("=="), "{matches}");
        let csrf = body(include_str!("http.rs"), "async fn check_csrf(");
        assert!(csrf.contains(".ct_eq(") && !csrf.contains("sent == expected"), "{csrf}");
        // And the comparison is exact: one flipped bit or one byte short fails.
        let key = [3u8; 32];
        let id = Uuid::new_v4();
        let mut mac = seal(&key, id, "123456");
        assert!(matches_code(&key, id, &mac));
        mac[31] ^= 1;
        assert!(!matches_code(&key, id, &mac));
        assert!(!matches_code(&key, id, &seal(&key, id, "123456")[..31]));
    }

    fn matches_code(key: &[u8; 32], id: Uuid, mac: &[u8]) -> bool {
        matches(key, id, "123456", mac)
    }
}
