//! The errors a person can be shown. Internal details never travel in them.

use crate::method::MethodId;
use serde::{Deserialize, Serialize};

/// A message to show beside one form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Everything a request can fail with, in words fit for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PortalError {
    /// One or more fields are wrong; each message goes beside its field.
    #[error("Please correct the highlighted fields.")]
    Validation(Vec<FieldError>),
    /// Same words for an unknown user and a wrong password (SECURITY.md 18).
    #[error("Incorrect username or password.")]
    InvalidCredentials,
    #[error("Too many failed attempts. Try again in {}.", wait_words(*retry_after_secs))]
    Throttled { retry_after_secs: u64 },
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("You are not allowed to do that.")]
    Forbidden,
    /// Said only after a correct password, so it tells nothing to a guesser.
    #[error("This account is locked. Please contact your administrator.")]
    AccountLocked,
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Unavailable,
    /// What the request asked for is not there (or is not this person's).
    #[error("That was not found. It may have been removed already.")]
    NotFound,
    /// The action has a consequence the person must agree to first; the
    /// message says which. Sending it again with `confirm` goes ahead.
    #[error("{0}")]
    NeedsConfirmation(String),
    /// Someone else saved these settings after this person opened them.
    #[error(
        "Someone else changed these settings after you opened them. Reload the page to see their change, then make yours again."
    )]
    Conflict,
    /// A method cannot be used right now (its provider is down, timed out or
    /// misconfigured, or the method is off).
    #[error("{} temporarily unavailable. Please try again in a few minutes.", unavailable_subject(*.0))]
    MethodUnavailable(MethodId),
    /// A sensitive change needs a full sign-in within the last few minutes
    /// (SECURITY.md 24): the person confirms it is them, then comes back.
    #[error("For your security, confirm it's you: sign in again, then make this change.")]
    StepUpRequired,
    /// Too many messages or code checks: wait before the next one.
    #[error("Too many codes were requested. You can ask for another in {}.", wait_words(*retry_after_secs))]
    TooManyMessages { retry_after_secs: u64 },
}

impl PortalError {
    /// The message for one field, when this is a validation error naming it.
    pub fn field_message(&self, field: &str) -> Option<&str> {
        match self {
            PortalError::Validation(errors) => errors.iter().find(|e| e.field == field).map(|e| e.message.as_str()),
            _ => None,
        }
    }

    /// Seconds to wait before trying again, for a Retry-After header.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            PortalError::Throttled { retry_after_secs } | PortalError::TooManyMessages { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }

    /// The HTTP status that fits this error.
    pub fn status(&self) -> u16 {
        match self {
            PortalError::Validation(_) => 422,
            PortalError::InvalidCredentials | PortalError::Unauthorized => 401,
            PortalError::Throttled { .. } => 429,
            PortalError::Forbidden | PortalError::AccountLocked | PortalError::StepUpRequired => 403,
            PortalError::Unavailable | PortalError::MethodUnavailable(_) => 503,
            PortalError::NotFound => 404,
            PortalError::NeedsConfirmation(_) | PortalError::Conflict => 409,
            PortalError::TooManyMessages { .. } => 429,
        }
    }
}

/// The start of the sentence saying a method is out of service.
fn unavailable_subject(method: MethodId) -> &'static str {
    match method {
        MethodId::Sms => "SMS is",
        MethodId::Totp => "Signing in with an authenticator app is",
        MethodId::RecoveryCode => "Signing in with a recovery code is",
        MethodId::Passkey => "Signing in with a passkey is",
    }
}

/// "1 minute", "5 minutes", "30 seconds": for retry messages.
pub fn wait_words(secs: u64) -> String {
    if secs < 60 {
        let s = secs.max(1);
        format!("{s} second{}", if s == 1 { "" } else { "s" })
    } else {
        let m = secs.div_ceil(60);
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_message_rounds_up_to_minutes() {
        let e = PortalError::Throttled { retry_after_secs: 61 };
        assert_eq!(e.to_string(), "Too many failed attempts. Try again in 2 minutes.");
        assert_eq!(wait_words(0), "1 second");
        assert_eq!(wait_words(60), "1 minute");
    }

    #[test]
    fn field_message_finds_the_named_field_only() {
        let e = PortalError::Validation(vec![FieldError::new("username", "Enter your username.")]);
        assert_eq!(e.field_message("username"), Some("Enter your username."));
        assert_eq!(e.field_message("password"), None);
        assert_eq!(PortalError::Unavailable.field_message("username"), None);
    }
}
