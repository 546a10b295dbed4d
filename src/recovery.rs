//! Recovery codes (NIST SP 800-63B 5.1.2 look-up secrets; WSO2's
//! BackupCode): how many make a set, how one is written and read back
//! (dashes and case do not matter), and when to ask for a new set.

use crate::error::FieldError;

/// Codes in a set by default, and the fewest a set may have (SECURITY.md
/// 37); the policy may ask for up to 20.
pub const SET_SIZE: usize = 10;
/// Characters of a code: 16 from a 32-letter alphabet, 80 bits.
pub const CODE_CHARS: usize = 16;
/// The alphabet: RFC 4648 base32 (no 0, 1, 8 or 9 to mistake for letters).
pub const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// At or below this many left, the security page asks for a new set.
pub const LOW: u32 = 2;

// SECURITY.md 37, checked when this compiles: at least ten codes, each of at
// least 64 bits (16 characters of a 32-letter alphabet: 5 bits each).
const _: () = assert!(SET_SIZE >= 10 && CODE_CHARS * 5 >= 64 && ALPHABET.len() == 32);

/// A code as shown: groups of four joined by dashes ("ABCD-EFGH-…").
pub fn display(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Reads a typed code: dashes and spaces are dropped, letters upper-cased;
/// it must then be 16 characters of the alphabet.
pub fn read(input: &str) -> Result<String, FieldError> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if code.is_empty() {
        return Err(FieldError::new("code", "Enter one of your recovery codes."));
    }
    if code.chars().count() != CODE_CHARS || !code.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err(FieldError::new(
            "code",
            "A recovery code is 16 letters and digits, like ABCD-EFGH-IJKL-MNOP.",
        ));
    }
    Ok(code)
}

/// Whether the security page should ask for a new set.
pub fn running_low(left: u32) -> bool {
    left <= LOW
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_shown_in_dashed_groups_and_read_back_any_way() {
        assert_eq!(display("ABCDEFGHIJKLMNOP"), "ABCD-EFGH-IJKL-MNOP");
        for typed in [
            "ABCD-EFGH-IJKL-MNOP",
            "abcdefghijklmnop",
            " abcd efgh-ijkl mnop ",
            "AbCd-EfGh-IjKl-MnOp",
        ] {
            assert_eq!(read(typed).unwrap(), "ABCDEFGHIJKLMNOP", "{typed}");
        }
        for bad in [
            "ABCD-EFGH-IJKL-MNO",
            "ABCD-EFGH-IJKL-MNOPQ",
            "ABCD-EFGH-IJKL-MN0P",
            "ÀBCD-EFGH-IJKL-MNOP",
            "",
        ] {
            assert_eq!(read(bad).unwrap_err().field, "code", "{bad}");
        }
        assert!(read(&"A".repeat(10_000)).is_err());
    }

    #[test]
    fn two_or_fewer_left_asks_for_a_new_set() {
        assert!(running_low(0) && running_low(2));
        assert!(!running_low(3));
    }
}
