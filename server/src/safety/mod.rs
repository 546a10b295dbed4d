//! What keeps an account safe beside its factors, shared by the sign-in
//! pipeline, the account pages and the console: browsers trusted to skip
//! the second step, and the self-service reset of two-factor sign-in for a
//! person who lost every factor. It uses only the layers below it (methods,
//! notifications, settings), so the sign-in service can reach it.

pub mod reset;
pub mod trusted_browsers;
