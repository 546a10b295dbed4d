//! Accounts: usernames, passwords, roles. "Parse, don't validate": a value of
//! these types has passed the rules.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};

pub const USERNAME_MAX_CHARS: usize = 64;
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Long passphrases are welcome; the cap only bounds hashing work (SECURITY.md 17).
pub const PASSWORD_MAX_CHARS: usize = 256;
pub const DISPLAY_NAME_MAX_CHARS: usize = 100;
pub const EMAIL_MAX_CHARS: usize = 254;

/// A username as typed, trimmed; unique case-insensitively through [`Username::key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(FieldError::new("username", "Enter a username."));
        }
        if name.chars().count() > USERNAME_MAX_CHARS {
            return Err(FieldError::new(
                "username",
                format!("A username has at most {USERNAME_MAX_CHARS} characters."),
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err(FieldError::new(
                "username",
                "A username may use letters, digits and . _ - @ only.",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness and look-ups use.
    pub fn key(&self) -> String {
        lookup_key(&self.0)
    }
}

/// The case-folded look-up key of any typed name (also for names that would
/// not parse, so that throttling covers them too).
pub fn lookup_key(input: &str) -> String {
    input.trim().to_lowercase()
}

/// A new password that meets the rules: length only, no composition rules,
/// never truncated (SECURITY.md 17).
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let n = input.chars().count();
        if n < PASSWORD_MIN_CHARS {
            return Err(FieldError::new(
                "password",
                format!("A password needs at least {PASSWORD_MIN_CHARS} characters."),
            ));
        }
        if n > PASSWORD_MAX_CHARS {
            return Err(FieldError::new(
                "password",
                format!("A password has at most {PASSWORD_MAX_CHARS} characters."),
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// An optional email address: a light shape check, the mailbox proves the rest.
pub fn parse_email(input: &str) -> Result<Option<String>, FieldError> {
    let email = input.trim();
    if email.is_empty() {
        return Ok(None);
    }
    let bad = || FieldError::new("email", "Enter an email address like name@example.org.");
    if email.chars().count() > EMAIL_MAX_CHARS || email.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') => {
            Ok(Some(email.to_owned()))
        }
        _ => Err(bad()),
    }
}

/// A display name: defaults to the username when left empty.
pub fn parse_display_name(input: &str, username: &Username) -> Result<String, FieldError> {
    let name = input.trim();
    if name.is_empty() {
        return Ok(username.as_str().to_owned());
    }
    if name.chars().count() > DISPLAY_NAME_MAX_CHARS {
        return Err(FieldError::new(
            "display_name",
            format!("A display name has at most {DISPLAY_NAME_MAX_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "display_name",
            "A display name cannot hold control characters.",
        ));
    }
    Ok(name.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_keyed_case_insensitively() {
        let u = Username::parse("  Alice.Example ").unwrap();
        assert_eq!(u.as_str(), "Alice.Example");
        assert_eq!(u.key(), "alice.example");
        assert_eq!(Username::parse("ÉLODIE").unwrap().key(), "élodie");
    }

    #[test]
    fn usernames_refuse_empty_long_and_odd_characters() {
        assert!(Username::parse("   ").is_err());
        assert!(Username::parse(&"a".repeat(USERNAME_MAX_CHARS)).is_ok());
        assert!(Username::parse(&"a".repeat(USERNAME_MAX_CHARS + 1)).is_err());
        assert!(Username::parse(&"x".repeat(10_000)).is_err());
        for bad in ["a b", "x';--", "<script>", "a\u{0}b", "bob\"", "a/b"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn sec_17_passwords_check_length_only_and_keep_every_character() {
        assert!(NewPassword::parse("1234567").is_err());
        assert!(NewPassword::parse("12345678").is_ok());
        let long = "pässwörd ".repeat(20);
        assert_eq!(NewPassword::parse(&long).unwrap().expose(), long);
        assert!(
            NewPassword::parse(&"é".repeat(256)).is_ok(),
            "256 characters, however many bytes"
        );
        assert!(NewPassword::parse(&"a".repeat(257)).is_err());
        assert_eq!(
            format!("{:?}", NewPassword::parse("secret-secret").unwrap()),
            "NewPassword(<redacted>)"
        );
    }

    #[test]
    fn emails_are_optional_but_shaped() {
        assert_eq!(parse_email("  ").unwrap(), None);
        assert_eq!(parse_email("a@b.org").unwrap().as_deref(), Some("a@b.org"));
        for bad in ["nobody", "@b.org", "a@b", "a b@c.org", "a@b@c.org"] {
            assert!(parse_email(bad).is_err(), "{bad:?} should be refused");
        }
        // At most 254 characters (RFC 5321's path limit).
        let at_most = format!("{}@example.org", "a".repeat(254 - "@example.org".len()));
        assert_eq!(parse_email(&at_most).unwrap().as_deref(), Some(at_most.as_str()));
        assert!(parse_email(&format!("a{at_most}")).is_err());
    }

    #[test]
    fn display_name_defaults_to_username() {
        let u = Username::parse("bob").unwrap();
        assert_eq!(parse_display_name("", &u).unwrap(), "bob");
        assert_eq!(parse_display_name(" Bob B ", &u).unwrap(), "Bob B");
        assert!(parse_display_name("a\u{7}", &u).is_err());
        assert!(parse_display_name(&"ü".repeat(100), &u).is_ok());
        assert!(parse_display_name(&"ü".repeat(101), &u).is_err());
    }

    #[test]
    fn roles_round_trip() {
        for r in [Role::User, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
