//! Account administration shared by the command line and start-up.

use crate::audit;
use crate::clock::Clock;
use crate::store::{self, CreateUserError, NewUser};
use anyhow::Context;
use sqlx::PgPool;
use tessera::account::{NewPassword, Role, Username, parse_display_name, parse_email};

pub struct AddUser<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
}

/// Validates and creates an account; every rule's message is returned as is.
pub async fn add_user(pool: &PgPool, clock: &dyn Clock, input: AddUser<'_>) -> anyhow::Result<uuid::Uuid> {
    let username = Username::parse(input.username).map_err(|e| anyhow::anyhow!(e.message))?;
    let password = NewPassword::parse(input.password).map_err(|e| anyhow::anyhow!(e.message))?;
    let email = parse_email(input.email).map_err(|e| anyhow::anyhow!(e.message))?;
    let display_name = parse_display_name(input.display_name, &username).map_err(|e| anyhow::anyhow!(e.message))?;
    let hash = crate::password::hash(password.expose().to_owned()).await?;
    let key = username.key();
    let user = NewUser {
        username: username.as_str(),
        username_key: &key,
        email: email.as_deref(),
        display_name: &display_name,
        role: input.role.as_str(),
        password_hash: &hash,
    };
    match store::create_user(pool, user, clock.now()).await {
        Ok(id) => Ok(id),
        Err(CreateUserError::Db(e)) => Err(e).context("creating the user"),
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

pub async fn set_password(pool: &PgPool, clock: &dyn Clock, username: &str, password: &str) -> anyhow::Result<()> {
    let password = NewPassword::parse(password).map_err(|e| anyhow::anyhow!(e.message))?;
    let hash = crate::password::hash(password.expose().to_owned()).await?;
    let key = tessera::account::lookup_key(username);
    let now = clock.now();
    let mut tx = pool.begin().await?;
    let changed: Option<(uuid::Uuid, String)> = sqlx::query_as(
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE username_key = $1 RETURNING id, username",
    )
    .bind(&key)
    .bind(&hash)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, name)) = changed else {
        anyhow::bail!("there is no user named {username:?}")
    };
    // As when the person changes it: every session ends and every token an
    // application holds is revoked (SECURITY.md 19, 48).
    let ended = crate::account::sessions::end_all_but(&mut *tx, id, None).await?;
    crate::account::app_tokens::revoke_for_user(&mut *tx, id, now).await?;
    // And no browser skips the second step on the old password's trust (41).
    let untrusted = sqlx::query("DELETE FROM trusted_browsers WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let origin = audit::Origin {
        ip: "command line".into(),
        user_agent: None,
    };
    let event = audit::Event::new(audit::PASSWORD_CHANGED)
        .subject(audit::Who { id, name: &name })
        .details(serde_json::json!({"by": "command line", "sessions_ended": ended, "browsers_forgotten": untrusted}));
    audit::record(&mut *tx, now, &origin, event).await?;
    tx.commit().await?;
    Ok(())
}

/// What `ensure_admin` did.
pub enum AdminBootstrap {
    /// An administrator existed already.
    Present,
    /// Created with the given username; the password is returned only when it
    /// was generated here (to be shown once).
    Created {
        username: String,
        generated_password: Option<String>,
    },
}

/// Creates the first administrator when there is none.
pub async fn ensure_admin(
    pool: &PgPool,
    clock: &dyn Clock,
    username: &str,
    password: Option<&str>,
) -> anyhow::Result<AdminBootstrap> {
    if store::admin_count(pool).await? > 0 {
        return Ok(AdminBootstrap::Present);
    }
    let generated = password.is_none().then(generate_password);
    let pw = password.or(generated.as_deref()).unwrap_or_default();
    add_user(
        pool,
        clock,
        AddUser {
            username,
            password: pw,
            email: "",
            display_name: "Administrator",
            role: Role::Admin,
        },
    )
    .await?;
    Ok(AdminBootstrap::Created {
        username: username.to_owned(),
        generated_password: generated,
    })
}

/// 20 characters from an unambiguous alphabet (about 116 bits).
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}
