//! Tessera's domain: pure types and rules shared by the UI and the server.
//! No I/O here; everything builds for native and for wasm.

pub mod account;
pub mod acr;
pub mod error;
pub mod method;
pub mod otp;
pub mod policy;
pub mod recovery;
pub mod signin;
pub mod template;
pub mod totp;
pub mod twofactor;
pub mod views;

#[cfg(feature = "server")]
pub mod ports;

pub use error::{FieldError, PortalError};
