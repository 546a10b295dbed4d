//! Authenticator-app rules (RFC 6238 with the defaults every app reads:
//! SHA-1, 6 digits, 30-second steps) that need no cryptography: reading a
//! typed code, which time steps may be accepted (SECURITY.md 35), the
//! `otpauth://` URI and the secret as people copy it.

use crate::error::FieldError;

/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Steps of clock drift accepted either side of now by default; the policy
/// may set 0, never more than one (SECURITY.md 35).
pub const DRIFT_STEPS: i64 = 1;
/// Bytes of a secret: 160 bits (SECURITY.md 34, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// The time step of a moment (Unix seconds).
pub fn step_at(unix: i64) -> i64 {
    unix.div_euclid(STEP_SECS)
}

/// The steps a code may come from at `unix`, nearest first: now, then up to
/// `drift` (at most one) behind and ahead. Steps at or before `last_used`
/// are left out, so a code is accepted at most once, even inside the drift
/// window.
pub fn acceptable_steps(unix: i64, last_used: Option<i64>, drift: u32) -> Vec<i64> {
    let now = step_at(unix);
    let mut steps = vec![now];
    for d in 1..=i64::from(drift).min(DRIFT_STEPS) {
        steps.push(now - d);
        steps.push(now + d);
    }
    steps.retain(|s| *s >= 0 && last_used.is_none_or(|last| *s > last));
    steps
}

/// Reads a typed code: spaces are allowed anywhere ("123 456"); it must then
/// be exactly six digits.
pub fn read_code(input: &str) -> Result<String, FieldError> {
    let code: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        return Err(FieldError::new(
            "code",
            "Enter the 6-digit code from your authenticator app.",
        ));
    }
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(
            "code",
            "An authenticator code is 6 digits, like 123 456.",
        ));
    }
    Ok(code)
}

/// The URI an app reads from the QR code (Google Authenticator's Key Uri
/// Format): `otpauth://totp/Issuer:account?secret=…&issuer=…` with the
/// defaults spelled out, which every app accepts.
pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
    let label = format!("{}:{}", escape(issuer), escape(account));
    format!(
        "otpauth://totp/{label}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        escape(issuer)
    )
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The secret as people type it into an app: groups of four.
pub fn grouped(secret_base32: &str) -> String {
    secret_base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_thirty_seconds() {
        assert_eq!(step_at(0), 0);
        assert_eq!(step_at(29), 0);
        assert_eq!(step_at(30), 1);
        assert_eq!(step_at(59), 1);
        assert_eq!(step_at(1_111_111_109), 37_037_036);
    }

    #[test]
    fn sec_35_one_step_of_drift_and_never_a_used_step() {
        assert_eq!(acceptable_steps(300, None, 1), vec![10, 9, 11]);
        // The step just used, and the one before, are out.
        assert_eq!(acceptable_steps(300, Some(10), 1), vec![11]);
        assert_eq!(acceptable_steps(300, Some(9), 1), vec![10, 11]);
        assert!(acceptable_steps(300, Some(11), 1).is_empty());
        // Two steps away is too far, whatever the setting says.
        assert_eq!(acceptable_steps(300, None, 5), vec![10, 9, 11]);
        assert_eq!(acceptable_steps(0, None, 1), vec![0, 1]);
        // No drift: the current step only.
        assert_eq!(acceptable_steps(300, None, 0), vec![10]);
    }

    #[test]
    fn codes_are_six_digits_with_spaces_allowed() {
        assert_eq!(read_code("123456").unwrap(), "123456");
        assert_eq!(read_code(" 123 456 ").unwrap(), "123456");
        for bad in [
            "12345",
            "1234567",
            "123456789",
            "12a456",
            "abcdef",
            "123-456",
            "１２３４５６",
        ] {
            assert_eq!(read_code(bad).unwrap_err().field, "code", "{bad}");
        }
        assert!(read_code("").unwrap_err().message.contains("Enter"));
        assert!(read_code(&"1".repeat(10_000)).is_err());
    }

    #[test]
    fn the_uri_names_issuer_account_and_defaults() {
        let uri = otpauth_uri("Tessera", "alice@example.com", "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri,
            "otpauth://totp/Tessera:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Tessera&algorithm=SHA1&digits=6&period=30"
        );
        assert!(otpauth_uri("My Co", "a b", "X").starts_with("otpauth://totp/My%20Co:a%20b?"));
    }

    #[test]
    fn secrets_are_shown_in_groups_of_four() {
        assert_eq!(grouped("JBSWY3DPEHPK3PXP"), "JBSW Y3DP EHPK 3PXP");
        assert_eq!(grouped("ABCDEF"), "ABCD EF");
    }
}
