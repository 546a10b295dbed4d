//! Internal failures: logged with what was being done, shown to the person
//! as [`PortalError::Unavailable`] (never the detail).

use tessera::PortalError;

/// Logs an internal failure and answers with words fit for the user.
pub fn internal(context: &'static str) -> impl FnOnce(anyhow::Error) -> PortalError {
    move |e| {
        tracing::error!(error = %format!("{e:#}"), "{context}");
        PortalError::Unavailable
    }
}

/// [`internal`] for a database error.
pub fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> PortalError {
    move |e| internal(context)(e.into())
}
