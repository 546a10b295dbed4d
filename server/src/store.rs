//! PostgreSQL access for accounts, credentials and sign-in throttling.

use sqlx::{FromRow, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub display_name: String,
    pub role: String,
    pub password_hash: String,
    pub two_factor_enabled: bool,
    pub created_at: OffsetDateTime,
    pub last_sign_in_at: Option<OffsetDateTime>,
    pub previous_sign_in_at: Option<OffsetDateTime>,
    pub preferred_credential_id: Option<Uuid>,
    pub locked_at: Option<OffsetDateTime>,
}

impl UserRow {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("password_hash", &"<redacted>")
            .finish_non_exhaustive()
    }
}

pub const USER_COLUMNS: &str = "id, username, email, display_name, role, password_hash, two_factor_enabled, created_at, last_sign_in_at, previous_sign_in_at, preferred_credential_id, locked_at";

pub async fn find_user_by_key(pool: &PgPool, key: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE username_key = $1"))
        .bind(key)
        .fetch_optional(pool)
        .await
}

pub async fn find_user(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A signed-in session's user, and whether the session's row in
/// `user_sessions` is still there (false when the session was ended from
/// elsewhere, or has no row), in one round trip: this runs on every request.
pub async fn find_session_user(
    pool: &PgPool,
    id: Uuid,
    session: Option<Uuid>,
) -> sqlx::Result<Option<(UserRow, bool)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        live: bool,
    }
    let row = sqlx::query_as::<_, Row>(&format!(
        "SELECT {USER_COLUMNS}, EXISTS (SELECT 1 FROM user_sessions s WHERE s.id = $2 AND s.user_id = users.id) AS live
         FROM users WHERE id = $1"
    ))
    .bind(id)
    .bind(session)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.user, r.live)))
}

pub async fn list_users(pool: &PgPool) -> sqlx::Result<Vec<UserRow>> {
    sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username_key"))
        .fetch_all(pool)
        .await
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub email: Option<&'a str>,
    pub display_name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("that username is taken")]
    UsernameTaken,
    #[error("that email address belongs to another account")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn create_user(pool: &PgPool, user: NewUser<'_>, now: OffsetDateTime) -> Result<Uuid, CreateUserError> {
    let id = Uuid::new_v4();
    let result = sqlx::query(
        "INSERT INTO users (id, username, username_key, email, display_name, role, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id)
    .bind(user.username)
    .bind(user.username_key)
    .bind(user.email)
    .bind(user.display_name)
    .bind(user.role)
    .bind(user.password_hash)
    .bind(now)
    .execute(pool)
    .await;
    match result {
        Ok(_) => Ok(id),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_username_key_unique") => {
            Err(CreateUserError::UsernameTaken)
        }
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_email_unique") => {
            Err(CreateUserError::EmailTaken)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn admin_count(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin'")
        .fetch_one(pool)
        .await
}

/// Records a completed sign-in: the last one becomes the previous one.
pub async fn record_sign_in(db: impl sqlx::PgExecutor<'_>, id: Uuid, now: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET previous_sign_in_at = last_sign_in_at, last_sign_in_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn credential_count(pool: &PgPool, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM credentials WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await
}

/// Failures inside the window: (count, oldest) for the account key and for the IP.
#[derive(Debug, FromRow)]
pub struct FailureCounts {
    pub account_count: i64,
    pub account_oldest: Option<OffsetDateTime>,
    pub ip_count: i64,
    pub ip_oldest: Option<OffsetDateTime>,
}

pub async fn failures_since(
    pool: &PgPool,
    account_key: &str,
    ip: &str,
    since: OffsetDateTime,
) -> sqlx::Result<FailureCounts> {
    sqlx::query_as::<_, FailureCounts>(
        "SELECT
           (SELECT count(*) FROM sign_in_failures WHERE account_key = $1 AND failed_at > $3) AS account_count,
           (SELECT min(failed_at) FROM sign_in_failures WHERE account_key = $1 AND failed_at > $3) AS account_oldest,
           (SELECT count(*) FROM sign_in_failures WHERE ip = $2 AND failed_at > $3) AS ip_count,
           (SELECT min(failed_at) FROM sign_in_failures WHERE ip = $2 AND failed_at > $3) AS ip_oldest",
    )
    .bind(account_key)
    .bind(ip)
    .bind(since)
    .fetch_one(pool)
    .await
}

pub async fn record_failure(pool: &PgPool, account_key: &str, ip: &str, now: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sign_in_failures (account_key, ip, failed_at) VALUES ($1, $2, $3)")
        .bind(account_key)
        .bind(ip)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// A correct password clears the account's failures (the IP's stay counted).
pub async fn clear_account_failures(pool: &PgPool, account_key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE account_key = $1")
        .bind(account_key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Drops failures older than any window can look at.
pub async fn prune_failures(pool: &PgPool, before: OffsetDateTime) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM sign_in_failures WHERE failed_at < $1")
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected())
}

/// Whether a signed-in session's row is still there (not signed out or
/// ended): what it issued is good only while it is (SECURITY.md 50).
pub async fn session_alive(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM user_sessions WHERE id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
}
