//! One-time code rules (SECURITY.md 1-10) that need no I/O: the policy, how a
//! typed code is read, resend timing, and how a number is masked.

use crate::error::FieldError;

/// How codes behave. The defaults follow SECURITY.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePolicy {
    /// Digits in a code we generate (6-10).
    pub digits: usize,
    /// How long a code stays good (never more than 10 minutes).
    pub lifetime_secs: i64,
    /// Wrong tries before a code is dead.
    pub max_attempts: i32,
    /// Time between two sends of a code to one challenge.
    pub resend_cooldown_secs: i64,
    /// Wrong codes per account per hour before second-factor checks stop.
    pub max_failures_per_hour: i64,
}

impl Default for CodePolicy {
    fn default() -> Self {
        Self {
            digits: 6,
            lifetime_secs: 300,
            max_attempts: 5,
            resend_cooldown_secs: 30,
            max_failures_per_hour: 100,
        }
    }
}

/// The longest a code may live, whatever the settings say (SECURITY.md 3).
pub const MAX_LIFETIME_SECS: i64 = 600;

impl CodePolicy {
    pub fn lifetime(&self) -> i64 {
        self.lifetime_secs.clamp(1, MAX_LIFETIME_SECS)
    }

    /// Reads a typed code: spaces and dashes are ignored, then it must be
    /// `digits` digits (provider-owned codes may be 4-10 digits long).
    pub fn read_code(&self, input: &str, provider_owned: bool) -> Result<String, FieldError> {
        let code: String = input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if code.is_empty() {
            return Err(FieldError::new("code", "Enter the code from the text message."));
        }
        let length_ok = if provider_owned {
            (4..=10).contains(&code.len())
        } else {
            code.len() == self.digits
        };
        if !code.chars().all(|c| c.is_ascii_digit()) || !length_ok {
            let expected = if provider_owned {
                "the digits".to_string()
            } else {
                format!("the {} digits", self.digits)
            };
            return Err(FieldError::new(
                "code",
                format!("A code is {expected} from the text message."),
            ));
        }
        Ok(code)
    }

    /// Seconds until another send is allowed after one at `last_sent_at`.
    pub fn resend_wait(&self, last_sent_at: i64, now: i64) -> Option<u64> {
        let ready_at = last_sent_at.saturating_add(self.resend_cooldown_secs);
        (now < ready_at).then(|| (ready_at - now) as u64)
    }
}

/// The text of a message carrying a code we generated.
pub fn message_text(code: &str, lifetime_secs: i64) -> String {
    let expires = crate::error::wait_words(lifetime_secs.max(1) as u64);
    format!("Your Tessera code is {code}. It expires in {expires}. Do not share it with anyone.")
}

/// A number as it may be shown to anyone but its owner: every digit hidden
/// but the last two (SECURITY.md 15).
pub fn mask_phone(e164: &str) -> String {
    let digits: Vec<char> = e164.chars().filter(char::is_ascii_digit).collect();
    let shown = digits.len().min(2);
    let hidden = digits.len() - shown;
    let tail: String = digits[hidden..].iter().collect();
    format!("{}{tail}", "•".repeat(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_ignore_spaces_and_dashes_but_need_the_right_digits() {
        let p = CodePolicy::default();
        assert_eq!(p.read_code(" 123 456 ", false).unwrap(), "123456");
        assert_eq!(p.read_code("123-456", false).unwrap(), "123456");
        assert!(p.read_code("12345", false).is_err());
        assert!(p.read_code("1234567", false).is_err());
        assert!(p.read_code("12a456", false).is_err());
        assert!(p.read_code("", false).unwrap_err().message.contains("Enter the code"));
        assert_eq!(p.read_code("1234", true).unwrap(), "1234");
        assert!(p.read_code("123", true).is_err());
    }

    #[test]
    fn sec_03_lifetime_is_five_minutes_by_default_and_never_passes_ten() {
        let p = CodePolicy {
            lifetime_secs: 3600,
            ..CodePolicy::default()
        };
        assert_eq!(p.lifetime(), 600);
        assert_eq!(CodePolicy::default().lifetime(), 300);
    }

    #[test]
    fn resend_waits_out_the_cooldown() {
        let p = CodePolicy::default();
        assert_eq!(p.resend_wait(1000, 1000), Some(30));
        assert_eq!(p.resend_wait(1000, 1029), Some(1));
        assert_eq!(p.resend_wait(1000, 1030), None);
    }

    #[test]
    fn sec_15_masks_show_only_the_last_two_digits() {
        assert_eq!(mask_phone("+15551234567"), "•••••••••67");
        assert!(!mask_phone("+447700900123").contains("7700"));
        assert_eq!(mask_phone("+1"), "1");
    }

    #[test]
    fn message_names_the_code_and_its_lifetime() {
        assert_eq!(
            message_text("042137", 300),
            "Your Tessera code is 042137. It expires in 5 minutes. Do not share it with anyone."
        );
    }
}
