//! Each method's own forms: enrolling a phone, adding an app.

pub mod sms;
pub mod totp;
