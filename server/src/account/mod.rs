//! What a signed-in person manages beyond signing in: their credentials of
//! every method and the 2FA switch, their sessions, their password.

pub mod app_tokens;
pub mod credentials;
pub mod not_me;
pub mod password_change;
pub mod sessions;
