//! One request as the services see it: the shared state and where the
//! request came from (for the audit log, budgets and throttles). It holds no
//! cookie session: the web edge keeps that, so the same services can serve
//! a token endpoint.

use crate::audit::{self, Event, Origin, Who};
use crate::errors::db;
use crate::notify::{self, Notice, Recipient};
use crate::state::AppState;
use crate::store::UserRow;
use sqlx::{PgConnection, PgPool};
use tessera::PortalError;
use tessera::policy::Policy;
use time::OffsetDateTime;

pub struct RequestContext {
    pub state: AppState,
    pub origin: Origin,
    /// The policy as this request first read it (one read per request).
    policy: tokio::sync::OnceCell<Policy>,
}

impl RequestContext {
    pub fn new(state: AppState, origin: Origin) -> Self {
        Self {
            state,
            origin,
            policy: tokio::sync::OnceCell::new(),
        }
    }

    /// The policy in force, read once per request: every step of a request
    /// applies the same policy, and a code check (which needs it three
    /// times) reads it once. A change applies from the next request.
    pub async fn policy(&self) -> Result<Policy, PortalError> {
        self.policy
            .get_or_try_init(|| async {
                crate::settings::policy(self.pool())
                    .await
                    .map(|(policy, _)| policy)
                    .map_err(db("reading the policy"))
            })
            .await
            .cloned()
    }

    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    pub fn now(&self) -> OffsetDateTime {
        self.state.clock.now()
    }

    /// The client's address (after the trusted proxies).
    pub fn ip(&self) -> &str {
        &self.origin.ip
    }

    /// Writes an audit event now (outside any transaction).
    pub async fn audit(&self, event: Event<'_>) -> Result<(), PortalError> {
        audit::record(self.pool(), self.now(), &self.origin, event)
            .await
            .map_err(db("writing an audit event"))
    }

    /// Writes an audit event inside a transaction.
    pub async fn audit_in(&self, tx: &mut PgConnection, event: Event<'_>) -> Result<(), PortalError> {
        audit::record(tx, self.now(), &self.origin, event)
            .await
            .map_err(db("writing an audit event"))
    }

    /// Tells the account's owner about a change, inside the change's
    /// transaction; [`notify::deliver`] the id after the commit.
    pub async fn notify_in(
        &self,
        tx: &mut PgConnection,
        user: &UserRow,
        notice: Notice<'_>,
    ) -> Result<notify::Queued, PortalError> {
        let to = Recipient {
            user_id: user.id,
            display_name: &user.display_name,
            email: user.email.as_deref(),
        };
        notify::queue(tx, &self.state, &to, notice, self.now(), &self.origin)
            .await
            .map_err(db("writing a notification"))
    }
}

/// The audit log's name for an account.
pub fn who(user: &UserRow) -> Who<'_> {
    Who {
        id: user.id,
        name: &user.username,
    }
}
