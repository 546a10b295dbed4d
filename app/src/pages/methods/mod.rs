//! Each method's own forms: enrolling a phone, adding an app, recovery codes.

pub mod passkey;
pub mod recovery;
pub mod sms;
pub mod totp;
