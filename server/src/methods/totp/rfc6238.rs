//! RFC 6238 time-based codes (HOTP, RFC 4226, over 30-second steps) with
//! HMAC-SHA-1, and fresh secrets from the OS CSPRNG (SECURITY.md 34).

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;
use tessera::totp::{DIGITS, SECRET_BYTES, acceptable_steps};

/// A new shared secret: 160 random bits.
pub fn new_secret() -> [u8; SECRET_BYTES] {
    let mut secret = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The HOTP value of `counter` (RFC 4226 5.3: dynamic truncation), as
/// `digits` decimal digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    let value = u64::from(binary) % 10u64.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

/// The six-digit code of a time step.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    hotp(secret, u64::try_from(step).unwrap_or(0), DIGITS as u32)
}

/// The step `code` belongs to among those acceptable at `unix` (up to
/// `drift` steps either side, never one at or before `last_used`), compared
/// in constant time; `None` when it matches none.
pub fn matching_step(secret: &[u8], code: &str, unix: i64, last_used: Option<i64>, drift: u32) -> Option<i64> {
    let mut found = None;
    for step in acceptable_steps(unix, last_used, drift) {
        let expected = code_at_step(secret, step);
        // Every candidate is computed and compared: the time taken does not
        // say which one matched.
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera::totp::step_at;

    /// RFC 6238 Appendix B, the SHA-1 rows: the seed is the ASCII string
    /// "12345678901234567890", eight digits.
    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        let seed = b"12345678901234567890";
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = u64::try_from(step_at(time)).unwrap();
            assert_eq!(hotp(seed, step, 8), expected, "T = {time}");
            // Six digits are the last six of the same value.
            assert_eq!(code_at_step(seed, step_at(time)), expected[2..], "T = {time}");
        }
    }

    #[test]
    fn rfc_4226_appendix_d_hotp_vectors() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64, 6), *code);
        }
    }

    #[test]
    fn sec_35_a_code_matches_its_step_within_one_step_and_once() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let step = step_at(now);
        for drift in [-1, 0, 1] {
            let code = code_at_step(&secret, step + drift);
            assert_eq!(matching_step(&secret, &code, now, None, 1), Some(step + drift));
            // Used: refused, and so is any earlier step.
            assert_eq!(matching_step(&secret, &code, now, Some(step + drift), 1), None);
            // Without drift only the current step's code matches.
            let expected = (drift == 0).then_some(step);
            assert_eq!(matching_step(&secret, &code, now, None, 0), expected);
        }
        for far in [-2, 2, 10] {
            assert_eq!(
                matching_step(&secret, &code_at_step(&secret, step + far), now, None, 1),
                None
            );
        }
        assert_eq!(matching_step(&secret, "000000x", now, None, 1), None);
    }

    #[test]
    fn sec_34_secrets_are_160_random_bits() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 20]);
    }
}
